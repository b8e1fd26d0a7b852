#!/usr/bin/env bash
# Make the `wrk` HTTP load generator available (the POS earn benchmark, bench/pos_load.py).
#
# - Present: do nothing, print nothing.
# - Missing and root: install Debian's wrk package.
# - Missing and not root: explain and fail.
set -euo pipefail

if command -v wrk >/dev/null 2>&1; then
  exit 0
fi

log() { echo "ensure_wrk: $*" >&2; }

if [ "$(id -u)" != "0" ]; then
  log "wrk is missing and this user is not root."
  log "Install it first: sudo apt-get install -y wrk"
  exit 1
fi

log "installing Debian's wrk (HTTP load generator)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq wrk >/dev/null

if ! command -v wrk >/dev/null 2>&1; then
  log "apt-get finished but wrk is still missing"
  exit 1
fi
