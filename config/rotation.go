package config

import (
	"fmt"
	"slices"
	"syscall"
	"time"

	"github.com/shroud-dev/shroud/child"
)

// rawRotation is the [rotation] table as written (DESIGN §5).
type rawRotation struct {
	// Interval between version polls; "0" disables polling (file: sources
	// are still watched). Default "5m".
	Interval string `toml:"interval"`
	// Jitter spreads each interval by up to this fraction either way.
	// Default 0.1.
	Jitter *float64 `toml:"jitter"`
	// Splay delays a restart or an exit by a random time up to it, so a
	// fleet that sees a rotation together does not restart together.
	Splay string `toml:"splay"`
	// OnChange is the policy when files change: signal, restart, exit or
	// none. Default signal.
	OnChange    string `toml:"on_change"`
	Signal      string `toml:"signal"`
	StopSignal  string `toml:"stop_signal"`
	StopTimeout string `toml:"stop_timeout"`
}

// Policy is what happens to the child when what it reads changes.
type Policy string

// The policies of on_change.
const (
	// PolicySignal sends the rotation signal (SIGHUP by default): the
	// child reads its files again.
	PolicySignal Policy = "signal"
	// PolicyRestart stops the child gracefully and starts it with a fresh
	// environment.
	PolicyRestart Policy = "restart"
	// PolicyExit stops the child and ends shroud with child.ExitRotated,
	// so an orchestrator replaces the container.
	PolicyExit Policy = "exit"
	// PolicyNone only rewrites the files.
	PolicyNone Policy = "none"
)

var policies = []Policy{PolicySignal, PolicyRestart, PolicyExit, PolicyNone}

// Defaults of [rotation].
const (
	DefaultInterval = 5 * time.Minute
	DefaultJitter   = 0.1
)

// Rotation is the [rotation] table, checked, with defaults for keys not
// given.
type Rotation struct {
	// Enabled is set when the config has a [rotation] table: only then does
	// shroud watch anything.
	Enabled     bool
	Interval    time.Duration
	Jitter      float64
	Splay       time.Duration
	OnChange    Policy
	Signal      syscall.Signal
	StopSignal  syscall.Signal
	StopTimeout time.Duration
}

// DefaultRotation is the rotation of a config without a [rotation] table:
// off, with every default set.
func DefaultRotation() Rotation {
	return Rotation{Interval: DefaultInterval, Jitter: DefaultJitter, OnChange: PolicySignal,
		Signal: syscall.SIGHUP, StopSignal: child.DefaultStopSignal, StopTimeout: child.DefaultStopTimeout}
}

// rotation checks [rotation]; each problem names its key's line.
func (b *builder) rotation(rc rawRotation, defined bool) Rotation {
	r := DefaultRotation()
	r.Enabled = defined
	at := func(key string) string { return b.key("rotation", key) }
	duration := func(key, s string, d *time.Duration) {
		if s == "" {
			return
		}
		v, err := parseDuration(s)
		if err != nil {
			b.add("%s: [rotation] %s %v", at(key), key, err)
			return
		}
		*d = v
	}
	duration("interval", rc.Interval, &r.Interval)
	duration("splay", rc.Splay, &r.Splay)
	duration("stop_timeout", rc.StopTimeout, &r.StopTimeout)
	if rc.StopTimeout != "" && r.StopTimeout == 0 {
		b.add("%s: [rotation] stop_timeout must be more than 0: it is how long the child may take to stop before SIGKILL", at("stop_timeout"))
	}
	if j := rc.Jitter; j != nil {
		if *j < 0 || *j >= 1 {
			b.add("%s: [rotation] jitter %v: want a fraction from 0 up to (not including) 1, such as 0.1", at("jitter"), *j)
		}
		r.Jitter = *j
	}
	if rc.OnChange != "" {
		r.OnChange = b.policy(rc.OnChange, at("on_change")+": [rotation]")
	}
	signal := func(key, s string, sig *syscall.Signal) {
		if s == "" {
			return
		}
		v, err := child.ParseSignal(s)
		if err != nil {
			b.add("%s: [rotation] %s: %v", at(key), key, err)
			return
		}
		*sig = v
	}
	signal("signal", rc.Signal, &r.Signal)
	signal("stop_signal", rc.StopSignal, &r.StopSignal)
	return r
}

// policy reads an on_change value; at places it in errors.
func (b *builder) policy(s, at string) Policy {
	p := Policy(s)
	if !slices.Contains(policies, p) {
		b.add("%s on_change %q: want signal, restart, exit or none", at, s)
	}
	return p
}

// parseDuration reads a duration as Go writes it ("30s", "5m"); a bare "0"
// is zero.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration like \"30s\" or \"5m\"", s)
	}
	return d, nil
}
