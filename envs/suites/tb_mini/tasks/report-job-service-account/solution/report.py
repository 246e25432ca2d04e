"""Nightly report: totals per region in $REPORT_CURRENCY, as a tabulate table."""
import csv
import json
import os
from collections import defaultdict

from tabulate import tabulate

currency = os.environ["REPORT_CURRENCY"]
rates = json.load(open("data/rates.json"))
totals = defaultdict(float)
with open("data/sales.csv", newline="") as f:
    for row in csv.DictReader(f):
        totals[row["region"]] += float(row["amount"]) * rates[row["currency"]][currency]
rows = [[region, round(total, 2)] for region, total in sorted(totals.items())]
table = tabulate(rows, headers=["region", f"total_{currency}"], tablefmt=os.environ["REPORT_FORMAT"], floatfmt=".2f")
os.makedirs("out", exist_ok=True)
with open("out/summary.txt", "w") as f:
    f.write(table + "\n")
os.chmod("out/summary.txt", 0o644)
with open("/var/log/report-job/run.log", "a") as log:
    log.write(f"report ok {currency}\n")
