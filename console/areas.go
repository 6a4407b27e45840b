package console

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Area is one subdistrict of one constituency in the queue: how much is open there, so a
// lead can take a whole counting centre's items together (its stations share officials,
// a counting hall, often the same mistake).
type Area struct {
	ConstituencyID   string         `json:"constituency_id"`
	ConstituencyName string         `json:"constituency_name"`
	Subdistrict      string         `json:"subdistrict"`
	Items            int            `json:"items"`
	Stations         int            `json:"stations"`
	Disputed         int            `json:"disputed"`
	TopPriority      int            `json:"top_priority"` // the highest priority of its items
	Codes            map[string]int `json:"codes"`        // items carrying each anomaly code
}

// Areas groups the items matching f by constituency and subdistrict, the area holding the
// highest priority first (then more items first, then by id and name).
func (q *Queue) Areas(f Filter) []Area {
	type key struct{ cons, sub string }
	at := map[key]int{}
	var out []Area
	stations := map[key]map[string]bool{}
	for i := range q.Items {
		it := &q.Items[i]
		if !f.match(it) {
			continue
		}
		k := key{it.ConstituencyID, it.Subdistrict}
		j, ok := at[k]
		if !ok {
			j = len(out)
			at[k] = j
			out = append(out, Area{ConstituencyID: it.ConstituencyID, ConstituencyName: it.ConstituencyName,
				Subdistrict: it.Subdistrict, Codes: map[string]int{}})
			stations[k] = map[string]bool{}
		}
		a := &out[j]
		a.Items++
		if !stations[k][it.StationID] {
			stations[k][it.StationID] = true
			a.Stations++
		}
		if it.Status == "disputed" {
			a.Disputed++
		}
		a.TopPriority = max(a.TopPriority, it.Priority)
		for _, c := range it.Codes {
			a.Codes[c]++
		}
	}
	slices.SortFunc(out, func(a, b Area) int {
		return cmp.Or(cmp.Compare(b.TopPriority, a.TopPriority), cmp.Compare(b.Items, a.Items),
			strings.Compare(a.ConstituencyID, b.ConstituencyID), strings.Compare(a.Subdistrict, b.Subdistrict))
	})
	return out
}

// handleAreas: GET /v1/queue/areas?constituency=&province=&code=&status=&ballot=: the open
// items grouped by subdistrict, scoped like the queue.
func (s *Server) handleAreas(w http.ResponseWriter, r *http.Request) {
	q, f, ok := s.admitQueue(w, r)
	if !ok {
		return
	}
	areas := q.Areas(f)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(struct {
		Areas []Area `json:"areas"`
		Total int    `json:"total"`
		AsOf  any    `json:"as_of"`
		Seq   uint64 `json:"seq"`
	}{areas, len(areas), q.At, q.Seq})
}
