package verify

import (
	"errors"
	"testing"
)

func TestExitCodes(t *testing.T) {
	for err, want := range map[error]int{
		nil:           0,
		ErrFailed:     1,
		ErrUnreadable: 3,
		ErrNotInLog:   4,
		errors.Join(ErrUnreadable, errors.New("x")): 3,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestNewTrustRefuses(t *testing.T) {
	if _, err := NewTrust(nil, nil, 0); !errors.Is(err, ErrUnreadable) {
		t.Errorf("no log key: %v", err)
	}
	if _, err := NewTrust([]string{"not a key"}, nil, 0); !errors.Is(err, ErrUnreadable) {
		t.Errorf("bad log key: %v", err)
	}
}

// FuzzSubject: a report or receipt file from anyone never panics Leaf.
func FuzzSubject(f *testing.F) {
	f.Add([]byte(`{"submission_id":"a","station_id":"BKK_1_0001","ballot":"constituency","stage":"final","received_at":"2023-05-14T10:45:00Z","votes":{"1":2}}`))
	f.Add([]byte(`{"submission_id":"a","leaf_hash":"` + "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff" + `"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = Subject{Report: b}.Leaf()
		_, _, _ = Subject{Receipt: b}.Leaf()
	})
}
