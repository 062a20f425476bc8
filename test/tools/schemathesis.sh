#!/usr/bin/env bash
# Makes sure schemathesis (the OpenAPI fuzzer, from PyPI) is installed in a per-user cache and prints the path
# of its `st` command on stdout. A pinned version in its own venv, keyed by version, so worktrees and CI jobs
# share one install and nothing touches the system Python. Everything except the final path goes to stderr.
set -euo pipefail

readonly VERSION=4.32.5
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/glm-gateway"
readonly TARGET="$CACHE_ROOT/schemathesis-$VERSION"
readonly BIN="$TARGET/bin/st"
# Written as the very last step; its presence is the only proof that an install is complete.
readonly MARKER="$TARGET/.complete"

log() { echo "schemathesis.sh: $*" >&2; }

# shellcheck source=cached-install.sh
source "$(dirname "$0")/cached-install.sh"
reuse_or_lock schemathesis "$VERSION" "$BIN" -x

if ! command -v python3 >/dev/null 2>&1; then
  log "python3 is missing (Debian: apt-get install python3 python3-venv)"
  exit 1
fi

# Debian's python3 ships venv's pip bootstrap separately, in python3-venv.
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  use_apt python3-venv
  # Lists missing or stale make the install fail; one refresh fixes that.
  apt_get install -y python3-venv || { apt_get update && apt_get install -y python3-venv; }
fi

started=$SECONDS
log "installing schemathesis $VERSION into $TARGET"
rm -rf "$TARGET"
python3 -m venv "$TARGET" >&2
"$TARGET/bin/python" -m pip install --quiet --disable-pip-version-check --no-input "schemathesis==$VERSION" >&2
"$BIN" --version >&2
touch "$MARKER"
log "installed in $((SECONDS - started)) s"
echo "$BIN"
