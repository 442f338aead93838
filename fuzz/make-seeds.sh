#!/usr/bin/env bash
# Writes the seeds of fuzz/corpus/ that only a platform can make — signed objects, a sealed
# answer, a bundle, a checkpoint, a saved state, key files, tiles and their entries — from a
# throw-away platform in a temporary directory. The hand-made seeds (catalogue, ingest
# lines, leak files, WAL frames, value-log records, the example keystore) are committed as
# they are. Usage: fuzz/make-seeds.sh PATH-TO-credseal
set -euo pipefail
bin=$(realpath "${1:?usage: fuzz/make-seeds.sh PATH-TO-credseal}")
root=$(cd "$(dirname "$0")/.." && pwd)
corpus="$root/fuzz/corpus"
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
cd "$w"
export CREDSEAL_PASSPHRASE=fuzz-seeds-only
o=fuzz.credseal.invalid/log
s=42010619960510907X
q() { "$bin" "$@" >/dev/null; }
q init --data p --catalog "$root/keys-example/catalog.toml" --origin "$o" --kdf-mib 8 --kdf-passes 1
q ingest --data p "$root/keys-example/records.jsonl"
q authority keygen --out auth.key
q authority trust --data p --key auth.key.pub
q dept keygen --out-dir bank
q authority enroll --key auth.key --serial 1001 --department bank-a --name "Bank A" \
  --signing-key bank/signing.pub --sealing-key bank/sealing.pub --classes identity,loans \
  --purposes loan-approval --audience "$o" --days 365 --out cred.txt
q dept query --key bank/signing.key --credential cred.txt --subject "$s" --classes identity \
  --purpose loan-approval --legal-basis seeds --audience "$o" --out token.txt
q query --data p --credential cred.txt --token token.txt --out answer.txt
q subject keygen --out-dir me
q subject register --data p --subject "$s" --key me/signing.pub
q subject consent --key me/signing.key --subject "$s" --department bank-a --classes loans \
  --purpose loan-approval --days 30 --max-uses 1 --audience "$o" --out consent.txt
q subject query --key me/signing.key --sealing-key me/sealing.pub --subject "$s" \
  --classes identity --audience "$o" --out self.txt
q authority order-shred --key auth.key --subject "$s" --class loans --record LN-1 --ref CR-1 \
  --audience "$o" --out order.txt
q receipts request --key me/signing.key --subject "$s" --audience "$o" --state me/log-state --out req.txt
q receipts export --data p --request req.txt --out bundle.txt
q receipts verify --vkey p/log-key.pub --vrf-key p/vrf-key.pub --subject "$s" --state me/log-state bundle.txt
"$bin" log checkpoint --data p >checkpoint.txt
q log export-tiles --data p tiles

put() { mkdir -p "$corpus/$1"; cp "$2" "$corpus/$1/$3"; }
# The wire form of a text object `cs1.<label>.<base64url>`.
wire() { python3 -c 'import base64,sys; t=open(sys.argv[1]).read().strip().split(".")[2]; sys.stdout.buffer.write(base64.urlsafe_b64decode(t+"="*(-len(t)%4)))' "$1"; }
for f in cred token consent self order req; do
  put signed "$f.txt" "$f.txt"
  wire "$f.txt" >"$corpus/signed/$f.bin"
done
put answer answer.txt answer.txt
put answer token.txt request.txt
put bundle bundle.txt bundle.txt
wire bundle.txt >"$corpus/bundle/bundle.bin"
put note checkpoint.txt checkpoint.txt
put state me/log-state log-state
put keys auth.key.pub authority.pub
put keys bank/sealing.pub sealing.pub
put keys p/log-key.pub log-key.pub
put keys p/vrf-key.pub vrf-key.pub
# Tiles: the `tile` target takes a width byte (width - 1), then the tile's bytes.
n=0
for t in $(cd tiles && find tile -type f | sort | head -4); do
  width=$(basename "$t")
  case "$t" in *.p/*) ;; *) width=256 ;; esac
  { printf "\\x$(printf %02x $((width - 1)))"; cat "tiles/$t"; } >"$corpus/tile/tile-$n"
  n=$((n + 1))
done
# Receipt seeds: the entries of the first entry bundle (2-byte big-endian length prefixes).
e=$(cd tiles && find tile/entries -type f | sort | head -1)
python3 - "tiles/$e" "$corpus/receipt" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
i = n = 0
while i + 2 <= len(b) and n < 4:
    l = int.from_bytes(b[i:i + 2], "big")
    open(f"{sys.argv[2]}/entry-{n}", "wb").write(b[i + 2:i + 2 + l])
    i += 2 + l
    n += 1
PY
echo "seeds written under $corpus"
