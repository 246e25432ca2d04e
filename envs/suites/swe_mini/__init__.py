"""swe-mini: SWE-bench-format instances over small Python repositories written for ALE-Gym.

The shipped data lives in `data/` (`swe-mini.jsonl`, `specs.json`, `repos/<name>.bundle`); the
`build` subpackage is its source of truth and regenerates it: `python -m envs.suites.swe_mini.build`.
`envs.suites.swebench.swe_mini()` loads it as a suite.
"""
