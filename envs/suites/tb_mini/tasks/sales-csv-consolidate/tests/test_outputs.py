"""Checks for sales-csv-consolidate: the consolidated monthly table and the run report."""

import csv
import hashlib
import json
from pathlib import Path

HERE = Path(__file__).parent
OUT = Path("/app/out")


def _expected_rows():
    with open(HERE / "expected_monthly_revenue.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _actual_rows():
    path = OUT / "monthly_revenue.csv"
    assert path.is_file(), "missing /app/out/monthly_revenue.csv"
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if r]
    assert header == ["month", "region", "category", "orders", "revenue_usd"], header
    return [dict(zip(header, r, strict=False)) for r in rows]


def test_inputs_untouched():
    """The raw exports must be left exactly as shipped."""
    expected = json.loads((HERE / "input_sha256.json").read_text())
    for name, digest in expected.items():
        data = (Path("/app/exports") / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest, f"{name} was modified"


def test_groups_and_order():
    """Exactly the expected (month, region, category) groups, sorted as required."""
    actual = [(r["month"], r["region"], r["category"]) for r in _actual_rows()]
    expected = [(r["month"], r["region"], r["category"]) for r in _expected_rows()]
    assert actual == expected


def test_order_counts():
    """Distinct order counts per group (catches missed de-duplication and rejects)."""
    actual = {(r["month"], r["region"], r["category"]): int(r["orders"]) for r in _actual_rows()}
    expected = {(r["month"], r["region"], r["category"]): int(r["orders"]) for r in _expected_rows()}
    assert actual == expected


def test_revenue():
    """Revenue per group in USD within one cent (number formats, currencies, returns)."""
    actual = {(r["month"], r["region"], r["category"]): float(r["revenue_usd"]) for r in _actual_rows()}
    for r in _expected_rows():
        key = (r["month"], r["region"], r["category"])
        assert key in actual, key
        assert abs(actual[key] - float(r["revenue_usd"])) <= 0.011, (key, actual[key], r["revenue_usd"])


def test_report():
    """The run report counts rows, rejects and duplicates, and the grand total."""
    path = OUT / "report.json"
    assert path.is_file(), "missing /app/out/report.json"
    report = json.loads(path.read_text())
    expected = json.loads((HERE / "expected_report.json").read_text())
    for key in ("rows_read", "rows_rejected", "duplicates_removed"):
        assert report.get(key) == expected[key], (key, report.get(key), expected[key])
    assert abs(float(report["total_revenue_usd"]) - expected["total_revenue_usd"]) <= 0.011
