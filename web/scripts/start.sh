#!/usr/bin/env bash
# `npm start`: install, build the website, start a local database unless MONGODB_URI is set, then serve
# the website and the gateway on one port.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bash "$root/web/scripts/setup.sh"
cd "$root/web"
[ -f .env ] && set -a && . ./.env && set +a
NEXT_TELEMETRY_DISABLED=1 pnpm run build >/dev/null

if [ -z "${MONGODB_URI:-}" ]; then
  data="${XDG_DATA_HOME:-$HOME/.local/share}/glm-gateway/db"
  mkdir -p "$data"
  port=27117
  if command -v mongod >/dev/null 2>&1; then
    mongod --dbpath "$data" --port "$port" --bind_ip 127.0.0.1 --quiet >/dev/null &
  else
    "$(bash "$root/web/scripts/ferretdb.sh")" --handler=sqlite --sqlite-url="file:$data/" --state-dir="$data" \
      --listen-addr="127.0.0.1:$port" --debug-addr=- --telemetry=disable --log-level=error &
  fi
  db_pid=$!
  trap 'kill $db_pid 2>/dev/null' EXIT
  export MONGODB_URI="mongodb://127.0.0.1:$port/glm-gateway"
  echo "Local database in $data (port $port)" >&2
fi
NODE_ENV=production node server.mjs
