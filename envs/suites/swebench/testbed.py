"""/testbed as the agent finds it: prepared once per task image, diffed against itself.

`prepare_testbed` runs once per task image (see `envs.rock.derived`; the environment, the
spec's installs included, is the source image's business: `envbuild`):

1. the repository: cloned from the instance's git bundle when the image has none;
2. sanitized: `base_commit` checked out as the only branch (`main`); every other ref
   (branches, tags, remotes, notes, stash, packed or loose) deleted at once: with git's
   `files` ref store, the packed-refs file and the loose-ref tree go and `main` is written
   again (a ref transaction takes a lock file per ref: minutes for 20,000 refs on overlayfs);
   with another store, one `git update-ref --no-deref --stdin` transaction; remotes, reflogs, `FETCH_HEAD` and the
   other state files, `COMMIT_EDITMSG`, other branches' config dropped; unreachable objects
   pruned. It fails (exit 3) if any ref or unreachable object remains;
3. the *reset baseline*: a git dir outside /testbed (`RESET_DIR`, objects borrowed from
   /testbed/.git) whose index and tree (`RESET_DIR/TREE`) record the working tree as it is
   now, untracked files included (ignored ones never count);
4. facts printed for the image's labels (`conda`: the official conda layout needs its PATH).

`DIFF` gives the agent's patch: the working tree against the reset baseline (`git add -A`
into a throw-away index and object store, `git diff --cached --binary`), so files that were
there at reset (a build directory, generated files) are not the agent's. Its git reads no
config the agent can write (`GIT_DIR` is ours, no system or global config). Without a
baseline (the agent deleted it) it falls back to the official diff against `base_commit`.
"""

from __future__ import annotations

import json
import shlex
import uuid
from collections.abc import Mapping

from envs.core.errors import TaskError
from envs.rock import ExecResult, Sandbox

WORKDIR = "/testbed"
BRANCH = "main"
RESET_DIR = "/var/lib/ale-reset"
SETUP_SESSION = "ale-setup"
CONDA_ENV_BIN = "/opt/miniconda3/envs/testbed/bin"
_FACTS = "ALE_FACTS "


def _reset_git(extra: str = "") -> str:
    """git with our own git dir over /testbed: no system, global or repository config is
    read; `extra`: more `VAR=value` settings (index, object store)."""
    return (
        "\\command env -u GIT_INDEX_FILE -u GIT_OBJECT_DIRECTORY "
        f"-u GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_DIR={RESET_DIR} GIT_WORK_TREE={WORKDIR} "
        f"GIT_CONFIG_NOSYSTEM=1 HOME={RESET_DIR} {extra}"
        "git -c core.autocrlf=false -c core.fileMode=true -c core.bare=false"
    )


SANITIZE = f"""cd {WORKDIR}
git config --global --add safe.directory {WORKDIR}
git -c advice.detachedHead=false checkout -q -f "$BASE"
git checkout -q -B {BRANCH}
gd=$(git rev-parse --absolute-git-dir)
if [ "$(git config extensions.refStorage || echo files)" = files ]; then
  # every ref at once: one packed-refs file and one tree of loose refs (a transaction that
  # deletes them one lock file at a time takes minutes for 20,000 refs on overlayfs)
  rm -f "$gd/packed-refs" "$gd/packed-refs.lock"
  find "$gd/refs" -mindepth 1 -delete
  mkdir -p "$gd/refs/heads" "$gd/refs/tags"
  git update-ref refs/heads/{BRANCH} "$BASE"
else
  git for-each-ref --format='delete %(refname)' | {{ grep -vxF 'delete refs/heads/{BRANCH}' || true; }} \\
    | git update-ref --no-deref --stdin
fi
for r in $(git remote); do git config --remove-section "remote.$r"; done
for s in $(git config --name-only --get-regexp '^branch\\.' | sed 's/\\.[^.]*$//' | sort -u); do
  [ "$s" = branch.{BRANCH} ] || git config --remove-section "$s"
done
(cd "$gd" && rm -rf FETCH_HEAD ORIG_HEAD MERGE_HEAD CHERRY_PICK_HEAD REVERT_HEAD AUTO_MERGE \\
  BISECT_LOG COMMIT_EDITMSG rebase-merge rebase-apply logs refs/original gitk.cache worktrees)
git worktree prune
git reflog expire --expire=now --expire-unreachable=now --all
if [ -s "$gd/objects/info/alternates" ]; then git repack -a -d -q; rm -f "$gd/objects/info/alternates"; fi
git -c gc.auto=0 -c gc.reflogExpire=now -c gc.reflogExpireUnreachable=now gc -q --prune=now
all=$(git cat-file --batch-all-objects --batch-check='%(objectname)' | sort -u | wc -l)
reachable=$(git rev-list --objects --all | cut -d' ' -f1 | sort -u | wc -l)
[ "$all" = "$reachable" ] || {{ echo "sanitize: $all objects but $reachable reachable" >&2; exit 3; }}
[ "$(git for-each-ref --format='%(refname)')" = refs/heads/{BRANCH} ] || {{ echo "sanitize: refs remain" >&2; exit 3; }}
[ "$(git rev-parse HEAD)" = "$BASE" ]
"""

BASELINE = f"""rm -rf {RESET_DIR}
git init -q --bare {RESET_DIR}
echo {WORKDIR}/.git/objects > {RESET_DIR}/objects/info/alternates
{_reset_git()} read-tree "$(git -C {WORKDIR} rev-parse HEAD^{{tree}})"
{_reset_git()} add -A
{_reset_git()} write-tree > {RESET_DIR}/TREE
"""

FACTS = f"""conda=0
if [ -x {CONDA_ENV_BIN}/python ]; then case ":$PATH:" in *":{CONDA_ENV_BIN}:"*) ;; *) conda=1;; esac; fi
echo "{_FACTS}{{\\"conda\\": \\"$conda\\"}}"
"""


def bash(
    sandbox: Sandbox,
    script: str,
    timeout: float,
    session: str = SETUP_SESSION,
    env: Mapping[str, str] | None = None,
) -> ExecResult:
    """Run `script` with bash from a temporary file (so `set -e` cannot end the session)."""
    path = f"/tmp/.ale-{uuid.uuid4().hex[:12]}.sh"
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in (env or {}).items())
    sandbox.write(path, (exports + script).encode(), mode=0o700)
    return sandbox.run(
        f"bash {path}; __rc=$?; rm -f {path}; (exit $__rc)", timeout=timeout, session=session
    )


def check(result: ExecResult, what: str) -> ExecResult:
    """`result`, or `TaskError` naming `what` and the output's tail if it failed."""
    if not result.ok:
        why = "timed out" if result.timed_out else f"exited {result.exit_code}"
        raise TaskError(f"{what} {why}:\n{result.output[-2000:]}")
    return result


def prepare_testbed(
    sandbox: Sandbox,
    base_commit: str,
    bundle: str | None,
    timeout_s: float,
    what: str,
) -> dict[str, str]:
    """Clone (from `bundle`, a host path), sanitize, record the reset baseline; returns the
    facts (see the module docstring). `TaskError` names the step that failed."""
    steps = ["set -eu"]
    if bundle is not None:
        remote = f"/tmp/.ale-{uuid.uuid4().hex[:12]}.bundle"
        sandbox.upload(bundle, remote)
        steps.append(
            f"mkdir -p {WORKDIR}\ngit clone -q --no-checkout {remote} {WORKDIR}\nrm -f {remote}"
        )
    check(
        bash(sandbox, "\n".join([*steps, SANITIZE]), timeout_s, env={"BASE": base_commit}),
        f"{what}: sanitizing /testbed",
    )
    out = check(bash(sandbox, f"set -eu\n{BASELINE}{FACTS}", timeout_s), f"{what}: baseline")
    facts = next(
        (ln[len(_FACTS) :] for ln in out.output.splitlines() if ln.startswith(_FACTS)), "{}"
    )
    sandbox.run("rm -rf /tmp/.ale-*", timeout=60, session=SETUP_SESSION)
    return {str(k): str(v) for k, v in json.loads(facts).items()}


def diff_script(base_commit: str, where: str, out: str) -> str:
    """A script writing the agent's patch to `out` (see the module docstring); `where` is a
    fresh folder for its index and objects."""
    git = _reset_git(
        f"GIT_INDEX_FILE={where}/index GIT_OBJECT_DIRECTORY={where}/objects "
        f"GIT_ALTERNATE_OBJECT_DIRECTORIES={RESET_DIR}/objects:{WORKDIR}/.git/objects "
    )
    return f"""cd {WORKDIR}
if [ -s {RESET_DIR}/TREE ] && [ -s {RESET_DIR}/index ]; then
  mkdir -p {where}/objects && cp {RESET_DIR}/index {where}/index
  {git} add -A && {git} diff --cached --binary --no-color "$(cat {RESET_DIR}/TREE)" > {out}
else
  git add -A && git diff --cached --binary --no-color {base_commit} > {out}
fi
"""
