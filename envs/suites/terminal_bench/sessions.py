"""Names of the sandbox shell sessions a Terminal-Bench / Harbor task uses besides the agent's.

Each runs as its own user (`SandboxSpec.session_users`, set in `task.py`); a fresh session
means the agent's exports and aliases never reach it. Kept apart from `task.py` so the
modules `task.py` imports (`artifacts`, `services`) can use them without an import circle.
"""

GRADE_SESSION = "ale-grader"  # the verifier's user: a fresh shell for the tests
ORACLE_SESSION = "ale-oracle"  # the agent's user: the reference solution
SETUP_SESSION = "ale-setup"  # root: directories, ownership, the tests' unpacking
HEALTH_SESSION = "ale-health"  # the image's USER, as Harbor runs healthchecks
