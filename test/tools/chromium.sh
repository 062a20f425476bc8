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

if [[ "$(id -u)" -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "chromium.sh: $CHROMIUM is missing and installing it needs root; run as root or install sudo (or: apt-get install chromium)" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium.sh: $CHROMIUM is missing and apt-get is not available; this script supports Debian only" >&2
  exit 1
fi

apt_get() {
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" >&2
}

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
  echo "chromium.sh: apt-get finished but $CHROMIUM is still missing" >&2
  exit 1
fi
echo "$CHROMIUM"
