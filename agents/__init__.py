"""ALE-Gym agents."""
