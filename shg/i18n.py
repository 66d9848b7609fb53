"""The interface's translations: extracted from the code, kept in shg/translations/<lang>.

`flask translate update` refreshes the catalogues from the sources (microblog's cli), and the
compiled .mo files are made from the .po files when the app starts, so they never go stale.
"""
from __future__ import annotations

import os
import tempfile

import click
from flask import Blueprint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRANSLATIONS = os.path.join(ROOT, "shg", "translations")
bp = Blueprint("translate", __name__, cli_group="translate")


def compile_catalogues() -> None:
    """Write each messages.mo from its messages.po when the .po is newer."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    if not os.path.isdir(TRANSLATIONS):
        return
    for lang in os.listdir(TRANSLATIONS):
        folder = os.path.join(TRANSLATIONS, lang, "LC_MESSAGES")
        po, mo = os.path.join(folder, "messages.po"), os.path.join(folder, "messages.mo")
        if not os.path.exists(po):
            continue
        if os.path.exists(mo) and os.path.getmtime(mo) >= os.path.getmtime(po):
            continue
        with open(po, "rb") as fh:
            catalog = read_po(fh, locale=lang)
        fd, tmp = tempfile.mkstemp(dir=folder, suffix=".mo")
        with os.fdopen(fd, "wb") as fh:
            write_mo(fh, catalog)
        os.replace(tmp, mo)  # atomic: parallel test workers never read half a file


def extract():
    """The catalogue of every message in the sources, as Babel extracts it."""
    from babel.messages.frontend import CommandLineInterface
    pot = os.path.join(tempfile.mkdtemp(), "messages.pot")
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", os.path.join(ROOT, "babel.cfg"),
                                "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output",
                                "-o", pot, ROOT])
    return pot


@bp.cli.command("update")
def update():
    """Extract messages and merge them into every catalogue."""
    from babel.messages.frontend import CommandLineInterface
    pot = extract()
    CommandLineInterface().run(["pybabel", "-q", "update", "-i", pot, "-d", TRANSLATIONS,
                                "--no-fuzzy-matching", "--ignore-obsolete"])
    click.echo("Catalogues updated; translate the new entries, then restart the app.")


@bp.cli.command("init")
@click.argument("lang")
def init(lang):
    """Start a catalogue for a new language."""
    from babel.messages.frontend import CommandLineInterface
    CommandLineInterface().run(["pybabel", "init", "-i", extract(), "-d", TRANSLATIONS, "-l", lang])
