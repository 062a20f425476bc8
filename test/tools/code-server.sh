#!/usr/bin/env bash
# Makes sure code-server (a real VS Code in the browser) is installed in a per-user cache and prints the path
# of its entry script (…/node_modules/code-server/out/node/entry.js) on stdout; run it with `node`.
#
# Installed from npm only, with install scripts off: code-server's postinstall would download VS Code and
# ripgrep from GitHub. Native modules are rebuilt locally instead and ripgrep comes from Debian.
# The cache lives outside the clone, keyed by version, so worktrees and CI jobs share one install.
# Everything except the final path goes to stderr, so callers can read stdout as-is.
set -euo pipefail

readonly VERSION=4.100.3
readonly CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/glm-gateway"
readonly TARGET="$CACHE_ROOT/code-server-$VERSION"
readonly ENTRY="$TARGET/node_modules/code-server/out/node/entry.js"
# Written as the very last step; its presence is the only proof that an install is complete.
readonly MARKER="$TARGET/.complete"
readonly APT_PACKAGES=(libkrb5-dev libx11-dev libxkbfile-dev libsecret-1-dev pkg-config ripgrep chromium)

log() { echo "code-server.sh: $*" >&2; }

# shellcheck source=cached-install.sh
source "$(dirname "$0")/cached-install.sh"
reuse_or_lock code-server "$VERSION" "$ENTRY" -f

started=$SECONDS

# --- system packages: headers for the native modules, Debian's ripgrep, the browser the tests drive ---
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if ((${#missing[@]})); then
  use_apt "${missing[@]}"
  log "apt-get install ${missing[*]}"
  # Fresh images ship without package lists; skip the slow update when every candidate is already known.
  for pkg in "${missing[@]}"; do
    if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      apt_get update
      break
    fi
  done
  # Lists present but stale give 404s on install; one refresh fixes that.
  if ! apt_get install -y "${missing[@]}"; then
    apt_get update
    apt_get install -y "${missing[@]}"
  fi
fi
for tool in rg python3 make g++; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    log "$tool is required to build code-server's native modules but was not found"
    exit 1
  fi
done

# --- npm install into a temp dir next to the target, moved into place only when complete ---
# A half-finished install from a killed run is a stale temp dir (cleaned below), never a usable target.
find "$CACHE_ROOT" -maxdepth 1 -name ".code-server-$VERSION.tmp.*" -exec rm -rf {} + 2>/dev/null || true
work="$(mktemp -d "$CACHE_ROOT/.code-server-$VERSION.tmp.XXXXXX")"
trap 'rm -rf "$work"' EXIT

run() {
  log "($(basename "$PWD")) $*"
  "$@" >&2
}

cd "$work"
echo '{ "name": "code-server-cache", "private": true }' >package.json
run npm install --ignore-scripts --no-audit --no-fund "code-server@$VERSION"

cd "$work/node_modules/code-server/lib/vscode"
run npm install --ignore-scripts --omit=dev --no-audit --no-fund
# @vscode/ripgrep's postinstall would fetch a binary from GitHub; VS Code only needs one at this path.
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
run env npm_config_yes=true npm rebuild
# VS Code loads some modules through node_modules.asar; in code-server that is the plain folder.
ln -sfn node_modules node_modules.asar

cd extensions
run npm install --omit=dev --no-audit --no-fund

cd "$work"
run npm rebuild argon2

# Proves the entry loads (native modules included) before anything relies on it.
# Private XDG dirs keep the probe from writing a default config and logs into the user's home.
probe="$work/.probe"
version="$(XDG_CONFIG_HOME="$probe" XDG_DATA_HOME="$probe" node "$work/node_modules/code-server/out/node/entry.js" --version 2>&1 | tail -n 1)"
rm -rf "$probe"
if [[ "$version" != "$VERSION"* ]]; then
  log "installed code-server reports '$version', expected $VERSION"
  exit 1
fi

rm -rf "$TARGET"
mv -T "$work" "$TARGET"
trap - EXIT
date -u +%FT%TZ >"$MARKER"
log "installed code-server $VERSION in $((SECONDS - started)) s at $TARGET"
echo "$ENTRY"
