"""ALE-Gym bench."""
