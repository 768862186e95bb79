"""Reports: compute a plain data object, then render it (terminal table, JSON, HTML with charts).

What lives where:

- ``tables.py``: rows and cells shared by the CLI's tables, its JSON and the dashboard (one
  number format);
- ``render.py``: self-contained HTML pages (Jinja2 templates, Plotly bundled) and column summaries;
- ``data_report.py``: one chart per column of one or more profiles;
- ``run_report.py`` + ``run_charts.py``: the training report (leaderboard, error analysis);
- ``model_card.py``: what a model is for, what it was trained on, how good it is, where it fails;
- ``monitor_report.py`` + ``monitor_charts.py``: every window metric over time, with thresholds
  and the alerts fired.
"""
