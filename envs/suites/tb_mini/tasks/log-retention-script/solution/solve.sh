#!/bin/bash
set -euo pipefail
cat > /usr/local/bin/rotate-app-logs <<'PY'
#!/usr/bin/env python3
"""Apply the log retention policy (see /etc/app-logs/retention.conf)."""
import gzip
import os
import re
import shutil
import sys
import time

KEYS = ("LOG_DIR", "COMPRESS_AFTER_DAYS", "DELETE_AFTER_DAYS", "MAX_TOTAL_KB")
DAY = 86400


def fail(msg):
    print(f"rotate-app-logs: {msg}", file=sys.stderr)
    sys.exit(1)


def load(path):
    conf = {}
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("#") or "=" not in line:
                    continue
                key, value = line.split("=", 1)
                conf[key.strip()] = value.strip().strip('"').strip("'")
    except OSError as exc:
        fail(f"cannot read {path}: {exc}")
    missing = [k for k in KEYS if k not in conf]
    if missing:
        fail(f"{path}: missing {', '.join(missing)}")
    try:
        numbers = [float(conf[k]) for k in KEYS[1:]]
    except ValueError:
        fail(f"{path}: non-numeric value")
    if not os.path.isdir(conf["LOG_DIR"]) or os.path.islink(conf["LOG_DIR"]):
        fail(f"LOG_DIR {conf['LOG_DIR']} is not a directory")
    return conf["LOG_DIR"], *numbers


def regular_files(root):
    for dirpath, dirnames, filenames in os.walk(root):  # os.walk does not follow dir symlinks
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.isfile(path) and not os.path.islink(path):
                yield path


def main():
    log_dir, compress_days, delete_days, max_kb = load(
        os.environ.get("RETENTION_CONF", "/etc/app-logs/retention.conf"))
    now = time.time()
    for path in sorted(regular_files(log_dir)):
        if re.search(r"\.log(\.\d+)?$", path) and now - os.lstat(path).st_mtime > compress_days * DAY:
            st = os.lstat(path)
            with open(path, "rb") as src, gzip.open(path + ".gz.tmp", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.utime(path + ".gz.tmp", (st.st_atime, st.st_mtime))
            os.replace(path + ".gz.tmp", path + ".gz")
            os.unlink(path)
            print(f"compressed {path}")
    for path in sorted(regular_files(log_dir)):
        if path.endswith(".gz") and now - os.lstat(path).st_mtime > delete_days * DAY:
            os.unlink(path)
            print(f"deleted {path}")
    total = sum(os.lstat(p).st_size for p in regular_files(log_dir))
    archives = sorted((os.lstat(p).st_mtime, p) for p in regular_files(log_dir) if p.endswith(".gz"))
    for _, path in archives:
        if total <= max_kb * 1024:
            break
        total -= os.lstat(path).st_size
        os.unlink(path)
        print(f"deleted {path}")


if __name__ == "__main__":
    main()
PY
chmod 0755 /usr/local/bin/rotate-app-logs

mkdir -p /etc/cron.d
cat > /etc/cron.d/app-logs <<'CRON'
# Log retention for /var/log/app (policy: /etc/app-logs/retention.conf)
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
17 3 * * * root /usr/local/bin/rotate-app-logs
CRON
chmod 0644 /etc/cron.d/app-logs

chown -R app:app /var/log/app
chmod 0750 /var/log/app
/usr/local/bin/rotate-app-logs
