"""ALE-Gym environments: ROCK-style sandboxes (`envs.rock`) and chunk-level Gymnasium envs.

Importing `envs` registers the `ale/...` ids with Gymnasium (see `envs.registration`) and does
nothing else: no sandbox, image or network is touched until an env is made.
"""

from envs.registration import register_all

register_all()
