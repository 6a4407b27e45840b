// Package simulate generates a whole country and its election night, deterministically from a
// seed: the reference data (synthetic with the real shape, or the real structure read from a
// reference folder), the true count of every station and ballot with a realistic structure,
// when each station's count is known, and the night's stream of volunteer submissions with
// labelled faults. It can replay that stream against a running ingest over HTTP.
//
// Everything random comes from math/rand/v2 PCG sources derived from Config.Seed and a label
// (never the global source), so the same seed and configuration give the same bytes. It
// imports election and schemas only: the CLI injects anything a role owns (token issuing).
//
// Conventions other roles rely on:
//   - A progress submission is the tally board part-way through the count: its ballots_cast
//     is the number of ballots counted so far, so sum(votes)+invalid+no_vote == ballots_cast
//     holds for every honest submission, progress or final.
//   - Votes maps carry only numbers with at least one vote (a missing key means 0), in
//     submissions as in results; so a MISSING_PARTY fault shows only as broken arithmetic.
//   - A volunteer's phone sends its reports for one station and ballot in order; only a
//     DUPLICATE resend (same submission_id, same body) arrives out of order.
//   - The constituency ballot is counted first, then the party-list ballot; a station's
//     report time (report_times.csv) is when its party-list final form is done.
//   - Every fault the night injects is labelled with the anomaly code it should raise (see
//     FaultKind); a fault whose submission carries numbers ingest must refuse (a number not
//     on the ballot, a count above the eligible voters) says so in Fault.MayBeRefused.
package simulate
