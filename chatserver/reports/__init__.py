"""The reports' numbers: the query a report asks (`reports_query`), the facts read from the
event log on a read-only connection (`reports_facts`), per-day aggregation, the view as plain
data, CSV exports, SVG charts and the staffing advice.

The page and its routes live in `web` (`web/reports.py`, `web/reports_page.py`). Imports:
`core`, the top-level config and the standard library (the read-only connection comes from the
web layer, on either store backend);
never `store`, `service`, `cluster` or `web`. Only `reports_facts` opens the database.
"""
