"""Entry point for gunicorn: ``gunicorn -w 2 -b 0.0.0.0:8000 wsgi:app``."""
from shg import create_app

app = create_app()
