"""`flask reports …`: the project office's batch printing."""
from flask import Blueprint

bp = Blueprint("reports_cli", __name__, cli_group="reports")
