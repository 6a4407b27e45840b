package token_test

import (
	"bytes"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"votestream/ingest/token"
)

func TestConsoleSignatureRotation(t *testing.T) {
	old := bytes.Repeat([]byte{1}, 32)
	now := time.Date(2023, 5, 14, 18, 0, 0, 0, time.UTC)
	signer, err := token.NewConsoleKeys("c1", map[string][]byte{"c1": old})
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := token.ParseConsoleKeys(strings.NewReader("# rotated\nc1 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\nc2 AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\n"))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"review_id":"x"}`)
	req, _ := http.NewRequest(http.MethodPost, "http://ingest/v1/reviews", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	signer.Sign(req, "/v1/reviews", body, now)
	if err := rotated.Verify(req, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("the old key after a rotation: %v", err)
	}
	if err := rotated.Verify(req, body, now.Add(6*time.Minute), 5*time.Minute); !errors.Is(err, token.ErrConsoleSignature) {
		t.Errorf("6 minutes late: %v", err)
	}
	rotated.Sign(req, "/v1/reviews", body, now)
	if id, _, _ := strings.Cut(req.Header.Get(token.HeaderConsoleSignature), "."); id != "c2" {
		t.Errorf("signed with %q, want the last key c2", id)
	}
	if err := signer.Verify(req, body, now, 5*time.Minute); !errors.Is(err, token.ErrConsoleSignature) {
		t.Errorf("a key the verifier does not know: %v", err)
	}
	req.Header.Set(token.HeaderConsoleSignature, "c2.!!")
	if err := rotated.Verify(req, body, now, 5*time.Minute); !errors.Is(err, token.ErrConsoleSignature) {
		t.Errorf("garbage signature: %v", err)
	}
}
