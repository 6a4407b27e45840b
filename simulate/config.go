package simulate

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("simulate: invalid config")

// Priority sample strata (CountryConfig.PriorityStrata).
const (
	StrataConstituency = "constituency" // a fraction of every constituency's stations
	StrataRegionUrban  = "region-urban" // a fraction of every region x urban/rural cell
)

// Config is everything a simulation depends on: the same Config gives the same bytes.
type Config struct {
	// Seed drives every random draw. CLI: --seed. Default 1.
	Seed uint64
	// Scenario names the way the night's early reports differ from its late ones (see
	// Scenarios): it adds to the vote model and the report times below, or replaces the
	// vote model with another generator. CLI: --scenario. Default ScenarioDefault.
	Scenario string
	Country  CountryConfig
	Vote     VoteConfig
	Night    NightConfig
}

// CountryConfig shapes the country: synthetic by default, or the real structure of a
// reference folder plus simulated stations and candidates.
type CountryConfig struct {
	// RefDir, when set, is a folder with provinces.csv, constituencies.csv and parties.csv
	// (DESIGN.md §4); stations and candidates are simulated to fit it. CLI: --ref. Default "".
	RefDir string
	// Scale is the fraction of the country to build, in (0, 1]. Synthetic: of the provinces
	// and constituencies (stations per constituency keep their real range). Reference: the
	// first ceil(Scale x provinces) provinces of provinces.csv, with all their constituencies.
	// CLI: --scale. Default 1.
	Scale float64
	// Provinces, Constituencies and Parties size a synthetic country at Scale 1.
	// Defaults 77, 400, 70. Ignored with RefDir (its files decide).
	Provinces      int
	Constituencies int
	Parties        int
	// StationsScale multiplies every constituency's station count (and, with RefDir, its
	// eligible voters), for small test countries with the real province and constituency
	// structure. In (0, 1]. Default 1. Not applied to stations read from RefDir.
	StationsScale float64
	// NationalParties is how many parties field a candidate in nearly every constituency
	// (the vote model makes the parties with most candidates its big parties). Default 7.
	NationalParties int
	// MinCandidates and MaxCandidates bound the candidates per constituency. Defaults 5, 15.
	MinCandidates int
	MaxCandidates int
	// PriorityFraction of the stations of each stratum is drawn into the priority
	// (probability) sample, at least one per non-empty stratum when positive. 0 disables it.
	// CLI: --priority-fraction. Default 0.05.
	PriorityFraction float64
	// PriorityStrata is StrataConstituency or StrataRegionUrban. Default StrataConstituency.
	PriorityStrata string
	// Independents is the share of constituencies with one more candidate who has no
	// party-list number (an independent, or a party fielding constituency candidates only:
	// candidates.csv leaves party_no empty). Default 0.03.
	Independents float64
}

// VoteConfig shapes the true results and the count times.
type VoteConfig struct {
	// BigParties is how many national parties carry most of the vote. Default 7.
	BigParties int
	// Turnout is the centre of the station turnout distribution. Default 0.75.
	Turnout float64
	// InvalidRate and NoVoteRate are the centres of the invalid and no-vote ballot rates.
	// Defaults 0.025 and 0.015.
	InvalidRate float64
	NoVoteRate  float64
	// RegionalSpread is the standard deviation of a big party's regional log-strength; each
	// big party also has one stronghold region. Default 0.5.
	RegionalSpread float64
	// ConstituencySwing is the standard deviation of a party's log-strength per constituency.
	// Default 0.2.
	ConstituencySwing float64
	// StationNoise is the standard deviation of a party's log-strength per station (the
	// logit-normal noise). Default 0.15.
	StationNoise float64
	// UrbanEffect is the standard deviation of a party's log-strength difference between urban
	// and rural stations; the strongest party leans urban and the second rural. Default 0.4.
	UrbanEffect float64
	// PersonalVote is the standard deviation of a candidate's personal vote (log scale) on top
	// of the party's strength: the source of split tickets. Default 0.35.
	PersonalVote float64
	// CountMinutesPerBallot is the median time to read and tally one ballot paper, in minutes.
	// Default 0.13.
	CountMinutesPerBallot float64
	// DelayRate is the share of stations with a long delay (recount, dispute) and DelayMinutes
	// its mean, in minutes: the long tail of the night. Defaults 0.06 and 60.
	DelayRate    float64
	DelayMinutes float64
	// SizeSlope is the standard deviation of a big party's slope of log-strength on the log
	// of a station's size relative to its constituency's mean (small parties: half): shares
	// that drift with station size inside each constituency. Default 0.
	SizeSlope float64
	// ClusterEffect is the standard deviation of a party's log-strength per subdistrict: a
	// subdistrict that votes as a block. Default 0.
	ClusterEffect float64
	// TurnoutDrift is the standard deviation, on the logit scale, of a hidden station factor
	// that raises turnout and the strongest party's strength together: high-turnout stations
	// count more ballots and so report later, and lean one way. Default 0.
	TurnoutDrift float64
	// RegionSurge is the log-strength a mid-size party (the fourth strongest) gains in one
	// region drawn by the seed. Default 0.
	RegionSurge float64
	// RegionSizeSlope is a big party's slope of log-strength on relative station size, like
	// SizeSlope, but with its sign drawn per region (the two strongest parties' signs flip
	// from one region to the next), so it nearly cancels nationally. Default 0.
	RegionSizeSlope float64
}

// NightConfig shapes the volunteers and what they send.
type NightConfig struct {
	// Close is when polls close (counting starts). Default 14 May 2023 17:00 Asia/Bangkok.
	Close time.Time
	// Orgs is the number of volunteer organisations. Default 50.
	Orgs int
	// VolunteersPerStation[k] is the probability that k (0-3) organisations send a volunteer
	// to a station. Default {0.12, 0.42, 0.33, 0.13}.
	VolunteersPerStation [4]float64
	// MultiStationRate is the chance that an organisation's volunteer also covers the next
	// station of the same subdistrict (up to 3 stations). Default 0.4.
	MultiStationRate float64
	// ProgressUpdates is the mean number of tally-board reports per volunteer and ballot before
	// the final form. Default 2.5.
	ProgressUpdates float64
	// DropoutRate is the chance a volunteer never sends a ballot's final form. Default 0.02.
	DropoutRate float64
	// Faults are the volunteer error rates.
	Faults FaultRates
}

// FaultRates are the rates of generated faults. Unless said otherwise a rate is per final
// form (one volunteer, station and ballot); the content faults (Typo, SwappedDigits,
// NumberSwap, MissingParty, Falsification) are exclusive, at most one per final form.
type FaultRates struct {
	Typo          float64 // one digit of one number changed. Default 0.01.
	SwappedDigits float64 // two adjacent digits of one number swapped. Default 0.005.
	NumberSwap    float64 // votes keyed by the other ballot's numbers. Default 0.003.
	MissingParty  float64 // one party's or candidate's votes left out. Default 0.005.
	Falsification float64 // votes moved between two parties, arithmetic kept. Default 0.001.
	Early         float64 // counted_at before polls close. Default 0.001.
	PhotoReuse    float64 // the form photo of another station. Default 0.001.
	// Duplicate is per submission (progress or final): sent again with the same
	// submission_id. Default 0.02.
	Duplicate float64
	// Correction is the share of finals with an arithmetic or keying fault (typo, swapped
	// digits, number swap, missing party) that the volunteer corrects later with a new
	// submission. Default 0.3.
	Correction float64
	// Spread is the share of volunteers who also report stations outside their assignment,
	// SpreadStations of them each. Defaults 0.001 and 12.
	Spread         float64
	SpreadStations int
	// BlockShift is per organisation and constituency: the share of those pairs in which
	// every final the organisation sends moves BlockShiftFrac of the other numbers' votes to
	// one party (its candidate on the constituency ballot). Default 0 (off): the detection
	// tests turn it on.
	BlockShift float64
	// BlockShiftFrac is the least and the most of the other numbers' votes a block moves
	// (drawn per block). Default {0.08, 0.2}.
	BlockShiftFrac [2]float64
}

// BangkokTime is Asia/Bangkok (UTC+7, no daylight saving); a fixed zone keeps output
// identical on machines without a time zone database.
var BangkokTime = time.FixedZone("+07", 7*3600)

// DefaultConfig is a full national night with seed 1.
func DefaultConfig() Config {
	return Config{
		Seed:     1,
		Scenario: ScenarioDefault,
		Country: CountryConfig{
			Scale:            1,
			Provinces:        77,
			Constituencies:   400,
			Parties:          70,
			StationsScale:    1,
			NationalParties:  7,
			MinCandidates:    5,
			MaxCandidates:    15,
			PriorityFraction: 0.05,
			PriorityStrata:   StrataConstituency,
			Independents:     0.03,
		},
		Vote: VoteConfig{
			BigParties:            7,
			Turnout:               0.75,
			InvalidRate:           0.025,
			NoVoteRate:            0.015,
			RegionalSpread:        0.5,
			ConstituencySwing:     0.2,
			StationNoise:          0.15,
			UrbanEffect:           0.4,
			PersonalVote:          0.35,
			CountMinutesPerBallot: 0.13,
			DelayRate:             0.06,
			DelayMinutes:          60,
		},
		Night: NightConfig{
			Close:                time.Date(2023, 5, 14, 17, 0, 0, 0, BangkokTime),
			Orgs:                 50,
			VolunteersPerStation: [4]float64{0.12, 0.42, 0.33, 0.13},
			MultiStationRate:     0.4,
			ProgressUpdates:      2.5,
			DropoutRate:          0.02,
			Faults: FaultRates{
				Typo:           0.01,
				SwappedDigits:  0.005,
				NumberSwap:     0.003,
				MissingParty:   0.005,
				Falsification:  0.001,
				Early:          0.001,
				PhotoReuse:     0.001,
				Duplicate:      0.02,
				Correction:     0.3,
				Spread:         0.001,
				SpreadStations: 12,
				BlockShiftFrac: [2]float64{0.08, 0.2},
			},
		},
	}
}

// Validate reports the first contradiction or out-of-range field.
func (c Config) Validate() error {
	if _, ok := scenarios[c.Scenario]; !ok {
		return bad("Scenario = %q, want one of %s", c.Scenario, strings.Join(Scenarios(), ", "))
	}
	if err := c.Country.Validate(); err != nil {
		return err
	}
	if err := c.Vote.Validate(); err != nil {
		return err
	}
	return c.Night.Validate()
}

func bad(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

func rate(name string, v float64) error {
	if !(v >= 0 && v <= 1) {
		return bad("%s = %v, want a rate in [0, 1]", name, v)
	}
	return nil
}

// Validate checks the country shape.
func (c CountryConfig) Validate() error {
	if !(c.Scale > 0 && c.Scale <= 1) {
		return bad("Scale = %v, want (0, 1]", c.Scale)
	}
	if !(c.StationsScale > 0 && c.StationsScale <= 1) {
		return bad("StationsScale = %v, want (0, 1]", c.StationsScale)
	}
	if c.RefDir == "" {
		if c.Provinces < 1 {
			return bad("Provinces = %d, want at least 1", c.Provinces)
		}
		if c.Constituencies < c.Provinces {
			return bad("Constituencies = %d, want at least Provinces (%d)", c.Constituencies, c.Provinces)
		}
		if c.Parties < 2 {
			return bad("Parties = %d, want at least 2", c.Parties)
		}
		if c.Parties < c.MaxCandidates {
			return bad("Parties = %d, want at least MaxCandidates (%d)", c.Parties, c.MaxCandidates)
		}
	}
	if c.NationalParties < 1 {
		return bad("NationalParties = %d, want at least 1", c.NationalParties)
	}
	if c.MinCandidates < 2 || c.MaxCandidates < c.MinCandidates {
		return bad("candidates %d-%d, want 2 <= MinCandidates <= MaxCandidates", c.MinCandidates, c.MaxCandidates)
	}
	if err := rate("PriorityFraction", c.PriorityFraction); err != nil {
		return err
	}
	if err := rate("Independents", c.Independents); err != nil {
		return err
	}
	if c.PriorityStrata != StrataConstituency && c.PriorityStrata != StrataRegionUrban {
		return bad("PriorityStrata = %q, want %q or %q", c.PriorityStrata, StrataConstituency, StrataRegionUrban)
	}
	return nil
}

// Validate checks the vote model.
func (v VoteConfig) Validate() error {
	if v.BigParties < 1 {
		return bad("BigParties = %d, want at least 1", v.BigParties)
	}
	if !(v.Turnout > 0.05 && v.Turnout < 0.99) {
		return bad("Turnout = %v, want (0.05, 0.99)", v.Turnout)
	}
	if !(v.InvalidRate >= 0 && v.NoVoteRate >= 0 && v.InvalidRate+v.NoVoteRate < 0.5) {
		return bad("InvalidRate %v + NoVoteRate %v, want non-negative and under 0.5", v.InvalidRate, v.NoVoteRate)
	}
	for name, x := range map[string]float64{
		"RegionalSpread": v.RegionalSpread, "ConstituencySwing": v.ConstituencySwing,
		"StationNoise": v.StationNoise, "UrbanEffect": v.UrbanEffect, "PersonalVote": v.PersonalVote,
		"SizeSlope": v.SizeSlope, "ClusterEffect": v.ClusterEffect, "TurnoutDrift": v.TurnoutDrift,
		"RegionSurge": v.RegionSurge, "RegionSizeSlope": v.RegionSizeSlope,
	} {
		if !(x >= 0 && x <= 5) {
			return bad("%s = %v, want [0, 5]", name, x)
		}
	}
	if !(v.CountMinutesPerBallot > 0 && v.CountMinutesPerBallot < 10) {
		return bad("CountMinutesPerBallot = %v, want (0, 10)", v.CountMinutesPerBallot)
	}
	if err := rate("DelayRate", v.DelayRate); err != nil {
		return err
	}
	if !(v.DelayMinutes >= 0 && v.DelayMinutes <= 24*60) {
		return bad("DelayMinutes = %v, want [0, 1440]", v.DelayMinutes)
	}
	return nil
}

// Validate checks the night.
func (n NightConfig) Validate() error {
	if n.Close.IsZero() {
		return bad("Close is not set")
	}
	if n.Orgs < 3 {
		return bad("Orgs = %d, want at least 3 (stations take up to 3 distinct organisations)", n.Orgs)
	}
	sum := 0.0
	for k, p := range n.VolunteersPerStation {
		if !(p >= 0) {
			return bad("VolunteersPerStation[%d] = %v, want >= 0", k, p)
		}
		sum += p
	}
	if sum < 0.999 || sum > 1.001 {
		return bad("VolunteersPerStation sums to %v, want 1", sum)
	}
	if err := rate("MultiStationRate", n.MultiStationRate); err != nil {
		return err
	}
	if !(n.ProgressUpdates >= 0 && n.ProgressUpdates <= 10) {
		return bad("ProgressUpdates = %v, want [0, 10]", n.ProgressUpdates)
	}
	if err := rate("DropoutRate", n.DropoutRate); err != nil {
		return err
	}
	f := n.Faults
	for _, r := range []struct {
		name string
		v    float64
	}{
		{"Faults.Typo", f.Typo}, {"Faults.SwappedDigits", f.SwappedDigits}, {"Faults.NumberSwap", f.NumberSwap},
		{"Faults.MissingParty", f.MissingParty}, {"Faults.Falsification", f.Falsification},
		{"Faults.Early", f.Early}, {"Faults.PhotoReuse", f.PhotoReuse}, {"Faults.Duplicate", f.Duplicate},
		{"Faults.Correction", f.Correction}, {"Faults.Spread", f.Spread}, {"Faults.BlockShift", f.BlockShift},
		{"Faults.BlockShiftFrac[0]", f.BlockShiftFrac[0]}, {"Faults.BlockShiftFrac[1]", f.BlockShiftFrac[1]},
	} {
		if err := rate(r.name, r.v); err != nil {
			return err
		}
	}
	if content := f.Typo + f.SwappedDigits + f.NumberSwap + f.MissingParty + f.Falsification; content > 1 {
		return bad("content fault rates sum to %v, want at most 1 (they are exclusive)", content)
	}
	if f.BlockShift > 0 && !(f.BlockShiftFrac[0] > 0 && f.BlockShiftFrac[0] <= f.BlockShiftFrac[1]) {
		return bad("Faults.BlockShiftFrac = %v, want 0 < least <= most when BlockShift > 0", f.BlockShiftFrac)
	}
	if f.Spread > 0 && f.SpreadStations < 1 {
		return bad("Faults.SpreadStations = %d, want at least 1 when Spread > 0", f.SpreadStations)
	}
	return nil
}

// SmallConfig is a quick test country: a few provinces and constituencies with few stations
// each, the national vote model and night. Seed as given.
func SmallConfig(seed uint64) Config {
	c := DefaultConfig()
	c.Seed = seed
	c.Country.Provinces = 6
	c.Country.Constituencies = 12
	c.Country.StationsScale = 0.1
	return c
}
