package feed

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"votestream/schemas"
)

// FuzzParseEventID: Last-Event-ID comes from any client. Whatever it holds, parsing must
// not panic, and an id that parses must print back as itself.
func FuzzParseEventID(f *testing.F) {
	for _, s := range []string{"a1b2c3d4-17", "a1b2c3d4-0", "deadbeef-18446744073709551615", "hello", "", "-", "a--1", " x-1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		epoch, seq, ok := parseEventID(s)
		if ok && formatEventID(epoch, seq) != strings.TrimSpace(s) {
			t.Fatalf("%q parsed as %q %d", s, epoch, seq)
		}
	})
}

// FuzzETagMatches: If-None-Match comes from any client; a header naming the tag matches.
func FuzzETagMatches(f *testing.F) {
	for _, s := range []string{`W/"ab-3"`, `"x", W/"ab-3"`, `*`, `"ab-3`, `W/`, `,,,`} {
		f.Add(s, "ab-3")
	}
	f.Fuzz(func(t *testing.T, header, id string) {
		etagMatches(header, id)
		if !strings.Contains(id, `"`) && !etagMatches(`"other", `+etag(id), id) {
			t.Fatalf("a list ending in the tag %q does not match", id)
		}
	})
}

// FuzzStreamQuery: the stream's and the list's query strings. Anything a filter accepts
// is a constituency or province of the reference.
func FuzzStreamQuery(f *testing.F) {
	c := smallCountry(f)
	for _, s := range []string{"constituency=BKK_1", "constituency=BKK_1,CMI_1&province=BKK", "province=", "constituency=%00", "last_event_id=x-1", "province=BKK&province=CMI"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		filter, err := parseStreamFilter(q, c)
		var pe *paramError
		if err != nil && !errors.As(err, &pe) {
			t.Fatalf("error of another kind: %v", err)
		}
		for id := range filter.constituencies {
			if _, ok := c.Constituency(id); !ok {
				t.Fatalf("unknown constituency %q accepted", id)
			}
		}
		for id := range filter.provinces {
			if _, ok := c.Province(id); !ok {
				t.Fatalf("unknown province %q accepted", id)
			}
		}
		if p, err := parseProvince(q, c); err == nil && p != "" {
			if _, ok := c.Province(p); !ok {
				t.Fatalf("unknown province %q accepted", p)
			}
		}
	})
}

// FuzzParseKeys: the key file is edited by hand on the night.
func FuzzParseKeys(f *testing.F) {
	for _, s := range []string{
		"# keys\nnation-0123456789abcdef Nation TV\nthaipbs-0123456789abcdef\tไทยพีบีเอส\n",
		"\xef\xbb\xbfaaaaaaaaaaaaaaaa A\r\n", "short x\n", "aaaaaaaaaaaaaaaa\n", "",
		"aaaaaaaaaaaaaaaa A\n!limit rate=2.5 burst=10 A\n", "!limit\trate=1e9 burst=-1 A\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, limits, err := ParseKeyFile(data)
		if err != nil && !errors.Is(err, ErrKeys) {
			t.Fatalf("error without ErrKeys: %v", err)
		}
		for name, l := range limits {
			if !(l.Rate > 0 && l.Rate <= maxRate) || l.Burst < 1 || l.Burst > maxBurst || name == "" {
				t.Fatalf("limit %q %+v", name, l)
			}
		}
		for _, name := range set {
			if strings.TrimSpace(name) != name || name == "" {
				t.Fatalf("newsroom name %q", name)
			}
		}
	})
}

// FuzzViewApply: a station-results.v1 value from the topic, applied and then withdrawn,
// leaves the view's totals as they were: nothing of a result outlives it.
func FuzzViewApply(f *testing.F) {
	c := smallCountry(f)
	for _, s := range []string{
		`{"station_id":"BKK_1_001","constituency_id":"BKK_1","ballot":"constituency","version":3,"status":"corroborated","stage":"final","ballots_cast":500,"invalid":10,"no_vote":6,"votes":{"1":250,"2":180,"3":54},"sources":[{"submission_id":"a","volunteer_id":"v","org":"o","stage":"final","hash":"sha256:00"}],"counted_at":"2023-05-14T17:58:00+07:00","updated_at":"2023-05-14T18:03:00+07:00"}`,
		`{"station_id":"CMI_1_002","constituency_id":"CMI_1","ballot":"partylist","version":0,"status":"disputed","stage":"progress","ballots_cast":1,"invalid":0,"no_vote":0,"votes":null,"sources":null,"anomalies":["ARITH"],"counted_at":"2023-05-14T17:58:00Z","updated_at":"2023-05-14T18:03:00Z"}`,
		`{"station_id":"BKK_2_001","ballot":"partylist","version":1,"status":"verified","votes":{"31":-1}}`,
		`{"station_id":"BKK_2_001","ballot":"partylist","version":1,"status":"verified","votes":{"31":9223372036854775807}}`,
	} {
		f.Add([]byte(s))
	}
	headers := schemas.EnvelopeHeaders(schemas.SchemaStationResult)
	f.Fuzz(func(t *testing.T, value []byte) {
		var sr schemas.StationResult
		if schemas.Decode(value, headers, &sr) != nil {
			return
		}
		v := NewView(c, "fuzz")
		before := mustJSON(t, v.Summary().Counted)
		_, ok, err := v.Apply(sr)
		if err != nil || !ok {
			if v.Seq() != 0 {
				t.Fatal("a refused result changed the view")
			}
			return
		}
		if _, ok := v.Station(sr.StationID); !ok {
			t.Fatal("applied station not served")
		}
		mustJSON(t, v.Summary())
		mustJSON(t, v.Parties())
		mustJSON(t, v.Constituencies(""))
		if _, ok := v.Forget(sr.StationID, sr.Ballot); !ok {
			t.Fatal("not forgotten")
		}
		if after := mustJSON(t, v.Summary().Counted); after != before {
			t.Fatalf("totals after withdrawal\n%s\nwant\n%s", after, before)
		}
	})
}

// FuzzParseCursor: since comes from any poller. Whatever it holds, decoding must not panic;
// a cursor it accepts is one of this run and prints back as itself.
func FuzzParseCursor(f *testing.F) {
	for _, s := range []string{"a1b2c3d4-17", "a1b2c3d4-0", "0badc0de-3", "a1b2c3d4-007", "", "a1b2c3d4-", "-17", "A1B2C3D4-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, st := parseCursor(s, "a1b2c3d4")
		switch st {
		case cursorOK:
			if formatEventID("a1b2c3d4", seq) != strings.TrimSpace(s) {
				t.Fatalf("%q accepted as %d", s, seq)
			}
		case cursorOtherRun:
			if e, _, ok := parseEventID(s); !ok || e == "a1b2c3d4" {
				t.Fatalf("%q called another run's", s)
			}
		case cursorMalformed:
			if _, _, ok := parseEventID(s); ok {
				t.Fatalf("%q called malformed", s)
			}
		}
	})
}
