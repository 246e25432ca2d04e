#!/bin/bash
set -euo pipefail
mkdir -p /app/out
cat > /tmp/consolidate.py <<'PY'
import csv
import io
import json
import re
from collections import defaultdict
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

EXP = Path("/app/exports")
manifest = json.loads((EXP / "manifest.json").read_text())
fx = {k: Decimal(str(v)) for k, v in json.loads((EXP / "fx_to_usd.json").read_text()).items()}
canon = {c.strip().lower(): c.strip() for c in (EXP / "categories.txt").read_text(encoding="utf-8").splitlines() if c.strip()}


def decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        return raw[3:].decode("utf-8")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_date(s: str):
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%d.%m.%Y"):
        try:
            return datetime.strptime(s.strip(), fmt).date()
        except ValueError:
            pass
    raise ValueError(s)


def parse_price(s: str):
    s = re.sub(r"[^0-9.,-]", "", s)
    if not s:
        return None
    if "," in s and ("." not in s or s.rfind(",") > s.rfind(".")):
        s = s.replace(".", "").replace(",", ".")      # 1.234,56
    else:
        s = s.replace(",", "")                        # 1,234.56
    return Decimal(s)


seen = set()
groups = defaultdict(lambda: [set(), Decimal(0)])
rows_read = rejected = dups = 0
total = Decimal(0)
for entry in manifest:
    text = decode((EXP / entry["file"]).read_bytes())
    lines = [ln for ln in text.splitlines() if ln.strip()]
    dialect = csv.Sniffer().sniff(lines[0], delimiters=",;\t")
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=dialect.delimiter)
    next(reader)
    for row in reader:
        rows_read += 1
        oid, day, cat, qty, price = (c.strip() for c in row[:5])
        price_d = parse_price(price)
        if not re.fullmatch(r"-?\d+", qty) or price_d is None:
            rejected += 1
            continue
        if oid in seen:
            dups += 1
            continue
        seen.add(oid)
        value = int(qty) * price_d * fx[entry["currency"]]
        key = (parse_date(day).strftime("%Y-%m"), entry["region"], canon[cat.lower()])
        groups[key][0].add(oid)
        groups[key][1] += value
        total += value

cent = Decimal("0.01")
with open("/app/out/monthly_revenue.csv", "w", encoding="utf-8", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["month", "region", "category", "orders", "revenue_usd"])
    for key in sorted(groups):
        ids, rev = groups[key]
        w.writerow([*key, len(ids), str(rev.quantize(cent, ROUND_HALF_UP))])
report = {"rows_read": rows_read, "rows_rejected": rejected, "duplicates_removed": dups,
          "total_revenue_usd": float(total.quantize(cent, ROUND_HALF_UP))}
Path("/app/out/report.json").write_text(json.dumps(report, indent=2) + "\n")
print(report)
PY
python3 /tmp/consolidate.py
