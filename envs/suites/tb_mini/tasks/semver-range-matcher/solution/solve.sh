#!/bin/bash
set -euo pipefail
here="$(dirname "$0")"
cp "$here/semver.py" /app/semverlib/semverlib/semver.py
cp "$here/__main__.py" /app/semverlib/semverlib/__main__.py
cd /app/semverlib && python3 -m semverlib '^1.2.3' 1.2.3 1.9.0 2.0.0
