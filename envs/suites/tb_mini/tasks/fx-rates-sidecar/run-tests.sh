#!/bin/bash
# Runs the task's tests; the harness copies tests/ to $TEST_DIR (default /tests) at grading time.
# pytest ships in the image and grading runs without network access.

TEST_DIR="${TEST_DIR:-/tests}"
python3 -m pytest -p no:cacheprovider "$TEST_DIR/test_outputs.py" -rA
