#!/bin/bash
# Verifier entrypoint: runs as the auditor account (task.toml: verifier.user) and writes the
# reward, 1 when every check passes and 0 otherwise, to /logs/verifier/reward.txt.

python3 -m pytest -p no:cacheprovider /tests/test_outputs.py -rA

if [ $? -eq 0 ]; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
