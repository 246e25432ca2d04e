"""tb-mini: 18 terminal tasks in the Terminal-Bench and Harbor folder formats."""
