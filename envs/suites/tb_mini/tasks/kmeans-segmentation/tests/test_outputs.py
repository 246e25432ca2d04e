"""Checks for kmeans-segmentation: chosen k, agreement with the true segments, consistency."""

import csv
import json
import math
from collections import Counter
from pathlib import Path

import pytest

HERE = Path(__file__).parent
OUT = Path("/app/output")
FEATURES = ["annual_spend", "visits_per_month", "avg_basket", "days_since_last_order"]


@pytest.fixture(scope="module")
def data():
    with open("/app/data/customers.csv", newline="") as f:
        rows = {r["customer_id"]: [float(r[c]) for c in FEATURES] for r in csv.DictReader(f)}
    with open(OUT / "assignments.csv", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["customer_id", "cluster"]
        labels = {cid: int(c) for cid, c in (r for r in reader if r)}
    with open(HERE / "true_segments.csv", newline="") as f:
        truth = {r["customer_id"]: int(r["segment"]) for r in csv.DictReader(f)}
    model = json.loads((OUT / "model.json").read_text())
    return rows, labels, truth, model


def comb2(n):
    return n * (n - 1) / 2


def ari(a, b):
    keys = list(a)
    pairs = Counter((a[k], b[k]) for k in keys)
    sa, sb = Counter(a[k] for k in keys), Counter(b[k] for k in keys)
    index = sum(comb2(v) for v in pairs.values())
    ea, eb = sum(comb2(v) for v in sa.values()), sum(comb2(v) for v in sb.values())
    expected = ea * eb / comb2(len(keys))
    return (index - expected) / ((ea + eb) / 2 - expected)


def test_every_customer_assigned(data):
    rows, labels, _, model = data
    assert set(labels) == set(rows)
    assert sorted(set(labels.values())) == list(range(model["k"]))


def test_k_chosen_by_silhouette(data):
    _, _, _, model = data
    assert model["k"] == 4
    by_k = {int(k): v for k, v in model["silhouette_by_k"].items()}
    assert sorted(by_k) == list(range(2, 9))
    assert max(by_k, key=by_k.get) == 4
    assert math.isclose(by_k[4], model["silhouette"], abs_tol=1e-9)


def test_agrees_with_true_segments(data):
    _, labels, truth, _ = data
    score = ari(labels, truth)
    assert score >= 0.95, f"adjusted Rand index {score:.3f}"


def test_centroids_and_order(data):
    rows, labels, _, model = data
    assert model["features"] == FEATURES
    k = model["k"]
    assert len(model["centroids"]) == k
    for j in range(k):
        members = [rows[c] for c, lab in labels.items() if lab == j]
        mean = [sum(col) / len(members) for col in zip(*members, strict=False)]
        for got, want in zip(model["centroids"][j], mean, strict=False):
            assert math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-4), (j, got, want)
    spends = [c[0] for c in model["centroids"]]
    assert spends == sorted(spends)


def test_reported_silhouette(data):
    rows, labels, _, model = data
    ids = sorted(rows)
    X = [rows[c] for c in ids]
    n = len(X)
    mean = [sum(col) / n for col in zip(*X, strict=False)]
    std = [math.sqrt(sum((v - m) ** 2 for v in col) / n) for col, m in zip(zip(*X, strict=False), mean, strict=False)]
    Z = [[(v - m) / s for v, m, s in zip(x, mean, std, strict=False)] for x in X]
    lab = [labels[c] for c in ids]
    k = max(lab) + 1
    total = 0.0
    for i in range(n):
        sums, counts = [0.0] * k, [0] * k
        zi = Z[i]
        for j in range(n):
            if i != j:
                sums[lab[j]] += math.dist(zi, Z[j])
                counts[lab[j]] += 1
        if counts[lab[i]] == 0:
            continue
        a = sums[lab[i]] / counts[lab[i]]
        b = min(sums[c] / counts[c] for c in range(k) if c != lab[i] and counts[c])
        total += (b - a) / max(a, b)
    assert math.isclose(model["silhouette"], total / n, abs_tol=2e-3)
