#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed and prints its path on stdout.
# Only the distribution package is used: no browser downloads from anywhere else,
# so CI and dev machines run the same audited, apt-updatable binary.
# Everything except the final path goes to stderr, so callers can read stdout as-is.
set -euo pipefail

readonly CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  echo "$CHROMIUM"
  exit 0
fi

log() { echo "chromium.sh: $*" >&2; }
# shellcheck source=cached-install.sh
source "$(dirname "$0")/cached-install.sh"
use_apt chromium

# Fresh images ship without package lists; skip the slow update when the candidate is already known.
if ! apt-cache policy chromium 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  apt_get update
fi

# Lists present but stale give 404s on install; one refresh fixes that.
if ! apt_get install -y chromium; then
  apt_get update
  apt_get install -y chromium
fi

if [[ ! -x "$CHROMIUM" ]]; then
  log "apt-get finished but $CHROMIUM is still missing"
  exit 1
fi
echo "$CHROMIUM"
