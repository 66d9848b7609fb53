"""The import page and the command: upload, dry-run report, confirm, streamed progress,
templates to download, access by role and district, and no server error on any file."""
from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from shg.extensions import db
from shg.registry.models import Member
from tests.imports.conftest import csv_bytes
from tests.imports.test_kinds import MEMBERS_RU
from tests.imports.test_refusals import BAD_MEMBERS, GARBAGE


@pytest.fixture
def importing(app, tmp_path):
    app.config["IMPORT_FOLDER"] = str(tmp_path / "imports")
    return app


def upload(client, data: bytes, kind="members", name="members.csv"):
    response = client.post("/import/", data={"kind": kind, "file": (io.BytesIO(data), name)},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response.headers["Location"]


def members():
    return db.session.scalar(select(func.count(Member.id)))


def test_page_flow_check_then_import_then_nothing_twice(importing, client, auth, world):
    auth.login(world.facilitator)
    page = upload(client, csv_bytes(MEMBERS_RU))
    shown = client.get(page).get_data(as_text=True)
    assert "Check the file" in shown and "members.csv" in shown
    # the import is refused before a clean check
    client.post(page + "/run")
    assert members() == 0
    response = client.post(page + "/check")
    assert response.status_code == 302
    shown = client.get(page).get_data(as_text=True)
    assert 'id="import-button"' in shown and members() == 0
    client.post(page + "/run")
    shown = client.get(page).get_data(as_text=True)
    assert 'id="import-result"' in shown and "alert-success" in shown
    assert members() == 3
    # the same file again: every row already there
    again = upload(client, csv_bytes(MEMBERS_RU))
    client.post(again + "/check")
    client.post(again + "/run")
    assert members() == 3
    assert "3 rows were already there" in client.get(again).get_data(as_text=True)


def test_progress_is_streamed_to_the_pages_script(importing, client, auth, world):
    auth.login(world.admin)
    page = upload(client, csv_bytes(MEMBERS_RU))
    response = client.post(page + "/check", headers={"X-Import-Progress": "1"}, buffered=True)
    assert response.mimetype == "application/x-ndjson"
    messages = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert messages[0] == {"done": 0, "total": 3}
    assert messages[-2] == {"done": 3, "total": 3}
    assert messages[-1] == {"next": page}
    response = client.post(page + "/run", headers={"X-Import-Progress": "1"}, buffered=True)
    assert json.loads(response.get_data(as_text=True).splitlines()[-1]) == {"next": page}
    assert members() == 3
    assert client.get("/static/imports.js").status_code == 200


def test_the_dry_run_report_is_shown_and_downloadable_in_her_language(importing, client, auth,
                                                                      world):
    auth.login(world.officer)  # reads Russian
    page = upload(client, csv_bytes(BAD_MEMBERS))
    client.post(page + "/check")
    shown = client.get(page).get_data(as_text=True)
    assert 'id="problems"' in shown and "Нет села «Нет-Такого»." in shown
    assert 'id="import-button"' not in shown
    report = client.get(page + "/report.csv")
    assert report.mimetype == "text/csv"
    lines = report.get_data().decode("utf-8-sig").splitlines()
    assert lines[0] == "Строка;Столбец;Ячейка;Причина"
    assert "4;Село;Нет-Такого;Нет села «Нет-Такого»." in lines
    assert members() == 0


@pytest.mark.parametrize("kind", ["villages", "members", "loans"])
@pytest.mark.parametrize("fmt,lang", [("csv", "en"), ("xlsx", "ru")])
def test_templates_have_the_headers_the_import_reads(importing, client, auth, world, kind, fmt,
                                                     lang):
    from shg.imports.kinds import KINDS
    auth.login(world.admin)
    response = client.get(f"/import/templates/{kind}.{fmt}?lang={lang}")
    assert response.status_code == 200
    expected = [c.ru if lang == "ru" else c.en for c in KINDS[kind].columns]
    if fmt == "csv":
        first = response.get_data().decode("utf-8-sig").splitlines()[0]
        assert first.split(",") == expected
    else:
        book = load_workbook(io.BytesIO(response.get_data()))
        assert [c.value for c in book.worksheets[0][1]] == expected
        assert book.worksheets[1].max_row == len(expected) + 1


def test_who_may_import_what(importing, client, auth, world, create_user):
    viewer = create_user("viewer")
    db.session.commit()
    auth.login(viewer)
    assert client.get("/import/").status_code == 403
    assert client.get("/import/templates/members.csv").status_code == 403
    auth.logout()
    auth.login(world.facilitator)
    page = client.get("/import/").get_data(as_text=True)
    assert 'value="members"' in page and 'value="villages"' not in page
    assert 'value="loans"' not in page and 'value="repayments"' in page
    # a facilitator's file with a village of another district is refused, whole
    rows = [MEMBERS_RU[0], ["Кара-Жыгач", "Асановы", "Ынтымак", "Бакыт", "м", "", "", "", "", "",
                            ""]]
    page = upload(client, csv_bytes(rows))
    client.post(page + "/check")
    assert 'id="problems"' in client.get(page).get_data(as_text=True)
    # another user's upload is not hers to see
    auth.logout()
    auth.login(world.officer)
    assert client.get(page).status_code == 404
    assert client.post(page + "/run").status_code == 404
    assert client.get("/import/not-a-token").status_code == 404


@pytest.mark.parametrize("name", ["binary", "empty", "png", "wrong columns", "unclosed quote"])
def test_no_server_error_on_garbage_files(importing, client, auth, world, name):
    auth.login(world.admin)
    data = GARBAGE[name]
    response = client.post("/import/", data={"kind": "members",
                                             "file": (io.BytesIO(data), "x.csv")},
                           content_type="multipart/form-data")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        page = response.headers["Location"]
        assert client.post(page + "/check").status_code == 302
        shown = client.get(page)
        assert shown.status_code == 200 and 'id="problems"' in shown.get_data(as_text=True)
        assert client.post(page + "/run").status_code == 302
    assert members() == 0
    bad_kind = client.post("/import/", data={"kind": "nonsense",
                                             "file": (io.BytesIO(b"a,b\n1,2"), "x.csv")},
                           content_type="multipart/form-data")
    assert bad_kind.status_code == 200
    assert client.get("/import/templates/nonsense.csv").status_code == 404


def test_the_command_checks_then_imports_as_a_user(importing, runner, world, tmp_path):
    path = tmp_path / "members.csv"
    path.write_bytes(csv_bytes(MEMBERS_RU, "cp1251"))
    result = runner.invoke(args=["import", "run", "members", str(path), "--dry-run",
                                 "--user", "fac"])
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output and members() == 0
    result = runner.invoke(args=["import", "run", "members", str(path), "--user", "fac"])
    assert result.exit_code == 0 and "Imported." in result.output
    assert members() == 3
    result = runner.invoke(args=["import", "run", "members", str(path)])
    assert result.exit_code == 0 and "3 already there" in result.output
    assert members() == 3


def test_the_command_reports_bad_rows_and_writes_nothing(importing, runner, world, tmp_path):
    path, report = tmp_path / "bad.csv", tmp_path / "report.csv"
    path.write_bytes(csv_bytes(BAD_MEMBERS))
    result = runner.invoke(args=["import", "run", "members", str(path), "--user", "officer",
                                 "--report", str(report)])
    assert result.exit_code == 1
    assert "line 4, Село (Нет-Такого): Нет села «Нет-Такого»." in result.output
    assert "Nothing was imported." in result.output and members() == 0
    assert "4;Село;Нет-Такого;" in report.read_bytes().decode("utf-8-sig")
    template = tmp_path / "t.xlsx"
    result = runner.invoke(args=["import", "template", "members", str(template), "--lang", "ru"])
    assert result.exit_code == 0 and template.stat().st_size > 0
    result = runner.invoke(args=["import", "run", "members", str(path), "--user", "nobody"])
    assert result.exit_code != 0 and members() == 0
