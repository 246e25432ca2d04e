#!/bin/bash
set -euo pipefail
python3 - <<'PY'
import json, os, urllib.error, urllib.request

stock = {}
for sku in open("/app/skus.txt").read().split():
    try:
        with urllib.request.urlopen(f"{os.environ['INVENTORY_URL']}/stock?sku={sku}", timeout=10) as r:
            stock[sku] = json.load(r)["qty"]
    except urllib.error.HTTPError as exc:
        if exc.code != 404:
            raise
        stock[sku] = None
json.dump(stock, open("/app/stock.json", "w"), indent=2)
PY
