"""tb-mini: 14 offline terminal tasks in the Terminal-Bench and Harbor folder formats."""
