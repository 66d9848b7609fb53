"""Report pages: print (PDF) and export (CSV/XLSX) buttons lead here."""
from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")
