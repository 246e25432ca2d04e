#!/bin/bash
set -euo pipefail
cd /app/payments-service

# 1. Find the leaked values anywhere in the history of all refs.
STRIPE=$(git log --all -p | grep -o 'sk_live_[A-Za-z0-9]*' | sort -u | head -1)
DBPASS=$(git log --all -p | sed -n 's/^+DB_PASSWORD=//p' | head -1)
STRIPE="$STRIPE" DBPASS="$DBPASS" python3 -c '
import json, os
json.dump({"stripe_key": os.environ["STRIPE"], "db_password": os.environ["DBPASS"]},
          open("/app/leaks.json", "w"), indent=2)'

# 2. Rewrite every commit's tree, replacing both values (tags are rewritten too).
printf '%s\n%s\n' "$STRIPE" "$DBPASS" > /tmp/secrets.txt
cat > /tmp/scrub.py <<'PY'
import os
secrets = [s.encode() for s in open("/tmp/secrets.txt").read().splitlines() if s]
for root, dirs, files in os.walk("."):
    dirs[:] = [d for d in dirs if d != ".git"]
    for name in files:
        path = os.path.join(root, name)
        if os.path.islink(path):
            continue
        data = open(path, "rb").read()
        new = data
        for s in secrets:
            new = new.replace(s, b"***REMOVED***")
        if new != data:
            open(path, "wb").write(new)
PY
export FILTER_BRANCH_SQUELCH_WARNING=1
git filter-branch -f --tree-filter 'python3 /tmp/scrub.py' --tag-name-filter cat -- --all

# 3. Drop the backups and reflogs, then purge unreachable objects.
git for-each-ref --format='%(refname)' refs/original/ | while read -r ref; do git update-ref -d "$ref"; done
git reflog expire --expire=now --all
git gc -q --prune=now --aggressive
rm -f .git/ORIG_HEAD .git/FETCH_HEAD
rm -rf .git/refs/original .git/logs
git checkout -q main
git status --short
rm -f /tmp/secrets.txt /tmp/scrub.py
