#!/bin/bash
# Runs in the agent's own shell (run_tests_in_same_shell): its environment, umask and cwd.
# pytest ships in the image; nothing is installed.

TEST_DIR="${TEST_DIR:-/tests}"
python3 -m pytest -p no:cacheprovider "$TEST_DIR/test_outputs.py" -rA
