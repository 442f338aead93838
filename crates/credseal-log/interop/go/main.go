// Command interop checks credseal-log's output (written by
// `cargo run -p credseal-log --example emit_interop -- <dir>`) with Go's reference
// implementations golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog:
//
//   - the verifier key parses with note.NewVerifier and both checkpoints open with note.Open;
//   - the checkpoint bodies are C2SP tlog-checkpoints (origin, size, root) for that key;
//   - tlog.StoredHashes, tlog.TreeHash, tlog.ProveRecord and tlog.ProveTree over the leaves
//     give exactly our stored hashes, roots and proofs, where each leaf (the record
//     tlog.RecordHash hashes) is a receipt's `header ‖ signature`, taken from the full receipt;
//   - our inclusion proofs pass tlog.CheckRecord and the consistency proof 3 → 7 passes
//     tlog.CheckTree;
//   - every receipt is `header ‖ content ‖ Ed25519 signature` (format 3): the header
//     `0x03 ‖ postcard(ReceiptHeader)` is decoded here from docs/formats.md §10 alone, its
//     signature over "credseal:v1:receipt" ‖ 0x00 ‖ header is verified with crypto/ed25519,
//     and its content hash SHA-256("credseal:v1:receipt-content" ‖ 0x00 ‖ content) checked;
//     the whole receipt is not a leaf (its record hash fails the inclusion proof);
//   - tampered notes and proofs are rejected;
//   - after a log key rotation: the handover note opens with note.Open and carries valid
//     signatures of both the old and the new key (same key name, two key ids), and names
//     both keys; the new key's checkpoint opens with the new verifier alone (a plain C2SP
//     verifier) and not with the old one; the new key's receipts verify with
//     crypto/ed25519 and their leaves give the new checkpoint's root; tlog.CheckTree proves
//     the rotated log extends the old one;
//   - hash tiles (C2SP tlog-tiles, under tiles/): a separate log of 600 leaves
//     `credseal tile interop leaf <i>` whose checkpoint opens with its own key; through
//     tlog.TileHashReader over our tile files (Go's tile/8/L/N is our tile/L/N),
//     tlog.TreeHash gives the checkpoint's root, and tlog.ProveRecord proofs of leaves in
//     each level-0 tile pass tlog.CheckRecord; every tile file is read; a tile with its
//     first or last byte changed is rejected;
//   - the committed test vectors of docs/vectors/ (second argument; vectors.go's
//     committedVectors): every signed object's envelope, text form and Ed25519 signature over
//     "credseal:v1:" ‖ label ‖ 0x00 ‖ body; every receipt's signature, content hash and leaf
//     hash; the checkpoints through note.Open (with their map and trust lines), the witness's
//     cosignature, the altered checkpoints refused; the handover signed by both keys; the
//     second bundle's inclusion proofs through tlog.CheckRecord (each leaf's signature by the
//     key of its index) and its consistency proof through tlog.CheckTree;
//   - a witness's cosignature (C2SP tlog-cosignature, Ed25519 cosignature/v1) on the
//     checkpoint at size 7: note.Open with the log's verifier and a note.Verifier of our own
//     for the witness (key id SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4]; signature = 8-byte
//     big-endian timestamp ‖ Ed25519 over "cosignature/v1\ntime <T>\n" ‖ checkpoint body,
//     checked with crypto/ed25519) accepts both signatures; the timestamp is the one emitted;
//     a changed bit in the cosignature's timestamp or signature, or in the body, is rejected.
//
// It exits non-zero on the first failure.
package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

var dir string

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "interop: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func read(name string) []byte {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		fail("%v", err)
	}
	return data
}

func readJSON(name string, v interface{}) {
	if err := json.Unmarshal(read(name), v); err != nil {
		fail("%s: %v", name, err)
	}
}

type checkpoint struct {
	origin string
	size   int64
	root   tlog.Hash
	// The subject-map root of the `credseal-map <base64>` extension line.
	mapRoot tlog.Hash
	// The trust-state digest of the `credseal-trust <base64>` extension line.
	trust tlog.Hash
}

// parseCheckpoint parses a C2SP tlog-checkpoint body: origin, size and root lines, then
// optional non-empty extension lines.
func parseCheckpoint(text string) checkpoint {
	if !strings.HasSuffix(text, "\n") {
		fail("checkpoint body does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		fail("checkpoint body has %d lines", len(lines))
	}
	for i, l := range lines {
		if l == "" {
			fail("checkpoint line %d is empty", i+1)
		}
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != lines[1] {
		fail("checkpoint size %q", lines[1])
	}
	root, err := tlog.ParseHash(lines[2])
	if err != nil {
		fail("checkpoint root %q: %v", lines[2], err)
	}
	// credseal checkpoints carry exactly two extension lines: `credseal-map <base64(root)>`
	// then `credseal-trust <base64(digest)>`.
	if len(lines) != 5 || !strings.HasPrefix(lines[3], "credseal-map ") || !strings.HasPrefix(lines[4], "credseal-trust ") {
		fail("checkpoint does not have the credseal-map and credseal-trust extension lines: %q", lines[3:])
	}
	mapRoot, err := tlog.ParseHash(strings.TrimPrefix(lines[3], "credseal-map "))
	if err != nil {
		fail("checkpoint map root %q: %v", lines[3], err)
	}
	trust, err := tlog.ParseHash(strings.TrimPrefix(lines[4], "credseal-trust "))
	if err != nil {
		fail("checkpoint trust digest %q: %v", lines[4], err)
	}
	return checkpoint{lines[0], size, root, mapRoot, trust}
}

func openCheckpoint(name string, verifier note.Verifier) checkpoint {
	msg := read(name)
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("%s: note.Open: %v", name, err)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != verifier.Name() || n.Sigs[0].Hash != verifier.KeyHash() {
		fail("%s: unexpected signatures %+v", name, n.Sigs)
	}
	cp := parseCheckpoint(n.Text)
	want, err := tlog.ParseHash(strings.TrimSpace(string(read("trust.txt"))))
	if err != nil || cp.trust != want {
		fail("%s: trust digest %v is not the one emitted (%v)", name, cp.trust, err)
	}
	if cp.origin != verifier.Name() {
		fail("%s: origin %q is not the key name %q", name, cp.origin, verifier.Name())
	}
	// Tampering: one byte of the body changed must fail.
	bad := bytes.Replace(msg, []byte("\n"+strconv.FormatInt(cp.size, 10)+"\n"), []byte("\n"+strconv.FormatInt(cp.size+1, 10)+"\n"), 1)
	if _, err := note.Open(bad, note.VerifierList(verifier)); err == nil {
		fail("%s: a tampered note opened", name)
	}
	return cp
}

func main() {
	if len(os.Args) != 2 && len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: interop <dir written by emit_interop> [<docs/vectors>]")
		os.Exit(2)
	}
	dir = os.Args[1]

	vkey := strings.TrimSpace(string(read("vkey.txt")))
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		fail("note.NewVerifier(%q): %v", vkey, err)
	}
	// name+hash+keydata; the base64 key data may itself contain '+'.
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		fail("vkey %q", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		fail("vkey key data")
	}
	pub := ed25519.PublicKey(raw[1:])

	cp := openCheckpoint("checkpoint.note", verifier)
	cp3 := openCheckpoint("checkpoint3.note", verifier)

	// The full receipts; the Merkle leaf of each is its header ‖ signature (format 3).
	receipts := readReceipts("receipts.json")
	leaves := make([][]byte, len(receipts))
	for i, r := range receipts {
		header, sig := checkReceipt(fmt.Sprintf("receipt %d", i), pub, r)
		leaves[i] = append(append([]byte(nil), header...), sig...)
	}
	if int64(len(leaves)) != cp.size {
		fail("%d leaves for a checkpoint of size %d", len(leaves), cp.size)
	}

	// Rebuild the log with tlog's own storage algorithm.
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("no stored hash %d", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, leaf := range leaves {
		hs, err := tlog.StoredHashes(int64(i), leaf, reader)
		if err != nil {
			fail("tlog.StoredHashes(%d): %v", i, err)
		}
		stored = append(stored, hs...)
	}
	var ours []tlog.Hash
	readJSON("stored_hashes.json", &ours)
	if len(ours) != len(stored) || int64(len(stored)) != tlog.StoredHashCount(cp.size) {
		fail("%d stored hashes, tlog has %d", len(ours), len(stored))
	}
	for i := range ours {
		if ours[i] != stored[i] {
			fail("stored hash %d differs", i)
		}
	}
	for _, c := range []checkpoint{cp, cp3} {
		th, err := tlog.TreeHash(c.size, reader)
		if err != nil || th != c.root {
			fail("tlog.TreeHash(%d) = %v, checkpoint root %v (%v)", c.size, th, c.root, err)
		}
	}

	// Inclusion proofs.
	var inclusion []struct {
		Index int64            `json:"index"`
		Proof tlog.RecordProof `json:"proof"`
	}
	readJSON("inclusion.json", &inclusion)
	if int64(len(inclusion)) != cp.size {
		fail("%d inclusion proofs", len(inclusion))
	}
	for _, p := range inclusion {
		h := tlog.RecordHash(leaves[p.Index])
		if err := tlog.CheckRecord(p.Proof, cp.size, cp.root, p.Index, h); err != nil {
			fail("tlog.CheckRecord(leaf %d): %v", p.Index, err)
		}
		want, err := tlog.ProveRecord(cp.size, p.Index, reader)
		if err != nil || len(want) != len(p.Proof) {
			fail("tlog.ProveRecord(%d): %v", p.Index, err)
		}
		for i := range want {
			if want[i] != p.Proof[i] {
				fail("proof of leaf %d differs from tlog's at %d", p.Index, i)
			}
		}
		if tlog.CheckRecord(p.Proof, cp.size, cp.root, p.Index, tlog.RecordHash(receipts[p.Index])) == nil {
			fail("the whole receipt %d verified as a leaf: the leaf must be header ‖ signature", p.Index)
		}
		if len(p.Proof) > 0 {
			bad := append(tlog.RecordProof(nil), p.Proof...)
			bad[0][0] ^= 1
			if tlog.CheckRecord(bad, cp.size, cp.root, p.Index, h) == nil {
				fail("a tampered proof of leaf %d verified", p.Index)
			}
		}
	}

	// Consistency proof.
	var consistency struct {
		OldSize int64          `json:"old_size"`
		NewSize int64          `json:"new_size"`
		Proof   tlog.TreeProof `json:"proof"`
	}
	readJSON("consistency.json", &consistency)
	if consistency.OldSize != cp3.size || consistency.NewSize != cp.size {
		fail("consistency sizes %d → %d", consistency.OldSize, consistency.NewSize)
	}
	if err := tlog.CheckTree(consistency.Proof, cp.size, cp.root, cp3.size, cp3.root); err != nil {
		fail("tlog.CheckTree(%d → %d): %v", cp3.size, cp.size, err)
	}
	want, err := tlog.ProveTree(cp.size, cp3.size, reader)
	if err != nil || len(want) != len(consistency.Proof) {
		fail("tlog.ProveTree: %v", err)
	}
	for i := range want {
		if want[i] != consistency.Proof[i] {
			fail("consistency proof differs from tlog's at %d", i)
		}
	}

	// Receipt signatures (format 3): header ‖ content ‖ signature, the signature over
	// "credseal:v1:receipt\x00" ‖ header, the header committing to the content's hash.
	for i, r := range receipts {
		header, sig := checkReceipt(fmt.Sprintf("receipt %d", i), pub, r)
		msg := append([]byte("credseal:v1:receipt\x00"), header...)
		msg[len(msg)-1] ^= 1
		if ed25519.Verify(pub, msg, sig) {
			fail("receipt %d: altered receipt verifies", i)
		}
	}

	rotation(verifier, vkey, cp, stored)
	tcp, ntiles := tiles()
	wname := cosignature(verifier, cp)

	fmt.Printf("interop: ok: %s, %d receipts, %d inclusion proofs, consistency %d → %d, %d stored hashes match tlog; log key rotation checked\n",
		verifier.Name(), len(leaves), len(inclusion), cp3.size, cp.size, len(stored))
	fmt.Printf("interop: ok: %s, %d hash tiles read through tlog.TileHashReader give the checkpoint's root at size %d; inclusion proofs from the tiles pass tlog.CheckRecord\n",
		tcp.origin, ntiles, tcp.size)
	fmt.Printf("interop: ok: the cosignature/v1 of witness %s on %s at size %d verifies through note.Open; tampered cosignatures are rejected\n",
		wname, cp.origin, cp.size)
	if len(os.Args) == 3 {
		committedVectors(os.Args[2])
	}
}

// cosigVerifier is a note.Verifier for an Ed25519 cosignature/v1 key (C2SP
// tlog-cosignature), written here from the specification alone.
type cosigVerifier struct {
	name string
	hash uint32
	pub  ed25519.PublicKey
	// The timestamp of the last signature that verified.
	time uint64
}

func (v *cosigVerifier) Name() string    { return v.name }
func (v *cosigVerifier) KeyHash() uint32 { return v.hash }

func (v *cosigVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	if t == 0 || t > 1<<63-1 {
		return false
	}
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
	if !ed25519.Verify(v.pub, signed, sig[8:]) {
		return false
	}
	v.time = t
	return true
}

// cosigKeyID is SHA-256(name ‖ "\n" ‖ 0x04 ‖ public key)[:4], big-endian.
func cosigKeyID(name string, pub []byte) uint32 {
	h := sha256.Sum256(append(append([]byte(name+"\n"), 0x04), pub...))
	return binary.BigEndian.Uint32(h[:4])
}

// newCosigVerifier parses a cosigner vkey name+hex8(key id)+base64(0x04 ‖ key) and checks
// its key id.
func newCosigVerifier(vkey string) *cosigVerifier {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		fail("witness vkey %q", vkey)
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 33 || raw[0] != 0x04 {
		fail("witness vkey %q: not an Ed25519 cosignature/v1 key (type 0x04)", vkey)
	}
	id, err := strconv.ParseUint(parts[1], 16, 32)
	if err != nil || len(parts[1]) != 8 || uint32(id) != cosigKeyID(parts[0], raw[1:]) {
		fail("witness vkey %q: the key id is not SHA-256(name, 0x0A, 0x04, key)[:4]", vkey)
	}
	return &cosigVerifier{name: parts[0], hash: uint32(id), pub: ed25519.PublicKey(raw[1:])}
}

// cosignature checks the witness's cosignature on the checkpoint at size 7 (cp); returns
// the witness's name.
func cosignature(log note.Verifier, cp checkpoint) string {
	w := newCosigVerifier(strings.TrimSpace(string(read("witness-vkey.txt"))))
	want, err := strconv.ParseUint(strings.TrimSpace(string(read("witness-time.txt"))), 10, 64)
	if err != nil {
		fail("witness-time.txt: %v", err)
	}
	msg := read("cosigned-checkpoint.note")
	if !bytes.HasPrefix(msg, read("checkpoint.note")) {
		fail("cosigned-checkpoint.note is not checkpoint.note with a line added")
	}
	n, err := note.Open(msg, note.VerifierList(log, w))
	if err != nil {
		fail("cosigned-checkpoint.note: note.Open: %v", err)
	}
	if len(n.Sigs) != 2 || n.Sigs[0].Hash != log.KeyHash() || n.Sigs[1].Name != w.name || n.Sigs[1].Hash != w.hash {
		fail("cosigned-checkpoint.note: expected the log's then the witness's signature, got %+v", n.Sigs)
	}
	if w.time != want {
		fail("cosignature time %d, emitted %d", w.time, want)
	}
	if c := parseCheckpoint(n.Text); c.size != cp.size || c.root != cp.root {
		fail("the cosigned checkpoint is not the one at size %d", cp.size)
	}
	// The witness alone (a client that trusts only the witness) verifies it too.
	if _, err := note.Open(msg, note.VerifierList(w)); err != nil {
		fail("cosigned-checkpoint.note with the witness only: %v", err)
	}
	// Tampering: a bit of the timestamp, of the signature, or of the body.
	lines := strings.Split(strings.TrimSuffix(string(msg), "\n"), "\n")
	last := lines[len(lines)-1]
	prefix := "— " + w.name + " "
	if !strings.HasPrefix(last, prefix) {
		fail("the last line is not the witness's: %q", last)
	}
	sig, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(last, prefix))
	if err != nil || len(sig) != 4+8+64 {
		fail("the witness's line is not key id ‖ timestamp ‖ signature: %v", err)
	}
	for _, at := range []int{4 + 7, 4 + 8, len(sig) - 1} {
		bad := append([]byte(nil), sig...)
		bad[at] ^= 1
		lines[len(lines)-1] = prefix + base64.StdEncoding.EncodeToString(bad)
		tampered := []byte(strings.Join(lines, "\n") + "\n")
		if _, err := note.Open(tampered, note.VerifierList(w)); err == nil {
			fail("a cosignature with byte %d changed verified", at)
		}
	}
	body := bytes.Replace(msg, []byte(fmt.Sprintf("\n%d\n", cp.size)), []byte(fmt.Sprintf("\n%d\n", cp.size+1)), 1)
	if _, err := note.Open(body, note.VerifierList(w)); err == nil {
		fail("a cosignature on another size verified")
	}
	return w.name
}

// fileTiles is a tlog.TileReader over C2SP hash tile files under root: Go's path
// tile/8/<L>/<N>[.p/<W>] is the file tile/<L>/<N>[.p/<W>] (C2SP paths carry no height).
// flip, if set, names a tile whose byte at flipAt (negative: from the end) is changed as it
// is read.
type fileTiles struct {
	root   string
	flip   string
	flipAt int
	read   map[string]bool
}

func (f *fileTiles) Height() int { return 8 }

func (f *fileTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != 8 || t.L < 0 {
			return nil, fmt.Errorf("tile %s: not a hash tile of height 8", t.Path())
		}
		path := "tile/" + strings.TrimPrefix(t.Path(), "tile/8/")
		data, err := os.ReadFile(filepath.Join(f.root, filepath.FromSlash(path)))
		if err != nil {
			return nil, err
		}
		if path == f.flip && len(data) > 0 {
			data[(f.flipAt+len(data))%len(data)] ^= 1
		}
		f.read[path] = true
		out[i] = data
	}
	return out, nil
}

func (f *fileTiles) SaveTiles([]tlog.Tile, [][]byte) {}

// checkTiles reads the tile log of checkpoint cp through tlog.TileHashReader over ft: the
// tree hash must be the checkpoint's root, and proofs of a leaf in each level-0 tile (7, 300,
// the last) must pass tlog.CheckRecord against that root. Together these depend on every
// byte of every tile: the tree hash on the level-1 tile and the partial level-0 tile, the
// proof of a leaf on every other hash of its level-0 tile.
//
// CheckRecord is what authenticates the full level-0 tiles here: golang.org/x/mod's
// tileHashReader (v0.7.0, Debian's) returned a proof built from a tampered tile/0/000
// without an error for this tree — its loop authenticating tiles against their parents
// starts at len(stx), the number of subtree roots (4 at size 600), not at the number of
// distinct tiles holding them (2), so the first tiles after those are not checked.
func checkTiles(cp checkpoint, ft *fileTiles) error {
	hr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, ft)
	th, err := tlog.TreeHash(cp.size, hr)
	if err != nil {
		return fmt.Errorf("tlog.TreeHash(%d): %v", cp.size, err)
	}
	if th != cp.root {
		return fmt.Errorf("tlog.TreeHash(%d) = %v, checkpoint root %v", cp.size, th, cp.root)
	}
	for _, i := range []int64{7, 300, cp.size - 1} {
		p, err := tlog.ProveRecord(cp.size, i, hr)
		if err != nil {
			return fmt.Errorf("tlog.ProveRecord(%d, %d): %v", cp.size, i, err)
		}
		leaf := []byte(fmt.Sprintf("credseal tile interop leaf %d", i))
		if err := tlog.CheckRecord(p, cp.size, cp.root, i, tlog.RecordHash(leaf)); err != nil {
			return fmt.Errorf("tlog.CheckRecord(leaf %d): %v", i, err)
		}
	}
	return nil
}

// tiles checks the tile log: its checkpoint opens with its own key, checkTiles passes over
// our tile files and reads every one of them, and fails with any tile's first or last byte
// changed. It returns the checkpoint and the number of tiles.
func tiles() (checkpoint, int) {
	vkey := strings.TrimSpace(string(read("tiles-vkey.txt")))
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("note.NewVerifier(%q): %v", vkey, err)
	}
	cp := openCheckpoint("tiles-checkpoint.note", v)
	if cp.size <= 256 || cp.size%256 == 0 {
		fail("tile log of size %d: want more than one full tile and a partial one", cp.size)
	}
	root := filepath.Join(dir, "tiles")
	ft := &fileTiles{root: root, read: map[string]bool{}}
	if err := checkTiles(cp, ft); err != nil {
		fail("tiles: %v", err)
	}
	// Every tile we wrote was read.
	var paths []string
	err = filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		if !ft.read[filepath.ToSlash(rel)] {
			return fmt.Errorf("tile %s was not read", rel)
		}
		paths = append(paths, filepath.ToSlash(rel))
		return nil
	})
	if err != nil || len(paths) != len(ft.read) {
		fail("tiles: %v (%d files, %d tiles read)", err, len(paths), len(ft.read))
	}
	// Tampering: any tile with its first or last byte changed fails.
	for _, path := range paths {
		for _, at := range []int{0, -1} {
			bad := &fileTiles{root: root, flip: path, flipAt: at, read: map[string]bool{}}
			if checkTiles(cp, bad) == nil {
				fail("tiles: %s with byte %d changed passed", path, at)
			}
		}
	}
	return cp, len(paths)
}

// rotation checks the log key rotation: the handover note, the new key's checkpoint and
// receipts, and the consistency of the rotated log with the old checkpoint.
func rotation(old note.Verifier, oldKey string, cp checkpoint, stored []tlog.Hash) {
	newKey := strings.TrimSpace(string(read("vkey2.txt")))
	nv, err := note.NewVerifier(newKey)
	if err != nil {
		fail("note.NewVerifier(%q): %v", newKey, err)
	}
	if nv.Name() != old.Name() || nv.KeyHash() == old.KeyHash() {
		fail("the new key must have the log's name and another key id")
	}
	// The handover: both signatures verify; its text names the log, the size and both keys.
	msg := read("handover.note")
	n, err := note.Open(msg, note.VerifierList(old, nv))
	if err != nil {
		fail("handover.note: note.Open: %v", err)
	}
	if len(n.Sigs) != 2 || n.Sigs[0].Hash != old.KeyHash() || n.Sigs[1].Hash != nv.KeyHash() {
		fail("handover.note: expected signatures of the old then the new key, got %+v", n.Sigs)
	}
	want := fmt.Sprintf("credseal log key handover\n%s\n%d\n%s\n%s\n", old.Name(), cp.size, oldKey, newKey)
	if n.Text != want {
		fail("handover.note: text %q, want %q", n.Text, want)
	}
	// Each key on its own verifies its line (a verifier that knows only one key).
	for _, v := range []note.Verifier{old, nv} {
		one, err := note.Open(msg, note.VerifierList(v))
		if err != nil || len(one.Sigs) != 1 {
			fail("handover.note with one verifier: %v", err)
		}
	}
	bad := bytes.Replace(msg, []byte(fmt.Sprintf("\n%d\n", cp.size)), []byte(fmt.Sprintf("\n%d\n", cp.size+1)), 1)
	if _, err := note.Open(bad, note.VerifierList(old, nv)); err == nil {
		fail("a handover with another size opened")
	}

	// The new key's checkpoint: a plain C2SP verifier with the new key accepts it; the old
	// key's verifier finds no signature of its own.
	cp9 := openCheckpoint("checkpoint9.note", nv)
	if _, err := note.Open(read("checkpoint9.note"), note.VerifierList(old)); err == nil {
		fail("checkpoint9.note opened with the retired key")
	}
	var consistency struct {
		OldSize int64          `json:"old_size"`
		NewSize int64          `json:"new_size"`
		Proof   tlog.TreeProof `json:"proof"`
	}
	readJSON("consistency9.json", &consistency)
	if consistency.OldSize != cp.size || consistency.NewSize != cp9.size {
		fail("consistency9 sizes %d → %d", consistency.OldSize, consistency.NewSize)
	}
	if err := tlog.CheckTree(consistency.Proof, cp9.size, cp9.root, cp.size, cp.root); err != nil {
		fail("tlog.CheckTree(%d → %d): %v", cp.size, cp9.size, err)
	}

	// The new key's receipts.
	raw, err := base64.StdEncoding.DecodeString(strings.SplitN(newKey, "+", 3)[2])
	if err != nil || len(raw) != 33 || raw[0] != 1 {
		fail("vkey2 key data")
	}
	pub := ed25519.PublicKey(raw[1:])
	rotated := readReceipts("rotated_receipts.json")
	if int64(len(rotated)) != cp9.size-cp.size {
		fail("%d rotated receipts for sizes %d → %d", len(rotated), cp.size, cp9.size)
	}
	reader := tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		for i, x := range indexes {
			if x < 0 || x >= int64(len(stored)) {
				return nil, fmt.Errorf("no stored hash %d", x)
			}
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, r := range rotated {
		header, sig := checkReceipt(fmt.Sprintf("rotated receipt %d", i), pub, r)
		hs, err := tlog.StoredHashes(cp.size+int64(i), append(append([]byte(nil), header...), sig...), reader)
		if err != nil {
			fail("tlog.StoredHashes(%d): %v", cp.size+int64(i), err)
		}
		stored = append(stored, hs...)
	}
	if th, err := tlog.TreeHash(cp9.size, reader); err != nil || th != cp9.root {
		fail("tlog.TreeHash(%d) = %v, checkpoint9 root %v (%v)", cp9.size, th, cp9.root, err)
	}
}

// readReceipts reads a JSON list of base64 receipts.
func readReceipts(name string) [][]byte {
	var list []string
	readJSON(name, &list)
	out := make([][]byte, len(list))
	for i, s := range list {
		r, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			fail("%s: receipt %d: %v", name, i, err)
		}
		out[i] = r
	}
	return out
}

// checkReceipt splits a format-3 receipt into header, content and signature, verifies the
// signature over the header with pub and the header's content hash; it returns the header
// and the signature.
func checkReceipt(what string, pub ed25519.PublicKey, leaf []byte) ([]byte, []byte) {
	if len(leaf) < 2+64 || leaf[0] != 3 {
		fail("%s: not a version-3 receipt", what)
	}
	rest := leaf[:len(leaf)-64]
	sig := leaf[len(leaf)-64:]
	hlen, contentHash := headerLen(what, rest)
	header, content := rest[:hlen], rest[hlen:]
	if !ed25519.Verify(pub, append([]byte("credseal:v1:receipt\x00"), header...), sig) {
		fail("%s: signature does not verify", what)
	}
	h := sha256.Sum256(append([]byte("credseal:v1:receipt-content\x00"), content...))
	if !bytes.Equal(h[:], contentHash) {
		fail("%s: content hash differs from the signed header's", what)
	}
	return header, sig
}

// headerLen decodes 0x03 ‖ postcard(ReceiptHeader{index u64, time u64, subject option of 32
// bytes, chain option of {counter u64, prev option of 32 bytes}, disclose_after option of
// u64, content_hash 32 bytes}) at the start of b and returns its length and content_hash.
func headerLen(what string, b []byte) (int, []byte) {
	pos := 1
	need := func(n int) {
		if pos+n > len(b) {
			fail("%s: header truncated", what)
		}
	}
	varint := func() {
		for i := 0; ; i++ {
			need(1)
			c := b[pos]
			pos++
			if c < 0x80 {
				return
			}
			if i == 9 {
				fail("%s: varint too long", what)
			}
		}
	}
	option := func(some func()) {
		need(1)
		tag := b[pos]
		pos++
		switch tag {
		case 0:
		case 1:
			some()
		default:
			fail("%s: option tag %d", what, tag)
		}
	}
	bytes32 := func() { need(32); pos += 32 }
	varint()        // index
	varint()        // time
	option(bytes32) // subject
	option(func() { // chain
		varint()        // counter
		option(bytes32) // prev
	})
	option(varint) // disclose_after
	need(32)
	hash := b[pos : pos+32]
	pos += 32
	return pos, hash
}
