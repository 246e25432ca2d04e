#!/usr/bin/env python3
"""Train the churn model (logistic regression, no third-party dependencies).

Reads /app/data/train.csv and writes /app/model.json in the format predict.py serves
(see MODEL_FORMAT.md).
"""
import csv
import json
import math
import random

FEATURES = ["tenure_months", "monthly_charges", "support_tickets", "total_spend",
            "days_since_login", "num_products"]


def load(path):
    X, y = [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            X.append([float(row[c]) for c in FEATURES])
            y.append(1 if row["churned"] == "Yes" else 0)
    return X, y


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z))


def train(X, y, lr=0.05, epochs=60, seed=0):
    rng = random.Random(seed)
    w = [0.0] * len(X[0])
    b = 0.0
    order = list(range(len(X)))
    for _ in range(epochs):
        rng.shuffle(order)
        for i in order:
            p = sigmoid(b + sum(wj * xj for wj, xj in zip(w, X[i], strict=False)))
            err = p - y[i]
            for j in range(len(w)):
                w[j] += lr * err * X[i][j]
    return w, b


def main():
    X, y = load("/app/data/train.csv")
    w, b = train(X, y)
    model = {"features": FEATURES, "weights": w, "bias": b}
    with open("/app/model.json", "w") as f:
        json.dump(model, f, indent=2)
    acc = sum((sigmoid(b + sum(wj * xj for wj, xj in zip(w, x, strict=False))) >= 0.5) == bool(t)
              for x, t in zip(X, y, strict=False)) / len(X)
    print(f"trained on {len(X)} rows, train accuracy {acc:.3f}")


if __name__ == "__main__":
    main()
