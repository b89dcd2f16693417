"""Reports: leaderboards, paper tables, plots, grids and HTML.

Entry point: :func:`wetok_bench.report.build.build_report`; the runner saves grids with
:func:`wetok_bench.report.grids.save_grid`.
"""
