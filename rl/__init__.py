"""ALE-Gym rl."""
