"""`flask import …`: importing a spreadsheet from the command line."""
from flask import Blueprint

bp = Blueprint("imports_cli", __name__, cli_group="import")
