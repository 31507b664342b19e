package main

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/shroud-dev/shroud/internal/awsfake"
	"github.com/shroud-dev/shroud/internal/kmsfake"
)

// scenario is one row of the table. Its times are real ones; the run
// compresses them.
type scenario struct {
	name    string
	quotas  string // the quota set, as the table names it
	backend string
	aws     []awsfake.Quota
	kms     []kmsfake.Quota
	// Wrappers start at uniformly random times within startWindow.
	startWindow time.Duration
	// timeout is [aws] timeout / [alibaba] timeout: the start-up deadline.
	timeout time.Duration
	// window is where rates and calls per secret are measured.
	window [2]time.Duration
	end    time.Duration
	// rotate, when set, rotates rotateKey at that time.
	rotate    time.Duration
	rotateKey string
	// outage, when set, fails every call between its two times.
	outage [2]time.Duration
}

// run runs the scenario with p and measures it.
func (s scenario) run(p Params) (*result, error) {
	w, err := newWorld(p, s.backend, s.aws, s.kms)
	if err != nil {
		return nil, err
	}
	defer w.close()
	n := p.N()
	wrappers := make([]*wrapper, n)
	for i := range wrappers {
		wrappers[i] = newWrapper(w, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t0 := time.Now()
	at := func(real time.Duration) <-chan time.Time { return time.After(time.Until(t0.Add(p.Sim(real)))) }
	for _, x := range wrappers {
		delay := time.Duration(rand.Float64() * float64(s.startWindow))
		wg.Go(func() {
			select {
			case <-at(delay):
				x.run(ctx, s.timeout)
			case <-ctx.Done():
			}
		})
	}
	// The child's view, sampled: every file, every ten (real) seconds.
	wg.Go(func() {
		tick := time.NewTicker(max(p.Sim(10*time.Second), 50*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, x := range wrappers {
					if x.started() {
						x.read()
					}
				}
			}
		}
	})
	var rotatedAt time.Time
	for _, ev := range s.timeline() {
		<-at(ev.at)
		switch ev.what {
		case "outage":
			w.outage(true)
		case "recovery":
			w.outage(false)
		case "rotate":
			v := w.rotate(s.rotateKey)
			rotatedAt = time.Now()
			for _, x := range wrappers {
				x.expect(s.rotateKey, v)
			}
		}
	}
	<-at(s.end)
	end := time.Now()
	cancel()
	wg.Wait()
	return measure(s, p, w, wrappers, t0, end, rotatedAt), nil
}

type event struct {
	at   time.Duration
	what string
}

func (s scenario) timeline() []event {
	var evs []event
	if s.outage[1] > 0 {
		evs = append(evs, event{s.outage[0], "outage"}, event{s.outage[1], "recovery"})
	}
	if s.rotate > 0 {
		evs = append(evs, event{s.rotate, "rotate"})
	}
	slices.SortStableFunc(evs, func(a, b event) int { return int(a.at - b.at) })
	return evs
}

func (x *wrapper) started() bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return !x.startedAt.IsZero()
}
