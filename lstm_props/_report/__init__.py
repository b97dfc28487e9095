"""The report (private): ``--report PATH``'s self-contained HTML, its figures and SVG."""
