package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"

	"votestream/bench/internal/localproc"
)

// wrkScript drives POST /v1/submissions from wrk. Every request carries a fresh
// submission_id (thread number and a per-thread counter under this run's id), so ingest's
// idempotency cache never answers for it, and the token of the station it reports, read from
// a file of "station<TAB>Bearer …" lines; BASE keeps the rounds' thread numbers apart, so the volunteer may report that station.
// Consecutive requests of a thread walk the stations, so each volunteer sends about
// rate/stations requests per second, within ingest's default per-volunteer limit.
const wrkScript = `
local TOKENS, RUN, COUNTED, THREADS, BASE = %q, %q, %q, %d, %d
local stations, tokens = {}, {}
for line in io.lines(TOKENS) do
  local st, tok = line:match("^(%%S+)\t(.+)$")
  stations[#stations + 1], tokens[#tokens + 1] = st, tok
end

local created = 0
function setup(thread)
  thread:set("tid", created)
  created = created + 1
end

local n = 0
function request()
  n = n + 1
  local i = (n * THREADS + tid) %% #stations + 1
  local ballot, votes = "constituency", '{"1":150,"2":120,"3":90,"4":40,"5":20}'
  if n %% 2 == 1 then
    ballot, votes = "partylist", '{"1":140,"7":130,"12":80,"31":40,"39":30}'
  end
  local body = string.format('{"submission_id":"%%s-%%04x-4000-8000-%%012x","station_id":"%%s","ballot":"%%s","stage":"final",' ..
    '"counted_at":"%%s","ballots_cast":450,"invalid":12,"no_vote":8,"votes":%%s}',
    RUN, BASE + tid + 1, n, stations[i], ballot, COUNTED, votes)
  return wrk.format("POST", nil, {["Authorization"] = tokens[i], ["Content-Type"] = "application/json"}, body)
end
`

// wrkResult is what the wrk phase measured.
type wrkResult struct {
	perSecond        float64       // accepted submissions per second in the measured window
	accepted, topic  float64       // accepted by ingest, records added to the topic, over wrk's whole run
	refused, answers float64       // non-202 answers and all answers of the route over wrk's whole run
	cpuPerItem       time.Duration // this process's CPU (ingest alone) per accepted submission
	brokerPerItem    time.Duration // the local broker's CPU per accepted submission, 0 if unknown
}

// wrkPhase runs wrk against url for warm-up plus d (and a second of margin) and measures
// ingest's accepted-submissions counter over the window [warm, warm+d], which lies wholly
// inside wrk's run. It cross-checks the counter against the records the topic gained.
// Round keeps each round's submission ids apart; broker is the local broker's pid, or 0.
func wrkPhase(o options, w *workload, round int, url, topic string, reg *prometheus.Registry, adm *kadm.Client, broker int) (wrkResult, error) {
	dir, err := os.MkdirTemp("", "bench-ingest-wrk-")
	if err != nil {
		return wrkResult{}, err
	}
	defer os.RemoveAll(dir)
	var lines strings.Builder
	for i, tok := range w.tokens {
		fmt.Fprintf(&lines, "%s\t%s\n", w.country.Stations[i].ID, tok)
	}
	tokens, script := filepath.Join(dir, "tokens.tsv"), filepath.Join(dir, "submit.lua")
	if err := os.WriteFile(tokens, []byte(lines.String()), 0o600); err != nil {
		return wrkResult{}, err
	}
	lua := fmt.Sprintf(wrkScript, tokens, w.runID, w.counted, o.wrkThreads, round*o.wrkThreads)
	if err := os.WriteFile(script, []byte(lua), 0o600); err != nil {
		return wrkResult{}, err
	}

	const warm = 2 * time.Second
	total := warm + o.wrk + time.Second
	topic0, err := topicRecords(adm, topic)
	if err != nil {
		return wrkResult{}, err
	}
	acc0, refused0, answers0, err := submissionCounts(reg)
	if err != nil {
		return wrkResult{}, err
	}
	self0, broker0, start := selfCPU(), localproc.CPU(broker), time.Now()
	cmd := exec.Command("wrk", "-t", fmt.Sprint(o.wrkThreads), "-c", fmt.Sprint(o.wrkConns),
		"-d", fmt.Sprintf("%ds", int(total.Seconds())), "--timeout", "30s", "-s", script, url)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return wrkResult{}, err
	}
	time.Sleep(warm)
	profile := o.wrkProfile
	if round > 0 {
		profile = "" // the first round's window is the profile
	}
	stopProfile, err := startProfile(profile)
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return wrkResult{}, err
	}
	accA, _, _, errA := submissionCounts(reg)
	t0 := time.Now()
	time.Sleep(o.wrk)
	accB, _, _, errB := submissionCounts(reg)
	elapsed := time.Since(t0)
	stopProfile()
	if err := cmd.Wait(); err != nil {
		return wrkResult{}, fmt.Errorf("wrk: %w", err)
	}
	wall := time.Since(start)
	selfUsed, brokerUsed := selfCPU()-self0, localproc.CPU(broker)-broker0
	wrkUsed := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if errA != nil || errB != nil {
		return wrkResult{}, fmt.Errorf("reading ingest's counters: %v %v", errA, errB)
	}
	// Counters first, then the topic: requests still in flight when wrk stops go on (their
	// produce context is not the request's), and a submission is counted only after Kafka
	// acknowledged its record, so the topic read after the counter holds at least as many.
	acc1, refused1, answers1, err := submissionCounts(reg)
	if err != nil {
		return wrkResult{}, err
	}
	topic1, err := topicRecords(adm, topic)
	if err != nil {
		return wrkResult{}, err
	}
	r := wrkResult{perSecond: (accB - accA) / elapsed.Seconds(), accepted: acc1 - acc0, topic: float64(topic1 - topic0),
		refused: refused1 - refused0, answers: answers1 - answers0}
	if r.accepted > 0 {
		r.cpuPerItem = time.Duration(float64(selfUsed) / r.accepted)
		if broker != 0 {
			r.brokerPerItem = time.Duration(float64(brokerUsed) / r.accepted)
		}
	}
	fmt.Fprintf(os.Stderr, "#   %.0f accepted in the %.1fs window; over the whole run %.0f accepted, %.0f records added to the topic, %.0f of %.0f answers not 202\n",
		accB-accA, elapsed.Seconds(), r.accepted, r.topic, r.refused, r.answers)
	// Where the cores went: the rest of 2 cores × wall is the broker, idle time and others.
	brokerNote := "not on this machine"
	if broker != 0 {
		brokerNote = fmt.Sprintf("%.1fs", brokerUsed.Seconds())
	}
	fmt.Fprintf(os.Stderr, "#   CPU over wrk's %.1fs run: wrk %.1fs, ingest (this process) %.1fs (%.1f µs per submission), broker %s (load average %s)\n",
		wall.Seconds(), wrkUsed.Seconds(), selfUsed.Seconds(), r.cpuPerItem.Seconds()*1e6, brokerNote, loadAvg())
	if r.topic < r.accepted {
		return r, fmt.Errorf("ingest accepted %.0f submissions but the topic gained only %.0f records", r.accepted, r.topic)
	}
	return r, nil
}

// startProfile starts a CPU profile into path, or does nothing when path is empty.
func startProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// submissionCounts reads ingest's counters: submissions accepted, and the submissions
// route's answers that were not 202 and in all.
func submissionCounts(reg *prometheus.Registry) (accepted, refused, answers float64, err error) {
	mfs, err := reg.Gather()
	if err != nil {
		return 0, 0, 0, err
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			switch mf.GetName() {
			case "votestream_ingest_items_total":
				if labels["kind"] == "submission" && labels["outcome"] == "accepted" {
					accepted += m.GetCounter().GetValue()
				}
			case "votestream_ingest_requests_total":
				if !(labels["route"] == "/v1/submissions") {
					continue
				}
				answers += m.GetCounter().GetValue()
				if labels["code"] != "202" {
					refused += m.GetCounter().GetValue()
				}
			}
		}
	}
	return accepted, refused, answers, nil
}

// topicRecords is the sum of the topic's end offsets: with nothing deleted or compacted
// away during the run, the records written to it so far.
func topicRecords(adm *kadm.Client, topic string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, ends.Error()
}

// selfCPU is the user plus system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// loadAvg is the machine's load averages over 1, 5 and 15 minutes, or "?".
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
