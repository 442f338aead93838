#!/bin/sh
# Interop check for credseal-log and credseal-c2sp: our checkpoints, note signatures, receipts,
# stored hashes and proofs must verify with Go's golang.org/x/mod/sumdb/note and
# golang.org/x/mod/sumdb/tlog.
#
#   crates/credseal-log/interop/run.sh
#
# It also checks the committed test vectors of docs/vectors/ (go/vectors.go).
#
# Needs cargo and go. Offline it builds against Debian's golang-golang-x-mod-dev
# (/usr/share/gocode, GOPATH mode); otherwise, or with CREDSEAL_GO_MODULES=1, in module mode
# (golang.org/x/mod is fetched through the Go module proxy). Exits non-zero on any failure.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../../.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

command -v go >/dev/null 2>&1 || { echo "interop: go is not installed" >&2; exit 1; }

cargo run --quiet --manifest-path "$workspace/Cargo.toml" -p credseal-log --example emit_interop -- "$out/data"

if [ -z "${HOME:-}" ] && [ -z "${GOCACHE:-}" ]; then
    export GOCACHE="$out/gocache"
fi

gopath=/usr/share/gocode
if [ -z "${CREDSEAL_GO_MODULES:-}" ] && [ -d "$gopath/src/golang.org/x/mod/sumdb/tlog" ]; then
    echo "interop: go $(go env GOVERSION), golang.org/x/mod from $gopath (GOPATH mode)" >&2
    GO111MODULE=off GOPATH="$gopath" GOFLAGS= go run "$here/go/main.go" "$here/go/vectors.go" "$out/data" "$workspace/docs/vectors"
else
    echo "interop: go $(go env GOVERSION), golang.org/x/mod from the module proxy" >&2
    cp "$here/go/main.go" "$here/go/vectors.go" "$here/go/go.mod" "$out/"
    (cd "$out" && GOFLAGS=-mod=mod go run . "$out/data" "$workspace/docs/vectors")
fi
