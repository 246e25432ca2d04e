#!/bin/bash
# Fixes: labels are lower-case "yes"; gradient descent (not ascent); the bias is learned;
# features are standardised (and mean/std saved for predict.py); a numerically stable
# sigmoid; missing values are imputed with the training mean.
set -euo pipefail
cat > /app/train.py <<'PY'
#!/usr/bin/env python3
"""Train the churn model (logistic regression, no third-party dependencies).

Reads /app/data/train.csv and writes /app/model.json in the format predict.py serves
(see MODEL_FORMAT.md).
"""
import csv
import json
import math

FEATURES = ["tenure_months", "monthly_charges", "support_tickets", "total_spend",
            "days_since_login", "num_products"]


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    means = []
    for name in FEATURES:
        vals = [float(r[name]) for r in rows if r[name].strip()]
        means.append(sum(vals) / len(vals))
    X = [[float(r[name]) if r[name].strip() else means[j] for j, name in enumerate(FEATURES)]
         for r in rows]
    y = [1 if r["churned"].strip().lower() == "yes" else 0 for r in rows]
    return X, y


def sigmoid(z):
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def train(X, y, lr=0.5, iterations=400):
    n, d = len(X), len(X[0])
    mean = [sum(x[j] for x in X) / n for j in range(d)]
    std = [math.sqrt(sum((x[j] - mean[j]) ** 2 for x in X) / n) or 1.0 for j in range(d)]
    Z = [[(x[j] - mean[j]) / std[j] for j in range(d)] for x in X]
    w, b = [0.0] * d, 0.0
    for _ in range(iterations):
        gw, gb = [0.0] * d, 0.0
        for z, t in zip(Z, y):
            err = sigmoid(b + sum(wj * zj for wj, zj in zip(w, z))) - t
            gb += err
            for j in range(d):
                gw[j] += err * z[j]
        w = [wj - lr * g / n for wj, g in zip(w, gw)]
        b -= lr * gb / n
    return w, b, mean, std, Z


def main():
    X, y = load("/app/data/train.csv")
    w, b, mean, std, Z = train(X, y)
    model = {"features": FEATURES, "weights": w, "bias": b, "mean": mean, "std": std}
    with open("/app/model.json", "w") as f:
        json.dump(model, f, indent=2)
    acc = sum((sigmoid(b + sum(wj * zj for wj, zj in zip(w, z))) >= 0.5) == bool(t)
              for z, t in zip(Z, y)) / len(y)
    print(f"trained on {len(y)} rows, train accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
PY
cd /app && python3 train.py
