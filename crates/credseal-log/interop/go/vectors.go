package main

// committedVectors checks docs/vectors/ (docs/vectors/README.md) with Go's sumdb/note and
// sumdb/tlog and crypto/ed25519, from docs/formats.md alone: nothing here shares code with
// the Rust side.

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func vectorJSON(vdir, name string, v interface{}) {
	data, err := os.ReadFile(filepath.Join(vdir, name))
	if err != nil {
		fail("vectors: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		fail("vectors: %s: %v", name, err)
	}
}

func unhex(what, s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		fail("vectors: %s: %v", what, err)
	}
	return b
}

// logKey is the Ed25519 public key of a note verifier key name+id+base64(0x01 ‖ key).
func logKey(vkey string) ed25519.PublicKey {
	parts := strings.SplitN(vkey, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[len(parts)-1])
	if len(parts) != 3 || err != nil || len(raw) != 33 || raw[0] != 1 {
		fail("vectors: vkey %q", vkey)
	}
	return ed25519.PublicKey(raw[1:])
}

func verifier(vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		fail("vectors: note.NewVerifier(%q): %v", vkey, err)
	}
	return v
}

// The envelope of docs/formats.md §8: version:u8 ‖ tag:u8 ‖ varint(len(body)) ‖ body ‖ signature (64).
func checkSigned(vdir, kind string) {
	var v struct {
		Tag     int `json:"tag"`
		Version int `json:"wire_version"`
		Signer  struct {
			PublicKeyHex string `json:"public_key_hex"`
		} `json:"signer"`
		BodyHex      string `json:"body_hex"`
		SignatureHex string `json:"signature_hex"`
	}
	var raw map[string]interface{}
	vectorJSON(vdir, kind+".json", &v)
	vectorJSON(vdir, kind+".json", &raw)
	wireHex, _ := raw["wire_hex"].(string)
	text, _ := raw["text"].(string)
	wire := unhex(kind, wireHex)
	if len(wire) < 2+1+64 || int(wire[0]) != v.Version || int(wire[1]) != v.Tag {
		fail("vectors: %s: version and tag %v", kind, wire[:2])
	}
	n, pos := uint64(0), 2
	for shift := 0; ; shift += 7 {
		if pos >= len(wire) || shift > 63 {
			fail("vectors: %s: body length", kind)
		}
		c := wire[pos]
		pos++
		n |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
	}
	if uint64(len(wire)-pos) != n+64 {
		fail("vectors: %s: %d bytes after the length %d", kind, len(wire)-pos, n)
	}
	body, sig := wire[pos:pos+int(n)], wire[pos+int(n):]
	if !bytes.Equal(body, unhex(kind, v.BodyHex)) || !bytes.Equal(sig, unhex(kind, v.SignatureHex)) {
		fail("vectors: %s: body or signature differ from the envelope's", kind)
	}
	pub := ed25519.PublicKey(unhex(kind, v.Signer.PublicKeyHex))
	msg := append([]byte("credseal:v1:"+kind+"\x00"), body...)
	if !ed25519.Verify(pub, msg, sig) {
		fail("vectors: %s: the signature does not verify", kind)
	}
	msg[len(msg)-1] ^= 1
	if ed25519.Verify(pub, msg, sig) {
		fail("vectors: %s: an altered body verifies", kind)
	}
	if text != "cs1."+kind+"."+base64.RawURLEncoding.EncodeToString(wire) {
		fail("vectors: %s: the text is not cs1.%s.base64url(wire)", kind, kind)
	}
}

type cpVector struct {
	Note        string `json:"note"`
	LogVkey     string `json:"log_vkey"`
	Origin      string `json:"origin"`
	Size        int64  `json:"size"`
	Root        string `json:"root"`
	MapRoot     string `json:"map_root"`
	TrustDigest string `json:"trust_digest"`
}

func checkCheckpoint(what string, c cpVector) checkpoint {
	n, err := note.Open([]byte(c.Note), note.VerifierList(verifier(c.LogVkey)))
	if err != nil {
		fail("vectors: %s: note.Open: %v", what, err)
	}
	cp := parseCheckpoint(n.Text)
	if cp.origin != c.Origin || cp.size != c.Size || cp.root.String() != c.Root ||
		cp.mapRoot.String() != c.MapRoot || cp.trust.String() != c.TrustDigest {
		fail("vectors: %s: the checkpoint's lines are not the listed fields", what)
	}
	return cp
}

func committedVectors(vdir string) {
	kinds := []string{"credential", "token", "consent", "revocations", "self-query", "bundle-request",
		"staff-request", "shred-order", "staff-order", "batch", "provider-credential",
		"consent-withdrawal", "objection", "objection-answer"}
	for _, k := range kinds {
		checkSigned(vdir, k)
	}

	var receipts struct {
		Raw []map[string]interface{} `json:"receipts"`
	}
	vectorJSON(vdir, "receipts.json", &receipts)
	for _, r := range receipts.Raw {
		str := func(k string) string { s, _ := r[k].(string); return s }
		name := str("name")
		header, sig := checkReceipt("vectors: receipt "+name, logKey(str("log_vkey")), unhex(name, str("receipt_hex")))
		if !bytes.Equal(header, unhex(name, str("header_hex"))) {
			fail("vectors: receipt %s: header", name)
		}
		leaf := sha256.Sum256(append(append([]byte{0}, header...), sig...))
		if hex.EncodeToString(leaf[:]) != str("leaf_hash_hex") {
			fail("vectors: receipt %s: leaf hash", name)
		}
	}

	var cps struct {
		Size5    cpVector `json:"size_5"`
		Size10   cpVector `json:"size_10"`
		Cosigned struct {
			Note        string `json:"note"`
			LogVkey     string `json:"log_vkey"`
			WitnessVkey string `json:"witness_vkey"`
			WitnessTime uint64 `json:"witness_time"`
		} `json:"cosigned"`
		Bad []struct {
			Name    string `json:"name"`
			Note    string `json:"note"`
			LogVkey string `json:"log_vkey"`
		} `json:"bad"`
	}
	vectorJSON(vdir, "checkpoints.json", &cps)
	checkCheckpoint("checkpoint size_5", cps.Size5)
	checkCheckpoint("checkpoint size_10", cps.Size10)
	w := newCosigVerifier(cps.Cosigned.WitnessVkey)
	if _, err := note.Open([]byte(cps.Cosigned.Note), note.VerifierList(verifier(cps.Cosigned.LogVkey), w)); err != nil || w.time != cps.Cosigned.WitnessTime {
		fail("vectors: cosigned checkpoint: %v (time %d)", err, w.time)
	}
	for _, b := range cps.Bad {
		if _, err := note.Open([]byte(b.Note), note.VerifierList(verifier(b.LogVkey))); err == nil {
			fail("vectors: bad checkpoint %s opened", b.Name)
		}
	}

	var h struct {
		Note     string `json:"note"`
		Origin   string `json:"origin"`
		FromSize int64  `json:"from_size"`
		OldVkey  string `json:"old_vkey"`
		NewVkey  string `json:"new_vkey"`
	}
	vectorJSON(vdir, "handover.json", &h)
	old, nv := verifier(h.OldVkey), verifier(h.NewVkey)
	hn, err := note.Open([]byte(h.Note), note.VerifierList(old, nv))
	if err != nil || len(hn.Sigs) != 2 || hn.Sigs[0].Hash != old.KeyHash() || hn.Sigs[1].Hash != nv.KeyHash() {
		fail("vectors: handover: %v", err)
	}
	want := fmt.Sprintf("credseal log key handover\n%s\n%d\n%s\n%s\n", h.Origin, h.FromSize, h.OldVkey, h.NewVkey)
	if hn.Text != want {
		fail("vectors: handover text %q", hn.Text)
	}

	var b struct {
		LogVkey  string `json:"log_vkey"`
		LogVkey2 string `json:"log_vkey_after_rotation"`
		Proofs   struct {
			Checkpoint    string `json:"checkpoint"`
			OldCheckpoint string `json:"old_checkpoint"`
			Entries       []struct {
				Index     int64            `json:"index"`
				LeafHex   string           `json:"leaf_hex"`
				Inclusion tlog.RecordProof `json:"inclusion"`
			} `json:"entries"`
			Consistency struct {
				OldSize int64          `json:"old_size"`
				NewSize int64          `json:"new_size"`
				Proof   tlog.TreeProof `json:"proof"`
			} `json:"consistency"`
		} `json:"second_bundle_proofs"`
	}
	vectorJSON(vdir, "bundle.json", &b)
	open := func(msg, vkey string) checkpoint {
		n, err := note.Open([]byte(msg), note.VerifierList(verifier(vkey)))
		if err != nil {
			fail("vectors: bundle checkpoint: %v", err)
		}
		return parseCheckpoint(n.Text)
	}
	cp, old5 := open(b.Proofs.Checkpoint, b.LogVkey2), open(b.Proofs.OldCheckpoint, b.LogVkey)
	for _, e := range b.Proofs.Entries {
		leaf := unhex("bundle leaf", e.LeafHex)
		// The leaf is header ‖ signature; the key of index i is the original below the
		// handover's size, the new key from it on.
		key := logKey(b.LogVkey)
		if e.Index >= h.FromSize {
			key = logKey(b.LogVkey2)
		}
		if len(leaf) < 64 || !ed25519.Verify(key, append([]byte("credseal:v1:receipt\x00"), leaf[:len(leaf)-64]...), leaf[len(leaf)-64:]) {
			fail("vectors: bundle leaf %d: the header's signature does not verify", e.Index)
		}
		if err := tlog.CheckRecord(e.Inclusion, cp.size, cp.root, e.Index, tlog.RecordHash(leaf)); err != nil {
			fail("vectors: bundle leaf %d: tlog.CheckRecord: %v", e.Index, err)
		}
	}
	c := b.Proofs.Consistency
	if c.OldSize != old5.size || c.NewSize != cp.size {
		fail("vectors: bundle consistency sizes %d → %d", c.OldSize, c.NewSize)
	}
	if err := tlog.CheckTree(c.Proof, cp.size, cp.root, old5.size, old5.root); err != nil {
		fail("vectors: bundle consistency: tlog.CheckTree: %v", err)
	}
	fmt.Printf("interop: ok: docs/vectors: %d signed kinds, %d receipts, checkpoints %d and %d with a cosignature, the handover, %d inclusion proofs and the consistency proof %d → %d of the bundle\n",
		len(kinds), len(receipts.Raw), cps.Size5.Size, cps.Size10.Size, len(b.Proofs.Entries), c.OldSize, c.NewSize)
}
