#!/bin/bash
# Verifier entrypoint: runs the checks offline (pytest ships in the image) and writes the
# reward, 1 when every check passes and 0 otherwise, to /logs/verifier/reward.txt.

mkdir -p /logs/verifier

python3 -m pytest -p no:cacheprovider /tests/test_outputs.py -rA

if [ $? -eq 0 ]; then
  echo 1 > /logs/verifier/reward.txt
else
  echo 0 > /logs/verifier/reward.txt
fi
