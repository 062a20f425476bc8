#!/usr/bin/env bash
# Prints the path of a FerretDB 1.x binary, building it into the user cache from the Go module proxy when
# missing. FerretDB speaks MongoDB's wire protocol over SQLite: the test and local database where mongod
# cannot be installed. 2.x needs a PostgreSQL extension Debian does not ship, hence 1.x.
set -euo pipefail
version=1.24.2
# The cache name says which patch the binary carries (see below), so a machine with an older build rebuilds.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/glm-gateway/ferretdb-$version-id-index"
bin="$cache/ferretdb"

if command -v ferretdb >/dev/null 2>&1; then
  echo "Using $(command -v ferretdb) as is: without the _id index fix below, lookups by _id read whole collections." >&2
  command -v ferretdb
  exit 0
fi
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if ! command -v go >/dev/null 2>&1; then
  echo "No database: set MONGODB_URI, or install mongod or ferretdb, or install Go so FerretDB $version can be built." >&2
  exit 1
fi

echo "Building FerretDB $version into $cache (about a minute, once per machine)..." >&2
work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
# `go install ...@version` stops on the proxy's deprecation lookup here, and the module zip lacks the
# version.txt FerretDB's build embeds: fetch the module, add that file, build from its own go.sum.
dir=$(GOFLAGS=-modcacherw GOPATH="$work/gopath" go mod download -json "github.com/FerretDB/FerretDB@v$version" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
echo "v$version" > "$work/src/build/version/version.txt"
# 1.24.2 builds every index on `_ferretdb_sjson->"_id"` but looks documents up by `_ferretdb_sjson->'$._id'`,
# an expression SQLite does not match to the index: every find, update and delete by _id read the whole
# table (an update by _id: 18 ms at 4,000 rows, growing with the table). `->'_id'` means the same to SQLite
# (a bare label is read as '$.label') and is matched to the index.
metadata="$work/src/internal/backends/sqlite/metadata/metadata.go"
grep -q "IDColumn = DefaultColumn + \"->'\$._id'\"" "$metadata" || { echo "FerretDB $version: the _id expression to patch is not in $metadata" >&2; exit 1; }
sed -i "s/IDColumn = DefaultColumn + \"->'\$._id'\"/IDColumn = DefaultColumn + \"->'_id'\"/" "$metadata"
grep -q "IDColumn = DefaultColumn + \"->'_id'\"" "$metadata" || { echo "FerretDB $version: patching the _id expression failed" >&2; exit 1; }
mkdir -p "$cache"
(cd "$work/src" && GOFLAGS=-modcacherw GOPATH="$work/gopath" go build -trimpath -o "$bin.tmp" ./cmd/ferretdb)
mv "$bin.tmp" "$bin"
echo "$bin"
