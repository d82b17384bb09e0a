"""Explore proof attempts: a Dash web app and a self-contained HTML export.

``view.py`` turns one trace into what both front ends draw (graph elements, details, replay
steps); ``overlays.py`` holds the search-specific hooks; ``runs.py`` indexes a run directory;
``app.py`` is the Dash app and ``export.py`` the single-file HTML. Run it with
``python -m experiments.end_to_end.visualise <run_dir> [--port 8050 | --html out.html]``.
"""
