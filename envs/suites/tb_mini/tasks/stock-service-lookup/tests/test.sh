#!/bin/bash
# Verifier entrypoint: reward 1 when every check passes, 0 otherwise, in /logs/verifier/reward.txt.

python3 -m pytest -p no:cacheprovider /tests/test_outputs.py -rA

if [ $? -eq 0 ]; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
