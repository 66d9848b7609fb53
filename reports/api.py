"""Reports through the API (PDF and CSV/XLSX downloads)."""
