#!/usr/bin/env python3
"""Serve the churn model: python3 predict.py CUSTOMERS_CSV -> customer_id,probability lines."""
import csv
import json
import math
import sys


def predict_proba(model, row):
    z = model["bias"]
    for name, w, mu, sd in zip(model["features"], model["weights"], model["mean"], model["std"], strict=False):
        z += w * (float(row[name]) - mu) / sd
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    ez = math.exp(z)
    return ez / (1.0 + ez)


def main():
    with open("/app/model.json") as f:
        model = json.load(f)
    with open(sys.argv[1], newline="") as f:
        for row in csv.DictReader(f):
            print(f"{row['customer_id']},{predict_proba(model, row):.6f}")


if __name__ == "__main__":
    main()
