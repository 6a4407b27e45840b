// Package estimate turns the station results known so far into the figures newsrooms put on
// air: the national party-list vote shares with 95 % intervals, the projected party-list
// seats, and in every constituency the projected votes, the leader, its win probability and
// a call (too_early, leading, likely, called). DESIGN.md §4 is the contract; docs/estimation.md
// explains the method to a newsroom's data editor.
//
// The package has three parts:
//
//   - Estimator, a pure state machine: Apply one schemas.StationResult at a time, then
//     Estimate. It keeps running sums per stratum (constituency x urban/rural x station
//     size), so Apply costs one station's numbers and Estimate costs the strata, not the
//     stations: a national recompute over 95,000 stations takes milliseconds.
//   - Runner (Config, New, Run), which owns Kafka: it reads station-results.v1 from the
//     beginning of every partition (read_committed; the compacted topic is the state),
//     feeds the Estimator, and publishes to estimates.v1 every Config.Interval and on demand.
//   - Backtest, which replays a results set in a realistic reporting order and scores every
//     step against the final count.
//
// What keeps the figures honest on nights unlike the simulator's is in honesty.go (the
// publication guard, and the drift of the estimate measured on the night itself) and
// blocks.go (subdistricts that vote and report as blocks); size.go moves each stratum's
// projection for the size of its stations still out (slopes per party, region and
// constituency, each shrunk towards the level above); conformal.go checks the leads' variance
// on reported stations held out in arrival order and widens it where they were
// under-covered; baseline.go, baseline_state.go and baseline_model.go read an optional previous
// election (--baseline) and move each stratum's projection by the error the same model makes
// on it with tonight's reporting pattern (projecting the change, not the level); score.go
// scores backtests by
// stage of the night, the figures docs/estimation.md records.
//
// It imports only election and schemas among the project's packages, and never another role.
package estimate
