#!/usr/bin/env bash
# Make Tesseract with Thai and English available for receipt OCR (tests and `make run`).
#
# - Present (the `tesseract` binary and its `tha` + `eng` data): do nothing, print nothing.
# - Missing and root: install Debian's tesseract-ocr and tesseract-ocr-tha (and the Thai
#   fonts the receipt tests render with).
# - Missing and not root: explain and fail.
set -euo pipefail

have_tesseract() {
  command -v tesseract >/dev/null 2>&1 || return 1
  local langs
  langs=$(tesseract --list-langs 2>/dev/null) || return 1
  grep -qx tha <<<"$langs" && grep -qx eng <<<"$langs"
}
have_thai_fonts() { [ -f /usr/share/fonts/truetype/tlwg/Garuda.ttf ]; }

if have_tesseract && have_thai_fonts; then
  exit 0
fi

log() { echo "ensure_tesseract: $*" >&2; }

if [ "$(id -u)" != "0" ]; then
  if have_tesseract; then
    log "Thai fonts (fonts-thai-tlwg) are missing: the receipt OCR tests cannot render Thai receipts"
    exit 1
  fi
  log "tesseract (with Thai) is missing and this user is not root."
  log "Install it first: sudo apt-get install -y tesseract-ocr tesseract-ocr-tha fonts-thai-tlwg"
  exit 1
fi

log "installing Debian's tesseract-ocr, tesseract-ocr-tha and Thai fonts (receipt OCR)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq tesseract-ocr tesseract-ocr-tha fonts-thai-tlwg >/dev/null

if ! have_tesseract; then
  log "apt-get finished but tesseract with the tha and eng languages is still missing"
  exit 1
fi
