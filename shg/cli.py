"""Commands for the whole ledger: `flask demo-data`."""
import click
from flask import Blueprint

bp = Blueprint("shg_cli", __name__, cli_group=None)
