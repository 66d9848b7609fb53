"""Reports the project office prints: PDF summaries and documents, CSV/XLSX exports.

Every figure here comes from the functions the pages and the API use (registry services,
loans.portfolio/credit/services, harvests.figures): no second calculation in report code.
"""
