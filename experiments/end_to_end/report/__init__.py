"""A run's report: plots and one self-contained HTML page, computed from its traces.

``run_data.py`` reads a run directory (attempt records from the traces, configs), ``plots.py``
draws the plots, ``page.py`` renders ``templates/report.html.j2`` and writes the files, and
``__main__.py`` is the command line. See docs/report.md.
"""
