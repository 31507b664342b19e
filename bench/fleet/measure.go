package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shroud-dev/shroud/bench/internal/benchutil"
)

// result is one row: every figure is for the real fleet (rates and times
// scaled back by K and C); counts of calls are the simulation's.
type result struct {
	s scenario
	p Params
	// rates by quota: mean and peak (over 10 s windows) calls a second,
	// in the busiest region, against the quota.
	rates      []rate
	calls      int
	throttled  int
	startFails int
	badReads   int
	restarts   int
	// absorbed is when the last wrapper had started, from the first start.
	absorbed time.Duration
	// unconfirmed counts the wrappers whose refreshes failed (they kept
	// their last good values); longest is the longest such span.
	unconfirmed int
	longest     time.Duration
	// Rotation to the child reading the new value: median, p99, and the
	// wrappers that never read it.
	rotP50, rotP99 time.Duration
	rotMissed      int
	rotated        bool
	// perSecret counts every call in the window, perSecretOK those not
	// throttled.
	perSecret, perSecretOK float64
	firstErr               string
}

type rate struct {
	quota       string
	mean, peak  float64
	limit       float64
	throttledOf int
}

type record struct {
	api, region string
	at          time.Time
	throttled   bool
}

func measure(s scenario, p Params, w *world, wrappers []*wrapper, t0, end time.Time, rotatedAt time.Time) *result {
	r := &result{s: s, p: p}
	var recs []record
	if w.aws != nil {
		for _, c := range w.aws.Calls() {
			recs = append(recs, record{c.API, c.Region, c.Start, c.Code == "ThrottlingException"})
		}
	} else {
		for _, c := range w.kms.CallLog() {
			recs = append(recs, record{c.Action, c.Region, c.At, c.Code == "Rejected.Throttling"})
		}
	}
	from, to := t0.Add(p.Sim(s.window[0])), t0.Add(p.Sim(s.window[1]))
	r.rates = rates(recs, w, p, from, to)
	var inWindow, inWindowOK int
	for _, c := range recs {
		r.calls++
		if c.throttled {
			r.throttled++
		}
		if !c.at.Before(from) && c.at.Before(to) {
			inWindow++
			if !c.throttled {
				inWindowOK++
			}
		}
	}
	secretIntervals := float64(len(wrappers)*len(w.keys)) * float64(to.Sub(from)) / float64(p.Sim(p.Interval))
	r.perSecret, r.perSecretOK = float64(inWindow)/secretIntervals, float64(inWindowOK)/secretIntervals

	r.wrappers(wrappers, t0, end, rotatedAt)
	return r
}

// wrappers adds what the wrappers and their children saw: failed starts,
// bad reads, unconfirmed spans and rotation latencies.
func (r *result) wrappers(wrappers []*wrapper, t0, end, rotatedAt time.Time) {
	p := r.p
	var last time.Time
	var lat []time.Duration
	for _, x := range wrappers {
		x.mu.Lock()
		switch {
		case x.startErr != nil || x.startedAt.IsZero():
			r.startFails++
			if r.firstErr == "" && x.startErr != nil {
				r.firstErr = x.startErr.Error()
			}
		case x.startedAt.After(last):
			last = x.startedAt
		}
		r.badReads += len(x.bad)
		if len(x.bad) > 0 && r.firstErr == "" {
			r.firstErr = x.bad[0]
		}
		r.restarts += x.restarts
		spans := slices.Clone(x.unconfirmed)
		if !x.failedSince.IsZero() {
			spans = append(spans, end.Sub(x.failedSince))
		}
		if len(spans) > 0 {
			r.unconfirmed++
			r.longest = max(r.longest, p.Real(slices.Max(spans)))
		}
		if !rotatedAt.IsZero() && !x.startedAt.IsZero() {
			if x.sawRotation.IsZero() {
				r.rotMissed++
			} else {
				lat = append(lat, p.Real(x.sawRotation.Sub(rotatedAt)))
			}
		}
		x.mu.Unlock()
	}
	if !last.IsZero() {
		r.absorbed = p.Real(last.Sub(t0))
	}
	r.rotated = !rotatedAt.IsZero()
	if len(lat) > 0 {
		r.rotP50, r.rotP99 = benchutil.Median(lat), benchutil.Percentile(lat, 0.99)
	}
}

// rates are each quota's calls a second in [from, to), in the busiest
// region, as the real fleet makes them: mean, and peak over windows of ten
// real seconds.
func rates(recs []record, w *world, p Params, from, to time.Time) []rate {
	slot := p.Sim(10 * time.Second)
	type key struct{ quota, region string }
	counts := map[key][]int{}
	throttled := map[string]int{}
	slots := int(to.Sub(from)/slot) + 1
	for _, c := range recs {
		if c.at.Before(from) || !c.at.Before(to) {
			continue
		}
		q := w.quota[c.api]
		if q == "" {
			q = c.api[strings.LastIndexByte(c.api, '.')+1:]
		}
		k := key{q, c.region}
		if counts[k] == nil {
			counts[k] = make([]int, slots)
		}
		counts[k][int(c.at.Sub(from)/slot)]++
		if c.throttled {
			throttled[q]++
		}
	}
	scale := p.K / p.C // a simulated rate times scale is the real fleet's
	byQuota := map[string]*rate{}
	for k, cs := range counts {
		total := 0
		for _, n := range cs {
			total += n
		}
		mean := float64(total) / to.Sub(from).Seconds() * scale
		peak := float64(slices.Max(cs)) / slot.Seconds() * scale
		r := byQuota[k.quota]
		if r == nil {
			r = &rate{quota: k.quota, limit: w.limit[k.quota], throttledOf: throttled[k.quota]}
			byQuota[k.quota] = r
		}
		r.mean, r.peak = max(r.mean, mean), max(r.peak, peak)
	}
	var out []rate
	for _, r := range byQuota {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].quota < out[j].quota })
	return out
}

// header and row print the table in Markdown.
func header() string {
	return "| scenario | quotas | calls/s in the busiest region: mean · peak / quota | throttled | child-visible failures | wrappers on unconfirmed values (longest) | rotation → child p50 / p99 | calls per secret per interval (naive 1) |\n" +
		"|---|---|---|---|---|---|---|---|"
}

func (r *result) row() string {
	var rates []string
	for _, q := range r.rates {
		lim := "no quota"
		if q.limit > 0 {
			lim = fmt.Sprintf("%g", q.limit)
		}
		rates = append(rates, fmt.Sprintf("%s %s · %s / %s", q.quota, num(q.mean), num(q.peak), lim))
	}
	thr := "0"
	if r.throttled > 0 {
		thr = fmt.Sprintf("%d of %d calls (%.1f%%)", r.throttled, r.calls, 100*float64(r.throttled)/float64(r.calls))
	}
	fails := r.startFails + r.badReads + r.restarts
	failText := fmt.Sprintf("**%d**", fails)
	if r.startFails > 0 {
		failText += fmt.Sprintf(" (%d of %d did not start)", r.startFails, r.p.N())
	}
	stale := "0"
	if r.unconfirmed > 0 {
		stale = fmt.Sprintf("%d of %d (%s)", r.unconfirmed, r.p.N(), dur(r.longest))
	}
	rot := "—"
	if r.rotated {
		rot = fmt.Sprintf("%s / %s", dur(r.rotP50), dur(r.rotP99))
		if r.rotMissed > 0 {
			rot += fmt.Sprintf(", %d never", r.rotMissed)
		}
	}
	name := r.s.name
	if r.s.startWindow <= 2*time.Minute {
		name += fmt.Sprintf("; last start at %s", dur(r.absorbed))
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %s | %s | %s | %.3f (%.3f answered) |", name, r.s.quotas, strings.Join(rates, "; "),
		thr, failText, stale, rot, r.perSecret, r.perSecretOK)
}

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

func dur(d time.Duration) string {
	if d >= time.Minute {
		return fmt.Sprintf("%.1f min", d.Minutes())
	}
	return fmt.Sprintf("%.0f s", d.Seconds())
}
