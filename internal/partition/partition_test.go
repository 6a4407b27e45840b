package partition_test

import (
	"encoding/csv"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/internal/partition"
	"votestream/schemas"
)

func TestConstituency(t *testing.T) {
	for key, want := range map[string]string{
		"BKK_1_0042": "BKK_1", "BKK_1_001": "BKK_1", "ACR_12_0310": "ACR_12",
		"nounderscore": "nounderscore", "_x": "_x", "": "",
	} {
		if got := partition.Constituency(key); got != want {
			t.Errorf("Constituency(%q) = %q, want %q", key, got, want)
		}
	}
}

// TestMatchesKafkaDefault: the hash is Kafka's (franz-go's default partitioner) applied to
// the constituency, so another client can place records the same way.
func TestMatchesKafkaDefault(t *testing.T) {
	def := kgo.StickyKeyPartitioner(nil).ForTopic("x")
	for i := range 2000 {
		k := fmt.Sprintf("P%02d_%d", i%77, i)
		for _, n := range []int{1, 3, 6, 12} {
			want := def.Partition(&kgo.Record{Key: []byte(k)}, n)
			if got := partition.For(k+"_0001", n); int(got) != want {
				t.Fatalf("For(%q, %d) = %d, Kafka's default for %q gives %d", k+"_0001", n, got, k, want)
			}
		}
	}
}

func TestPartitionerKeepsConstituencyTogether(t *testing.T) {
	p := partition.Partitioner()
	for _, topic := range []string{schemas.TopicSubmissions, "t123." + schemas.TopicReviews, schemas.TopicOfficial} {
		tp := p.ForTopic(topic)
		if !tp.RequiresConsistency(&kgo.Record{}) {
			t.Errorf("%s: not consistent", topic)
		}
		for c := range 50 {
			first := -1
			for s := range 40 {
				key := fmt.Sprintf("K%d_%d_%04d", c%9, c, s+1)
				got := tp.Partition(&kgo.Record{Key: []byte(key)}, 6)
				if want := int(partition.For(key, 6)); got != want {
					t.Fatalf("%s: %s on %d, For says %d", topic, key, got, want)
				}
				if first < 0 {
					first = got
				} else if got != first {
					t.Fatalf("%s: %s on partition %d, its constituency's first station on %d", topic, key, got, first)
				}
			}
		}
	}
	// Other topics keep Kafka's placement by the whole key.
	def := kgo.StickyKeyPartitioner(nil).ForTopic(schemas.TopicAnomalies)
	tp := p.ForTopic(schemas.TopicAnomalies)
	spread := map[int]bool{}
	for s := range 40 {
		r := &kgo.Record{Key: []byte(fmt.Sprintf("BKK_1_%04d", s))}
		if got, want := tp.Partition(r, 6), def.Partition(r, 6); got != want {
			t.Fatalf("anomalies: %s on %d, the default partitioner says %d", r.Key, got, want)
		}
		spread[tp.Partition(r, 6)] = true
	}
	if len(spread) < 2 {
		t.Error("anomalies: a constituency's stations all on one partition: the default partitioner is not in use")
	}
	if !partition.Placed("x."+schemas.TopicSubmissions) || partition.Placed(schemas.TopicStationResults) {
		t.Error("Placed: wrong topics")
	}
}

// TestSkew measures how evenly the 2023 constituencies' stations fall on the topics'
// partitions (the figure docs/consolidation.md quotes).
func TestSkew(t *testing.T) {
	// The main checkout sits beside shared/; a worktree under wt/ one level deeper.
	f, err := os.Open("../../../shared/reference/thailand-2023/constituencies.csv")
	if err != nil {
		f, err = os.Open("../../../../shared/reference/thailand-2023/constituencies.csv")
	}
	if err != nil {
		t.Skipf("the 2023 reference structure is not here (%v): skew not measured", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{6, 12, 24} {
		stations := make([]int, n)
		keys := make([]int, n)
		total := 0
		for _, r := range rows[1:] {
			s, err := strconv.Atoi(r[4])
			if err != nil {
				t.Fatal(err)
			}
			p := partition.For(r[0]+"_0001", n)
			stations[p] += s
			keys[p]++
			total += s
		}
		hi, lo := 0, total
		for _, s := range stations {
			hi, lo = max(hi, s), min(lo, s)
		}
		mean := float64(total) / float64(n)
		t.Logf("%d partitions: %d constituencies, %d stations; stations per partition %v (max %.2f x mean, min %.2f x mean); constituencies %v",
			n, len(rows)-1, total, stations, float64(hi)/mean, float64(lo)/mean, keys)
		if n == 6 && float64(hi) > 1.3*mean {
			t.Errorf("6 partitions: the busiest holds %.2f x the mean", float64(hi)/mean)
		}
	}
}

func ExampleFor() {
	fmt.Println(partition.For("BKK_1_0001", 6) == partition.For("BKK_1_0238", 6), partition.Constituency("BKK_1_0238"))
	// Output: true BKK_1
}

// TestLookupPlacesIdsOfAnyForm: with the reference data's lookup, stations whose ids do not
// carry their constituency land on that constituency's partition; unknown keys fall back to
// the id's form.
func TestLookupPlacesIdsOfAnyForm(t *testing.T) {
	ref := map[string]string{"S01": "C1", "S02": "C1", "S03": "C1", "9001": "C2", "9002": "C2"}
	lookup := func(id string) (string, bool) { c, ok := ref[id]; return c, ok }
	tp := partition.PartitionerLookup(lookup).ForTopic(schemas.TopicSubmissions)
	for _, n := range []int{3, 6, 12} {
		for id, c := range ref {
			if got, want := tp.Partition(&kgo.Record{Key: []byte(id)}, n), int(partition.ForConstituency(c, n)); got != want {
				t.Errorf("%s (constituency %s) of %d partitions: on %d, want %d", id, c, n, got, want)
			}
		}
		if got, want := tp.Partition(&kgo.Record{Key: []byte("BKK_1_0042")}, n), int(partition.For("BKK_1_0042", n)); got != want {
			t.Errorf("unknown key of %d partitions: on %d, the id's form says %d", n, got, want)
		}
	}
}
