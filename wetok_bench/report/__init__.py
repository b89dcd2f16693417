"""Reports: leaderboards, paper tables, plots, grids and HTML from results folders.

Entry point: :func:`wetok_bench.report.build.build_report`.
"""
