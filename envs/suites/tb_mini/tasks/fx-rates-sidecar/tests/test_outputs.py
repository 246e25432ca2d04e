"""invoices_usd.csv holds each invoice in USD at the FX service's rate of its date."""
import csv
from pathlib import Path

OUT = Path("/app/data/invoices_usd.csv")
EXPECTED = [
    ["INV-1", "108.00"],
    ["INV-2", "250.50"],
    ["INV-3", "6.70"],
    ["INV-4", "87.47"],
    ["INV-5", ""],
    ["INV-6", "50.40"],
]


def test_header_and_order():
    rows = list(csv.reader(OUT.open(newline="")))
    assert rows[0] == ["invoice", "amount_usd"]
    assert [r[0] for r in rows[1:]] == [e[0] for e in EXPECTED]


def test_amounts_at_the_dated_rate():
    rows = list(csv.reader(OUT.open(newline="")))
    assert rows[1:] == EXPECTED
