#!/usr/bin/env bash
# `npm test`: install everything, then typecheck, lint, build the website and run every mocha suite
# against the real server and a real database.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/web/scripts/setup.sh"
cd "$root"
pnpm -r typecheck
pnpm exec eslint .
(cd web && NEXT_TELEMETRY_DISABLED=1 pnpm exec next build >/dev/null)
pnpm exec mocha --config test/.mocharc.json 'test/**/*.test.ts'
