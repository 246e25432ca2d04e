#!/bin/bash
# Runs as the service account in the job's directory (task.toml: agent.user, workdir).
set -euo pipefail
python3 "$(dirname "$0")/report.py"
