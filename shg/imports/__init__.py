"""Bringing existing records in from CSV and XLSX spreadsheets."""
