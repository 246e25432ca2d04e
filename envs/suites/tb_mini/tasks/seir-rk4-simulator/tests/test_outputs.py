"""Checks for seir-rk4-simulator: trajectories and summary against a reference RK4."""

import csv
import json
import math
import subprocess
from pathlib import Path

import pytest

BASELINE = Path("/app/params/baseline.json")


def reference(params):
    """Plain RK4 with b frozen over each step; returns rows for integer days."""
    n = params["population"]
    e0, i0, r0 = (params["initial"][k] for k in ("E", "I", "R"))
    y = [n - e0 - i0 - r0, e0, i0, r0]
    beta, sigma, gamma, dt = params["beta"], params["sigma"], params["gamma"], params["dt"]
    per_day = round(1 / dt)

    def b(t):
        m = beta
        for iv in params["interventions"]:
            if iv["start_day"] <= t < iv["end_day"]:
                m *= iv["beta_multiplier"]
        return m

    def f(y, bt):
        s, e, i, _ = y
        inf = bt * s * i / n
        return [-inf, inf - sigma * e, sigma * e - gamma * i, gamma * i]

    rows = [[0, *y]]
    for step in range(params["days"] * per_day):
        t = step * dt
        bt = b(t)
        k1 = f(y, bt)
        k2 = f([a + dt / 2 * k for a, k in zip(y, k1, strict=False)], bt)
        k3 = f([a + dt / 2 * k for a, k in zip(y, k2, strict=False)], bt)
        k4 = f([a + dt * k for a, k in zip(y, k3, strict=False)], bt)
        y = [a + dt / 6 * (p + 2 * q + 2 * r + s) for a, p, q, r, s in zip(y, k1, k2, k3, k4, strict=False)]
        if (step + 1) % per_day == 0:
            rows.append([(step + 1) // per_day, *y])
    peak = max(rows, key=lambda r: (r[3], -r[0]))
    rt_day = next((r[0] for r in rows if b(r[0]) * r[1] / (gamma * n) < 1), None)
    summary = {"peak_day": peak[0], "peak_infected": peak[3],
               "attack_rate": (n - rows[-1][1]) / n, "rt_below_one_day": rt_day}
    return rows, summary


def check_output(outdir, params):
    rows, summary = reference(params)
    with open(outdir / "timeseries.csv", newline="") as f:
        reader = csv.reader(f)
        assert next(reader) == ["day", "S", "E", "I", "R"]
        got = [r for r in reader if r]
    assert len(got) == len(rows)
    for g, r in zip(got, rows, strict=False):
        assert int(float(g[0])) == r[0]
        for a, b in zip(g[1:], r[1:], strict=False):
            assert math.isclose(float(a), b, rel_tol=1e-7, abs_tol=1e-6), (g, r)
    got_summary = json.loads((outdir / "summary.json").read_text())
    assert got_summary["peak_day"] == summary["peak_day"]
    assert math.isclose(got_summary["peak_infected"], summary["peak_infected"], rel_tol=1e-7)
    assert math.isclose(got_summary["attack_rate"], summary["attack_rate"], rel_tol=1e-7)
    assert got_summary["rt_below_one_day"] == summary["rt_below_one_day"]


def run(params_path, outdir):
    return subprocess.run(["python3", "/app/seir.py", str(params_path), str(outdir)],
                          capture_output=True, text=True, timeout=120)


def test_baseline_results_written():
    """The baseline run was done and saved in /app/results/baseline."""
    check_output(Path("/app/results/baseline"), json.loads(BASELINE.read_text()))


def test_baseline_rerun(tmp_path):
    proc = run(BASELINE, tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    check_output(tmp_path / "out", json.loads(BASELINE.read_text()))


def test_overlapping_interventions(tmp_path):
    """Unseen parameters: two overlapping interventions, another step and horizon."""
    params = {"population": 250000, "initial": {"E": 5, "I": 3, "R": 1000}, "beta": 0.9,
              "sigma": 0.25, "gamma": 0.2, "days": 120, "dt": 0.125,
              "interventions": [{"start_day": 20, "end_day": 60, "beta_multiplier": 0.5},
                                {"start_day": 40, "end_day": 90, "beta_multiplier": 0.8}]}
    (tmp_path / "p.json").write_text(json.dumps(params))
    proc = run(tmp_path / "p.json", tmp_path / "nested" / "out")
    assert proc.returncode == 0, proc.stderr
    check_output(tmp_path / "nested" / "out", params)


def test_no_outbreak(tmp_path):
    """R0 < 1 from the start: rt_below_one_day is 0 and the peak is on day 0."""
    params = {"population": 10000, "initial": {"E": 0, "I": 50, "R": 0}, "beta": 0.1,
              "sigma": 0.3, "gamma": 0.2, "days": 30, "dt": 0.5, "interventions": []}
    (tmp_path / "p.json").write_text(json.dumps(params))
    proc = run(tmp_path / "p.json", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    check_output(tmp_path / "out", params)


@pytest.mark.parametrize("change", [{"dt": 0.3}, {"interventions": [
    {"start_day": 10.5, "end_day": 20, "beta_multiplier": 0.5}]}])
def test_invalid_parameters_rejected(tmp_path, change):
    params = json.loads(BASELINE.read_text()) | change
    (tmp_path / "p.json").write_text(json.dumps(params))
    proc = run(tmp_path / "p.json", tmp_path / "out")
    assert proc.returncode != 0
    assert proc.stderr.strip()
    assert not (tmp_path / "out" / "timeseries.csv").exists()
