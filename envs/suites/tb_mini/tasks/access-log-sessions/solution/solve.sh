#!/bin/bash
set -euo pipefail
python3 "$(dirname "$0")/sessionize.py" /app/logs /app/report
