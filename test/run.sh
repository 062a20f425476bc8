#!/usr/bin/env bash
# `npm test`: install everything, then typecheck, lint, build the website and the extension (.vsix), and
# run every mocha suite against the real server and a real database. Browser and editor tests install
# Debian's Chromium (test/tools/chromium.sh) and code-server 4.100.3 (test/tools/code-server.sh) on first use.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/web/scripts/setup.sh"
cd "$root"
pnpm -r typecheck
pnpm exec eslint .
(cd web && NEXT_TELEMETRY_DISABLED=1 pnpm run build >/dev/null)
pnpm --filter extension package >/dev/null
pnpm exec mocha --config test/.mocharc.json 'test/**/*.test.ts'
