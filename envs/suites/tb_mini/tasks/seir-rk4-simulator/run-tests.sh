#!/bin/bash
# Runs the task's tests; the harness copies tests/ to $TEST_DIR (default /tests) at grading time.
# Unlike upstream Terminal-Bench tasks this script installs nothing: pytest ships in the image
# and grading runs without network access.

TEST_DIR="${TEST_DIR:-/tests}"

if [ "$PWD" = "/" ]; then
    echo "Error: No working directory set. Please set a WORKDIR in your Dockerfile before running this script."
    exit 1
fi

python3 -m pytest -p no:cacheprovider "$TEST_DIR/test_outputs.py" -rA
