"""/app/stock.json must hold what the inventory service says for each listed SKU."""
import json
from pathlib import Path

EXPECTED = {"A-100": 12, "B-220": 0, "C-310": 7, "Z-999": None, "D-404": 31}


def test_every_listed_sku_is_recorded():
    stock = json.loads(Path("/app/stock.json").read_text())
    assert set(stock) == set(EXPECTED)


def test_quantities_match_the_service():
    stock = json.loads(Path("/app/stock.json").read_text())
    assert stock == EXPECTED
