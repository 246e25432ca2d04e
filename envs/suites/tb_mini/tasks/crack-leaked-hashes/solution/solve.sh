#!/bin/bash
set -euo pipefail
cat > /tmp/crack.py <<'PY'
import csv
import hashlib
import json
from pathlib import Path

INC = Path("/app/incident")
with open(INC / "users_dump.csv", newline="") as f:
    users = {r["username"]: r["password_hash"].strip() for r in csv.DictReader(f)}


def scheme(h):
    if h.startswith("$pbkdf2-sha256$"):
        return "pbkdf2_sha256"
    return {32: "md5", 40: "sha1", 64: "sha256"}[len(h)]


targets = {}  # (algo, hexdigest) -> [usernames]
for user, h in users.items():
    algo = scheme(h)
    if algo != "pbkdf2_sha256":
        targets.setdefault((algo, h.lower()), []).append(user)
algos = sorted({a for a, _ in targets})
suffixes = [""] + [str(d) for d in range(10)] + [f"{d:02d}" for d in range(100)] + ["!"]
cracked = {}
for word in (INC / "wordlist.txt").read_text().split():
    for base in {word, word.capitalize()}:
        for suffix in suffixes:
            cand = (base + suffix).encode()
            for algo in algos:
                hit = targets.get((algo, hashlib.new(algo, cand).hexdigest()))
                if hit:
                    for user in hit:
                        cracked[user] = cand.decode()

with open(INC / "cracked.csv", "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["username", "password"])
    w.writerows(sorted(cracked.items()))
unsalted = sorted(u for u, h in users.items() if scheme(h) != "pbkdf2_sha256")
(INC / "force_reset.txt").write_text("\n".join(unsalted) + "\n")
counts = {k: 0 for k in ("md5", "sha1", "sha256", "pbkdf2_sha256")}
for h in users.values():
    counts[scheme(h)] += 1
report = {"cracked": len(cracked), "uncracked": sorted(set(users) - set(cracked)), "algorithms": counts}
(INC / "report.json").write_text(json.dumps(report, indent=2) + "\n")
print(report)
PY
python3 /tmp/crack.py
