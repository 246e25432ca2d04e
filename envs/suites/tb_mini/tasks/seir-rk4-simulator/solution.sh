#!/bin/bash
set -euo pipefail
cat > /app/seir.py <<'PY'
#!/usr/bin/env python3
"""SEIR model integrated with fixed-step RK4 (transmission rate frozen over each step)."""
import csv
import json
import sys
from pathlib import Path


def fail(msg):
    print(f"seir.py: {msg}", file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) != 3:
        fail("usage: seir.py PARAMS_JSON OUTPUT_DIR")
    p = json.loads(Path(sys.argv[1]).read_text())
    out = Path(sys.argv[2])
    n = float(p["population"])
    init = p.get("initial", {})
    e0, i0, r0 = (float(init.get(k, 0)) for k in ("E", "I", "R"))
    beta, sigma, gamma = float(p["beta"]), float(p["sigma"]), float(p["gamma"])
    days, dt = int(p["days"]), float(p["dt"])
    per_day = round(1 / dt)
    if per_day < 1 or abs(1 / dt - per_day) > 1e-9:
        fail(f"1/dt must be an integer, got dt={dt}")
    ivs = p.get("interventions", [])
    for iv in ivs:
        for key in ("start_day", "end_day"):
            if float(iv[key]) != int(float(iv[key])):
                fail(f"intervention {key}={iv[key]} is not an integer day")

    def b(t):
        m = beta
        for iv in ivs:
            if iv["start_day"] <= t < iv["end_day"]:
                m *= iv["beta_multiplier"]
        return m

    def f(y, bt):
        s, e, i, _ = y
        inf = bt * s * i / n
        return [-inf, inf - sigma * e, sigma * e - gamma * i, gamma * i]

    y = [n - e0 - i0 - r0, e0, i0, r0]
    rows = [[0, *y]]
    for step in range(days * per_day):
        bt = b(step * dt)
        k1 = f(y, bt)
        k2 = f([a + dt / 2 * k for a, k in zip(y, k1)], bt)
        k3 = f([a + dt / 2 * k for a, k in zip(y, k2)], bt)
        k4 = f([a + dt * k for a, k in zip(y, k3)], bt)
        y = [a + dt / 6 * (q1 + 2 * q2 + 2 * q3 + q4) for a, q1, q2, q3, q4 in zip(y, k1, k2, k3, k4)]
        if (step + 1) % per_day == 0:
            rows.append([(step + 1) // per_day, *y])

    peak = max(rows, key=lambda r: (r[3], -r[0]))
    rt = next((r[0] for r in rows if b(r[0]) * r[1] / (gamma * n) < 1), None)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "timeseries.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["day", "S", "E", "I", "R"])
        for r in rows:
            w.writerow([r[0], *(repr(v) for v in r[1:])])
    summary = {"peak_day": peak[0], "peak_infected": peak[3],
               "attack_rate": (n - rows[-1][1]) / n, "rt_below_one_day": rt}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
PY
python3 /app/seir.py /app/params/baseline.json /app/results/baseline
cat /app/results/baseline/summary.json
