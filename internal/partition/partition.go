// Package partition places the records of the input topics of consolidation
// (submissions.v1, reviews.v1, official.v1) by constituency: every station of a
// constituency goes to the same partition, so the one consolidator that owns the partition
// sees the whole constituency, and its cross-station statistics (TURNOUT_OUTLIER,
// SHARE_OUTLIER, BLOCK_SHIFT) are a function of that partition's input alone, whichever
// process owns it, across restarts and rebalances.
//
// Records keep their key (station_id): only the partition changes. The constituency is the
// key up to its last underscore (`BKK_1_0042` -> `BKK_1`), the form every station id of the
// reference data has (`<constituency_id>_<number>`); a key without an underscore is placed
// by itself. The partition is Kafka's default formula applied to the constituency:
// murmur2(constituency) & 0x7fffffff mod the partition count, so a producer in another
// language places a record the same way by hashing that prefix with its client's default
// partitioner.
//
// Every producer of those topics must use Opt (or Partitioner); records of any other topic
// are placed as franz-go's default does (murmur2 of the whole key). The package owns no
// goroutine and its values are safe for concurrent use.
package partition

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"votestream/schemas"
)

// ByConstituency are the topics (without prefix) whose records are placed by constituency.
var ByConstituency = []string{schemas.TopicSubmissions, schemas.TopicReviews, schemas.TopicOfficial}

// Constituency is the constituency part of a report topic's key: the key up to its last
// underscore, or the whole key when it has none.
func Constituency(key string) string {
	if i := strings.LastIndexByte(key, '_'); i > 0 {
		return key[:i]
	}
	return key
}

// For is the partition, of n, of a record keyed key on a topic placed by constituency.
func For(key string, n int) int32 {
	return int32(kafkaHash(Constituency(key), n))
}

// ForConstituency is the partition, of n, that holds the stations of constituency c.
func ForConstituency(c string, n int) int32 { return int32(kafkaHash(c, n)) }

// Placed reports whether topic (with any prefix) is placed by constituency.
func Placed(topic string) bool {
	for _, t := range ByConstituency {
		if strings.HasSuffix(topic, t) {
			return true
		}
	}
	return false
}

// Opt is the producer option every client writing to a topic of ByConstituency must carry.
func Opt() kgo.Opt { return kgo.RecordPartitioner(Partitioner()) }

// OptLookup is Opt for a producer that holds the reference data: lookup gives a station's
// constituency, so stations whose ids do not carry it (`<constituency_id>_<number>`) are
// still placed with their constituency; keys lookup does not know fall back to the id's form.
func OptLookup(lookup func(station string) (constituency string, ok bool)) kgo.Opt {
	return kgo.RecordPartitioner(PartitionerLookup(lookup))
}

// PartitionerLookup is Partitioner placing by lookup's constituency where it knows the key.
func PartitionerLookup(lookup func(station string) (constituency string, ok bool)) kgo.Partitioner {
	return partitioner{def: kgo.StickyKeyPartitioner(nil), lookup: lookup}
}

// Partitioner places records of ByConstituency's topics by constituency and every other
// topic's as franz-go's default partitioner (Kafka's) does.
func Partitioner() kgo.Partitioner { return partitioner{def: kgo.StickyKeyPartitioner(nil)} }

type partitioner struct {
	def    kgo.Partitioner
	lookup func(string) (string, bool)
}

func (p partitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if Placed(topic) {
		return byConstituency{lookup: p.lookup}
	}
	return p.def.ForTopic(topic)
}

type byConstituency struct{ lookup func(string) (string, bool) }

func (byConstituency) RequiresConsistency(*kgo.Record) bool { return true }

func (b byConstituency) Partition(r *kgo.Record, n int) int {
	if b.lookup != nil {
		if c, ok := b.lookup(string(r.Key)); ok {
			return kafkaHash(c, n)
		}
	}
	k := r.Key
	if i := lastUnderscore(k); i > 0 {
		k = k[:i]
	}
	return kafkaHashBytes(k, n)
}

func lastUnderscore(b []byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '_' {
			return i
		}
	}
	return -1
}

func kafkaHash(s string, n int) int { return kafkaHashBytes([]byte(s), n) }

// kafkaHashBytes is Kafka's default partition of key among n: murmur2, the sign bit
// masked, modulo n (as franz-go's KafkaHasher and the Java client do).
func kafkaHashBytes(key []byte, n int) int { return int(murmur2(key)&0x7fffffff) % n }

// murmur2 is Kafka's variant of MurmurHash2 (the Java client's Utils.murmur2), which
// franz-go keeps unexported; TestMatchesKafkaDefault checks the two agree.
func murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := uint32(b[3])<<24 | uint32(b[2])<<16 | uint32(b[1])<<8 | uint32(b[0])
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
