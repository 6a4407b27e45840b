package consolidate

import (
	"errors"
	"time"

	"votestream/election"
	"votestream/internal/confcheck"
)

// BangkokTime is Asia/Bangkok (UTC+7, no daylight saving). A fixed zone keeps the rules
// identical on machines without a time zone database.
var BangkokTime = time.FixedZone("+07", 7*3600)

// Rules are the reference data and thresholds the state machine and the detectors apply.
// A Rules value is read-only once built: Apply and the Ledger share it between goroutines
// without locking.
type Rules struct {
	// Country gives each station its constituency and eligible voters, and each constituency
	// its candidates (for NUMBER_SWAP). Required, indexed (election.Country.Index).
	Country *election.Country `json:"-"`

	// PollsClose is when counting may start; a report counted before PollsClose minus
	// EarlyTolerance raises EARLY. Default 2023-05-14 17:00 Asia/Bangkok.
	PollsClose time.Time
	// EarlyTolerance allows for volunteers' phone clocks. Default 0.
	EarlyTolerance time.Duration

	// BallotGapAbs and BallotGapRel: BALLOT_GAP when the final constituency and party-list
	// ballots cast of a station differ by more than max(BallotGapAbs, BallotGapRel x the
	// larger of the two). Some voters take only one ballot, so a few are normal.
	// Defaults 10 ballots and 0.02.
	BallotGapAbs int
	BallotGapRel float64

	// OutlierZ is the robust z-score (|x - median| / (1.4826 MAD)) above which a station's
	// turnout or a number's vote share is an outlier against what its subdistrict (or its
	// constituency's urban or rural stations, or the constituency) expects. Default 4 (docs/consolidation.md shows the trade-off on a simulated night).
	OutlierZ float64
	// OutlierMinStations is how many other stations with final figures a constituency needs
	// (in the group judged: its partition, or every partition held, see docs/consolidation.md)
	// before outliers are judged. Default 10.
	OutlierMinStations int
	// OutlierSubdistrictMin is how many stations of a subdistrict (reference data) with
	// final figures make its median a station's expected turnout and shares; fewer, and the
	// constituency's median is used. Default 8.
	OutlierSubdistrictMin int
	// OutlierAcrossPartitions compares a station with its constituency's stations in every
	// partition the process holds rather than in its own partition only. With every
	// producer placing by constituency (internal/partition) a constituency is in one
	// partition and this changes nothing; for topics written without it, which flags are raised
	// and cleared along the way then depends on how the partitions' records interleave, so
	// a restart or a rebalance may raise a different (never a repeated) set of anomaly ids
	// than an uninterrupted run (docs/consolidation.md). Default false. CLI:
	// --outliers-across-partitions.
	OutlierAcrossPartitions bool
	// TurnoutMADFloor and ShareMADFloor keep a near-zero spread from making every small
	// difference an outlier: the MAD used is at least this much turnout or share.
	// Defaults 0.02 and 0.02.
	TurnoutMADFloor float64
	ShareMADFloor   float64
	// ShareMinMedian: only numbers whose median share in the constituency is at least this
	// are judged for SHARE_OUTLIER. Default 0: a minor party suddenly strong is what a
	// falsified count often looks like; numbers absent from most stations are never judged.
	ShareMinMedian float64

	// BlockZ, BlockMinStations, BlockMinRest, BlockMinShift and BlockSDFloor tune
	// BLOCK_SHIFT: an organisation's mean share of a number over at least BlockMinStations
	// finals in a constituency, against at least BlockMinRest finals of the other
	// organisations there, differs by at least BlockMinShift and by more than BlockZ times
	// its standard error (the rest's standard deviation, at least BlockSDFloor, times
	// sqrt(1/n + 1/n_rest)). Defaults 5, 5, 10, 0.03, 0.02 (docs/consolidation.md §5).
	BlockZ           float64
	BlockMinStations int
	BlockMinRest     int
	BlockMinShift    float64
	BlockSDFloor     float64

	// SpreadMaxStations is how many distinct stations one volunteer may report before SPREAD
	// (an organisation's volunteer may cover up to 3 neighbouring stations). Default 3.
	SpreadMaxStations int

	// SwapMinVotes is the least number of valid votes both ballots of a station need before
	// NUMBER_SWAP compares them. Default 100.
	SwapMinVotes int
	// SwapMargin: NUMBER_SWAP when reading a ballot's keys as the other ballot's numbers
	// matches the other ballot's vote shares better than reading them right by at least this
	// much (shares overlap, 0 to 1). Default 0.25.
	SwapMargin float64
}

// DefaultRules returns the default thresholds; the caller sets Country.
func DefaultRules() Rules {
	return Rules{
		PollsClose:            time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime),
		BallotGapAbs:          10,
		BallotGapRel:          0.02,
		OutlierZ:              4,
		OutlierMinStations:    10,
		OutlierSubdistrictMin: 8,
		TurnoutMADFloor:       0.02,
		ShareMADFloor:         0.02,
		ShareMinMedian:        0,
		SpreadMaxStations:     3,
		BlockZ:                5,
		BlockMinStations:      3,
		BlockMinRest:          10,
		BlockMinShift:         0.03,
		BlockSDFloor:          0.02,
		SwapMinVotes:          100,
		SwapMargin:            0.25,
	}
}

// ErrBadRules: a threshold is out of range or the Country is missing.
var ErrBadRules = errors.New("consolidate: bad rules")

// Validate checks every threshold and that the Country is indexed.
func (r *Rules) Validate() error {
	bad := confcheck.Bad(ErrBadRules)
	switch {
	case r.Country == nil:
		return bad("no Country")
	case !r.Country.Indexed():
		return bad("Country is not indexed (call Index)")
	case r.PollsClose.IsZero():
		return bad("PollsClose is not set")
	case r.EarlyTolerance < 0:
		return bad("EarlyTolerance %v is negative", r.EarlyTolerance)
	case r.BallotGapAbs < 0 || r.BallotGapRel < 0 || r.BallotGapRel >= 1:
		return bad("BallotGapAbs %d / BallotGapRel %v out of range", r.BallotGapAbs, r.BallotGapRel)
	case !(r.OutlierZ > 0):
		return bad("OutlierZ %v must be positive", r.OutlierZ)
	case r.OutlierMinStations < 3:
		return bad("OutlierMinStations %d must be at least 3", r.OutlierMinStations)
	case r.OutlierSubdistrictMin < 3:
		return bad("OutlierSubdistrictMin %d must be at least 3", r.OutlierSubdistrictMin)
	case !(r.TurnoutMADFloor > 0) || !(r.ShareMADFloor > 0):
		return bad("MAD floors must be positive")
	case r.ShareMinMedian < 0 || r.ShareMinMedian >= 1:
		return bad("ShareMinMedian %v out of [0, 1)", r.ShareMinMedian)
	case !(r.BlockZ > 0) || r.BlockMinStations < 2 || r.BlockMinRest < 2 || r.BlockMinShift < 0 || !(r.BlockSDFloor > 0):
		return bad("BlockZ %v / BlockMinStations %d / BlockMinRest %d / BlockMinShift %v / BlockSDFloor %v out of range",
			r.BlockZ, r.BlockMinStations, r.BlockMinRest, r.BlockMinShift, r.BlockSDFloor)
	case r.SpreadMaxStations < 1:
		return bad("SpreadMaxStations %d must be at least 1", r.SpreadMaxStations)
	case r.SwapMinVotes < 1 || !(r.SwapMargin > 0) || r.SwapMargin >= 1:
		return bad("SwapMinVotes %d / SwapMargin %v out of range", r.SwapMinVotes, r.SwapMargin)
	}
	return nil
}
