"""`flask backup`, `flask ledger export|restore`: getting everything out safely."""
from flask import Blueprint

bp = Blueprint("backup_cli", __name__, cli_group=None)
