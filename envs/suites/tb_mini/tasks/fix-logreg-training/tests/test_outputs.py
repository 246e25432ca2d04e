"""Checks for fix-logreg-training: retrain with the fixed script and score the served model."""

import csv
import hashlib
import json
import math
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).parent
APP = Path("/app")
FEATURES = ["tenure_months", "monthly_charges", "support_tickets", "total_spend",
            "days_since_login", "num_products"]


@pytest.fixture(scope="module")
def served():
    """Retrain from scratch, then let predict.py score the hold-out set."""
    (APP / "model.json").unlink(missing_ok=True)
    train = subprocess.run(["python3", "train.py"], cwd=APP, capture_output=True, text=True,
                           timeout=120)
    assert train.returncode == 0, train.stderr[-3000:]
    assert (APP / "model.json").is_file(), "train.py did not write /app/model.json"
    pred = subprocess.run(["python3", "predict.py", str(HERE / "holdout.csv")], cwd=APP,
                          capture_output=True, text=True, timeout=120)
    assert pred.returncode == 0, pred.stderr[-3000:]
    probs = {}
    for line in pred.stdout.splitlines():
        cid, p = line.split(",")
        probs[cid] = float(p)
    with open(HERE / "holdout.csv", newline="") as f:
        labels = {r["customer_id"]: r["churned"] == "yes" for r in csv.DictReader(f)}
    assert set(probs) == set(labels)
    return probs, labels


def test_protected_files_untouched():
    expected = json.loads((HERE / "protected_sha256.json").read_text())
    for rel, digest in expected.items():
        assert hashlib.sha256((APP / rel).read_bytes()).hexdigest() == digest, rel


def test_model_format(served):
    model = json.loads((APP / "model.json").read_text())
    assert model["features"] == FEATURES
    for key in ("weights", "mean", "std"):
        assert len(model[key]) == len(FEATURES), key
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in model[key]), key
    assert all(s > 0 for s in model["std"])
    assert isinstance(model["bias"], (int, float)) and math.isfinite(model["bias"])
    # mean/std are the training statistics (within rounding; missing values may be skipped)
    with open(APP / "data/train.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for j, name in enumerate(FEATURES):
        vals = [float(r[name]) for r in rows if r[name].strip()]
        mu = sum(vals) / len(vals)
        assert math.isclose(model["mean"][j], mu, rel_tol=0.02, abs_tol=0.05), name


def test_holdout_accuracy(served):
    probs, labels = served
    acc = sum((probs[c] >= 0.5) == labels[c] for c in labels) / len(labels)
    assert acc >= 0.86, f"hold-out accuracy {acc:.3f} < 0.86"


def test_holdout_log_loss(served):
    probs, labels = served
    eps = 1e-6
    loss = -sum(math.log(min(1 - eps, max(eps, probs[c] if labels[c] else 1 - probs[c])))
                for c in labels) / len(labels)
    assert loss <= 0.30, f"hold-out log loss {loss:.3f} > 0.30"
