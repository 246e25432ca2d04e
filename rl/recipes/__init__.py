"""Runnable recipes (cleanrl style): `python -m rl.recipes.ipa_toy`, `python -m rl.recipes.compare_toy`.

Importing the package does nothing; each recipe is one file with a dataclass CLI.
"""
