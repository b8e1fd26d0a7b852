#!/usr/bin/env bash
# Make Debian's Chromium available at /usr/bin/chromium for the browser tests.
#
# - Present: do nothing, print nothing.
# - Missing and root: install Debian's `chromium` package (Debian's mirrors are reachable;
#   `playwright install` is never used: it downloads from a host these machines cannot reach).
# - Missing and not root: explain and fail.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

# Thai glyphs for screenshots of Thai pages (fonts-thai-tlwg).
have_thai_fonts() { [ -d /usr/share/fonts/truetype/tlwg ] || [ -d /usr/share/fonts/opentype/tlwg ]; }

if [ -x "$CHROMIUM" ] && have_thai_fonts; then
  exit 0
fi

log() { echo "ensure_chromium: $*" >&2; }

if [ "$(id -u)" != "0" ]; then
  if [ -x "$CHROMIUM" ]; then
    log "Thai fonts (fonts-thai-tlwg) are missing: screenshots will show boxes for Thai text"
    exit 0
  fi
  log "$CHROMIUM is missing and this user is not root."
  log "Install Debian's Chromium first: sudo apt-get install -y chromium"
  exit 1
fi

log "installing Debian's chromium and Thai fonts (for the browser tests)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium fonts-thai-tlwg >/dev/null

if [ ! -x "$CHROMIUM" ]; then
  log "apt-get finished but $CHROMIUM is still missing"
  exit 1
fi
