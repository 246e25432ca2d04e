"""ALE-Gym bench/perf."""
