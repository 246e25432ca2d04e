"""Recorded episodes -> training data: sources (bench runs, trajectory files), filters,
token streams with policy masks, and the Hugging Face dataset `ale data build` writes."""
