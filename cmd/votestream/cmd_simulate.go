package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"votestream/ingest/token"
	"votestream/schemas"
	"votestream/simulate"
)

func init() {
	register(&command{
		name:    "simulate",
		summary: "generate a synthetic country, its results and an election night, or replay a night against ingest",
		usage: `country --out DIR | night --ingest URL --keys FILE

  country  writes a country (reference CSVs), its true results, report times, the
           volunteer roster and the labelled faults into --out
  night    replays the election night of the same seed and country against a
           running ingest over HTTP, at --speed times real time`,
		setup: func(fs *flag.FlagSet) func(context.Context, []string) error {
			d := simulate.DefaultConfig()
			rd := simulate.DefaultReplayConfig()
			seed := fs.Uint64("seed", d.Seed, "seed of every random draw: the same seed gives the same bytes")
			scenario := fs.String("scenario", d.Scenario, "how early reports differ from late ones: "+strings.Join(simulate.Scenarios(), ", "))
			ref := fs.String("ref", "", "reference folder (provinces, constituencies, parties; or a folder `simulate country` wrote) instead of a synthetic country")
			scale := fs.Float64("scale", d.Country.Scale, "fraction of the country to build, in (0, 1]")
			stationsScale := fs.Float64("stations-scale", d.Country.StationsScale, "multiplies every constituency's station count, in (0, 1]")
			priority := fs.Float64("priority-fraction", d.Country.PriorityFraction, "fraction of each stratum's stations drawn into the priority sample; 0 disables")
			out := fs.String("out", "", "country: folder to write into (created if missing)")
			previous := fs.String("previous-election", "", "country: also write a previous election correlated with this one into <out>/previous-election, for `estimate --baseline`: "+strings.Join(previousKinds(), ", ")+" (misleading: weakly correlated)")
			ingestURL := fs.String("ingest", "http://127.0.0.1:8080", "night: ingest's base URL")
			keys := fs.String("keys", "", "night: token key file (one `<key id> <base64 secret>` per line, the last active); the same file ingest verifies with")
			speed := fs.Float64("speed", rd.Speed, "night: simulated time per wall-clock time (60 = a 4-hour night in 4 minutes); 0 = as fast as possible")
			conc := fs.Int("concurrency", rd.Concurrency, "night: most requests in flight")
			attempts := fs.Int("max-attempts", rd.MaxAttempts, "night: most sends of one submission, retries included; 0 = no bound but --retry-budget")
			budget := fs.Duration("retry-budget", rd.RetryBudget, "night: how long one submission is retried (same id) before it is given up, as a phone would")
			return func(ctx context.Context, args []string) error {
				if len(args) != 1 || (args[0] != "country" && args[0] != "night") {
					return fmt.Errorf("%w: want `simulate country --out DIR` or `simulate night --ingest URL --keys FILE`", errUsage)
				}
				cfg := simulate.DefaultConfig()
				cfg.Seed, cfg.Scenario = *seed, *scenario
				cfg.Country.RefDir, cfg.Country.Scale, cfg.Country.StationsScale, cfg.Country.PriorityFraction = *ref, *scale, *stationsScale, *priority
				if err := cfg.Validate(); err != nil {
					return fmt.Errorf("%w: %v", errUsage, err)
				}
				if _, ok := simulate.PreviousKinds[*previous]; *previous != "" && !ok {
					return fmt.Errorf("%w: --previous-election %q: want one of %s", errUsage, *previous, strings.Join(previousKinds(), ", "))
				}
				if args[0] == "country" {
					if *out == "" {
						return fmt.Errorf("%w: --out is required", errUsage)
					}
					start := time.Now()
					sim, night, err := simulate.WriteCountry(cfg, *out)
					if err != nil {
						return err
					}
					if *previous != "" {
						if err := writePrevious(sim, *previous, filepath.Join(*out, "previous-election")); err != nil {
							return err
						}
					}
					slog.Info("country written", "dir", *out, "stations", len(sim.Country.Stations),
						"constituencies", len(sim.Country.Constituencies), "parties", len(sim.Country.Parties),
						"submissions_in_night", night.Len(), "took", time.Since(start).Round(time.Millisecond))
					return nil
				}
				if *keys == "" {
					return fmt.Errorf("%w: --keys is required to sign the volunteers' tokens", errUsage)
				}
				ring, err := token.LoadKeyring(*keys)
				if err != nil {
					return err
				}
				rc := simulate.DefaultReplayConfig()
				rc.URL, rc.Speed, rc.Concurrency, rc.MaxAttempts, rc.RetryBudget = *ingestURL, *speed, *conc, *attempts, *budget
				rc.Progress = os.Stderr
				rc.Token = volunteerTokens(ring, 24*time.Hour)
				return replayNight(ctx, cfg, rc)
			}
		},
	})
}

// volunteerTokens issues a station volunteer's token scoped to their assignment.
func volunteerTokens(ring *token.Keyring, ttl time.Duration) func(simulate.Volunteer) (string, error) {
	return func(v simulate.Volunteer) (string, error) {
		now := time.Now()
		return ring.Issue(token.Claims{
			TokenID: token.NewTokenID(), VolunteerID: v.ID, Org: v.Org, Role: schemas.RoleStation,
			Stations: v.Stations, IssuedAt: now, ExpiresAt: now.Add(ttl),
		})
	}
}

func replayNight(ctx context.Context, cfg simulate.Config, rc simulate.ReplayConfig) error {
	sim, err := simulate.Generate(cfg)
	if err != nil {
		return err
	}
	night, err := sim.Night()
	if err != nil {
		return err
	}
	sum, err := simulate.Replay(ctx, rc, night.Events())
	fmt.Fprintln(os.Stderr, sum.String())
	return err
}

func previousKinds() []string {
	var ks []string
	for k := range simulate.PreviousKinds {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// writePrevious writes sim's previous election of the given kind into dir.
func writePrevious(sim *simulate.Simulation, kind, dir string) error {
	prev, err := sim.PreviousElection(simulate.PreviousKinds[kind]())
	if err != nil {
		return err
	}
	if err := prev.Write(dir); err != nil {
		return err
	}
	slog.Info("previous election written", "dir", dir, "kind", kind, "new_party", prev.NewParty)
	return nil
}
