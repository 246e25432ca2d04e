"""Token-level inference engines (token ids in, token ids + log-probs out)."""
