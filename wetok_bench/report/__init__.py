"""Reports: leaderboards, paper tables, plots, grids and HTML."""
