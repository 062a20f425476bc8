#!/usr/bin/env bash
# Installs what the project needs on a machine that has Node 20 and npm: the pinned pnpm, the workspace's
# packages, and (when no MONGODB_URI is given) a local database server. Safe to run again.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
want=$(node -p "require('$root/package.json').packageManager.split('@')[1]")
if [ "$(pnpm --version 2>/dev/null || true)" != "$want" ]; then
  echo "Installing pnpm $want..." >&2
  npm install --global --silent "pnpm@$want"
fi
cd "$root"
pnpm install --frozen-lockfile --reporter=silent
if [ -z "${MONGODB_URI:-}" ] && ! command -v mongod >/dev/null 2>&1; then
  bash "$root/web/scripts/ferretdb.sh" >/dev/null
fi
