#!/usr/bin/env bash
# Idempotent machine setup for ALE-Gym on Debian/Ubuntu (run as root, or with sudo):
# system packages (docker-registry: the throw-away registry the image pull test starts on
# 127.0.0.1), a running Docker engine, the Python package, and the base images.
# Safe to run again: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"

need=()
for pair in dockerd:docker.io debootstrap:debootstrap bwrap:bubblewrap nsenter:util-linux ip:iproute2 \
    docker-registry:docker-registry; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "setup: starting dockerd (log: /var/log/ale-dockerd.log)"
  $SUDO sh -c 'nohup dockerd >/var/log/ale-dockerd.log 2>&1 &'
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "setup: dockerd did not start; see /var/log/ale-dockerd.log" >&2; exit 1; }
fi

python3 -m pip install -q -e ".[dev]"
python3 -m bench.cli.main images build
