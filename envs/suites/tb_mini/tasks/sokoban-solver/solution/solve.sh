#!/bin/bash
set -euo pipefail
cp "$(dirname "$0")/sokoban.py" /app/sokoban.py
mkdir -p /app/solutions
for level in /app/levels/*.txt; do
    python3 /app/sokoban.py "$level" > "/app/solutions/$(basename "$level")"
done
head /app/solutions/*.txt
