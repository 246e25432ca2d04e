#!/usr/bin/env python3
"""Customer segmentation: z-scored k-means (k-means++ restarts), k chosen by silhouette."""
import csv
import json
import math
import random
from pathlib import Path

FEATURES = ["annual_spend", "visits_per_month", "avg_basket", "days_since_last_order"]
OUT = Path("/app/output")


def load():
    with open("/app/data/customers.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return [r["customer_id"] for r in rows], [[float(r[c]) for c in FEATURES] for r in rows]


def dist2(a, b):
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=False))


def kmeans(Z, k, rng, iters=100):
    centers = [rng.choice(Z)]
    while len(centers) < k:  # k-means++ seeding
        d = [min(dist2(z, c) for c in centers) for z in Z]
        r, acc = rng.random() * sum(d), 0.0
        for z, dz in zip(Z, d, strict=False):
            acc += dz
            if acc >= r:
                centers.append(z)
                break
    labels = None
    for _ in range(iters):
        new = [min(range(k), key=lambda j: dist2(z, centers[j])) for z in Z]
        if new == labels:
            break
        labels = new
        for j in range(k):
            members = [z for z, lab in zip(Z, labels, strict=False) if lab == j]
            if members:
                centers[j] = [sum(col) / len(members) for col in zip(*members, strict=False)]
    inertia = sum(dist2(z, centers[lab]) for z, lab in zip(Z, labels, strict=False))
    return labels, inertia


def silhouette(Z, labels, D):
    k = max(labels) + 1
    total = 0.0
    for i, li in enumerate(labels):
        sums, counts = [0.0] * k, [0] * k
        for j, lj in enumerate(labels):
            if i != j:
                sums[lj] += D[i][j]
                counts[lj] += 1
        if counts[li] == 0:
            continue  # singleton cluster: s = 0
        a = sums[li] / counts[li]
        b = min(sums[c] / counts[c] for c in range(k) if c != li and counts[c])
        total += (b - a) / max(a, b)
    return total / len(Z)


def main():
    ids, X = load()
    n = len(X)
    mean = [sum(col) / n for col in zip(*X, strict=False)]
    std = [math.sqrt(sum((v - m) ** 2 for v in col) / n) for col, m in zip(zip(*X, strict=False), mean, strict=False)]
    Z = [[(v - m) / s for v, m, s in zip(x, mean, std, strict=False)] for x in X]
    D = [[math.sqrt(dist2(a, b)) for b in Z] for a in Z]
    rng = random.Random(0)
    best, scores = None, {}
    for k in range(2, 9):
        labels = min((kmeans(Z, k, rng) for _ in range(8)), key=lambda t: t[1])[0]
        labels = [sorted(set(labels)).index(lab) for lab in labels]  # drop empty clusters
        scores[k] = silhouette(Z, labels, D)
        if best is None or scores[k] > scores[best[0]]:
            best = (k, labels)
    k, labels = best
    k = max(labels) + 1
    centroids = []
    for j in range(k):
        members = [x for x, lab in zip(X, labels, strict=False) if lab == j]
        centroids.append([sum(col) / len(members) for col in zip(*members, strict=False)])
    order = sorted(range(k), key=lambda j: centroids[j][0])
    rename = {old: new for new, old in enumerate(order)}
    labels = [rename[lab] for lab in labels]
    centroids = [centroids[j] for j in order]
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "assignments.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "cluster"])
        w.writerows(zip(ids, labels, strict=False))
    model = {"features": FEATURES, "k": k, "silhouette": scores[best[0]],
             "silhouette_by_k": {str(kk): v for kk, v in scores.items()}, "centroids": centroids}
    (OUT / "model.json").write_text(json.dumps(model, indent=2) + "\n")
    print(json.dumps({"k": k, "silhouette_by_k": model["silhouette_by_k"]}))


if __name__ == "__main__":
    main()
