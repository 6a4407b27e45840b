package tlog

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func testSigners(t testing.TB) *Signers {
	t.Helper()
	skey, _, err := GenerateKey("log.example.org/test")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ParseSigners(strings.NewReader("# the log's key\n\n" + skey + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signCheckpoint(t testing.TB, s note.Signer, size uint64, root []byte) []byte {
	t.Helper()
	b, err := note.Sign(&note.Note{Text: fmt.Sprintf("%s\n%d\n%s\n", s.Name(), size, base64.StdEncoding.EncodeToString(root))}, s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every generated key parses back, whatever characters its base64 holds ('+' among them:
// the key format separates fields with '+').
func TestGeneratedKeysParse(t *testing.T) {
	for i := range 200 {
		skey, vkey, err := GenerateKey("log.example.org/test")
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseSigners(strings.NewReader(skey))
		if err != nil {
			t.Fatalf("key %d %q: %v", i, skey, err)
		}
		if s.PublicKeys[0] != vkey {
			t.Fatalf("key %d: public key %q, want %q", i, s.PublicKeys[0], vkey)
		}
	}
}

func TestParseSignersRotation(t *testing.T) {
	old, _, _ := GenerateKey("log.example.org/test")
	cur, _, _ := GenerateKey("log.example.org/test")
	other, _, _ := GenerateKey("another.example.org")
	s, err := ParseSigners(strings.NewReader(old + "\n" + cur + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Others) != 1 || s.Primary.KeyHash() == s.Others[0].KeyHash() {
		t.Fatalf("primary and others: %+v", s)
	}
	if want, _ := note.NewSigner(cur); s.Primary.KeyHash() != want.KeyHash() {
		t.Error("the primary is not the last key of the file")
	}
	for _, in := range []string{"", "# only a comment\n", "not a key\n", old + "\n" + other + "\n"} {
		if _, err := ParseSigners(strings.NewReader(in)); !errors.Is(err, ErrKeys) {
			t.Errorf("ParseSigners(%q): %v, want ErrKeys", in, err)
		}
	}
}

func TestOpen(t *testing.T) {
	s := testSigners(t)
	root := bytes.Repeat([]byte{1}, 32)
	raw := signCheckpoint(t, s.Primary, 42, root)
	cp, err := Open(raw, s.Verifiers, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != 42 || !bytes.Equal(cp.Root[:], root) || cp.Origin != "log.example.org/test" {
		t.Fatalf("opened %+v", cp)
	}
	altered := bytes.Replace(raw, []byte("\n42\n"), []byte("\n43\n"), 1)
	if _, err := Open(altered, s.Verifiers, nil); !errors.Is(err, ErrSignature) {
		t.Errorf("altered size: %v, want ErrSignature", err)
	}
	stranger := testSigners(t)
	if _, err := Open(raw, stranger.Verifiers, nil); !errors.Is(err, ErrSignature) {
		t.Errorf("another log's key: %v, want ErrSignature", err)
	}
	if _, err := Open([]byte("garbage"), s.Verifiers, nil); err == nil {
		t.Error("garbage opened")
	}

	// A witness cosigns; the merged note carries both and Open names the witness.
	wskey, wvkey, _ := GenerateKey("witness.example.org")
	ws, err := CosignatureSigner(wskey)
	if err != nil {
		t.Fatal(err)
	}
	wv, err := WitnessVerifiers([]string{wvkey})
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := Cosign(raw, ws)
	if err != nil {
		t.Fatal(err)
	}
	cp, err = Open(cosigned, s.Verifiers, wv)
	if err != nil || len(cp.Cosigners) != 1 || cp.Cosigners[0] != "witness.example.org" {
		t.Fatalf("cosigned: %+v %v", cp, err)
	}
	if err := RequireQuorum(cp, 2); !errors.Is(err, ErrQuorum) {
		t.Errorf("quorum of 2 with one witness: %v", err)
	}
	// Merging is idempotent and refuses notes of another body.
	merged, err := MergeSignatures(cosigned, cosigned, raw)
	if err != nil || !bytes.Equal(merged, cosigned) {
		t.Errorf("merging the same signatures again changed the note: %v", err)
	}
	if _, err := MergeSignatures(raw, signCheckpoint(t, s.Primary, 43, root)); !errors.Is(err, ErrCheckpoint) {
		t.Errorf("merging notes of different checkpoints: %v", err)
	}
}

func TestParseBundle(t *testing.T) {
	good := Bundle{LeafIndex: 1, LeafHash: strings.Repeat("ab", 32), TreeSize: 2, Inclusion: []string{strings.Repeat("cd", 32)}}
	b, _ := json.Marshal(good)
	if _, err := ParseBundle(b); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Bundle){
		"leaf beyond the tree": func(b *Bundle) { b.LeafIndex = 2 },
		"short leaf hash":      func(b *Bundle) { b.LeafHash = "ab" },
		"bad proof hash":       func(b *Bundle) { b.Inclusion = []string{"zz"} },
		"empty tree":           func(b *Bundle) { b.TreeSize, b.LeafIndex = 0, 0 },
	} {
		c := good
		mut(&c)
		raw, _ := json.Marshal(c)
		if _, err := ParseBundle(raw); !errors.Is(err, ErrBundle) {
			t.Errorf("%s: %v, want ErrBundle", name, err)
		}
	}
}

// FuzzOpen: a checkpoint anyone may post (POST /cosignature) or hand to verify never
// panics Open, and what opens is signed by the log.
func FuzzOpen(f *testing.F) {
	s := testSigners(f)
	raw := signCheckpoint(f, s.Primary, 7, bytes.Repeat([]byte{3}, 32))
	f.Add(raw)
	f.Add([]byte("log.example.org/test\n7\nAAAA\n\n— log.example.org/test abc\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := Open(b, s.Verifiers, nil)
		if err == nil && cp.Origin != "log.example.org/test" {
			t.Fatalf("opened a checkpoint of origin %q", cp.Origin)
		}
		_, _ = MergeSignatures(raw, b)
	})
}

// FuzzParseBundle: a proof bundle from anyone never panics ParseBundle or Verify.
func FuzzParseBundle(f *testing.F) {
	s := testSigners(f)
	good, _ := json.Marshal(Bundle{LeafIndex: 0, LeafHash: strings.Repeat("ab", 32), TreeSize: 1,
		Inclusion: []string{}, Checkpoint: string(signCheckpoint(f, s.Primary, 1, bytes.Repeat([]byte{0xab}, 32)))})
	f.Add(good)
	f.Add([]byte(`{"leaf_index":1,"tree_size":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		pb, err := ParseBundle(b)
		if err != nil {
			return
		}
		_, _ = pb.Verify(s.Verifiers, nil)
	})
}
