package inject

import (
	"fmt"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/shroud-dev/shroud/signal"
)

// RotationConfig is the [rotation] table as written (DESIGN §5).
type RotationConfig struct {
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
	// PolicyExit stops the child and ends shroud with ExitRotated, so an
	// orchestrator replaces the container.
	PolicyExit Policy = "exit"
	// PolicyNone only rewrites the files.
	PolicyNone Policy = "none"
)

var policies = []Policy{PolicySignal, PolicyRestart, PolicyExit, PolicyNone}

// ExitRotated is shroud's exit status under the exit policy: EX_TEMPFAIL
// from sysexits.h, "try again later", non-zero so that restart policies
// that replace failed containers (Docker's on-failure) replace this one,
// and apart from the child's statuses shroud passes on (125-127, 128+N).
const ExitRotated = 75

// Defaults of [rotation].
const (
	DefaultInterval = 5 * time.Minute
	DefaultJitter   = 0.1
)

// Rotation is the [rotation] table, checked and parsed.
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

// Rotation returns the parsed [rotation] table, with defaults for keys not
// given. A config without the table, or no config, has rotation off.
func (c *Config) Rotation() Rotation {
	r := Rotation{Interval: DefaultInterval, Jitter: DefaultJitter, OnChange: PolicySignal,
		Signal: syscall.SIGHUP, StopSignal: signal.DefaultStopSignal, StopTimeout: signal.DefaultStopTimeout}
	if c == nil || !c.rotationSet {
		return r
	}
	r.Enabled = true
	rc := c.RotationTable
	if rc.Interval != "" {
		r.Interval, _ = parseDuration(rc.Interval)
	}
	if rc.Jitter != nil {
		r.Jitter = *rc.Jitter
	}
	if rc.Splay != "" {
		r.Splay, _ = parseDuration(rc.Splay)
	}
	if rc.OnChange != "" {
		r.OnChange = Policy(rc.OnChange)
	}
	if rc.Signal != "" {
		r.Signal, _ = signal.ParseSignal(rc.Signal)
	}
	if rc.StopSignal != "" {
		r.StopSignal, _ = signal.ParseSignal(rc.StopSignal)
	}
	if rc.StopTimeout != "" {
		r.StopTimeout, _ = parseDuration(rc.StopTimeout)
	}
	return r
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

// validateRotation checks [rotation] and every [[files]] on_change; each
// problem names its key's line.
func (c *Config) validateRotation(add func(format string, args ...any)) {
	rc := c.RotationTable
	at := func(key string) string { return c.at(keyLine(c.structure, toml.Key{"rotation", key}, 0)) }
	for _, kv := range [][2]string{{"interval", rc.Interval}, {"splay", rc.Splay}, {"stop_timeout", rc.StopTimeout}} {
		if kv[1] == "" {
			continue
		}
		if _, err := parseDuration(kv[1]); err != nil {
			add("%s: [rotation] %s %v", at(kv[0]), kv[0], err)
		}
	}
	if d, err := parseDuration(rc.StopTimeout); rc.StopTimeout != "" && err == nil && d == 0 {
		add("%s: [rotation] stop_timeout must be more than 0: it is how long the child may take to stop before SIGKILL", at("stop_timeout"))
	}
	if j := rc.Jitter; j != nil && (*j < 0 || *j >= 1) {
		add("%s: [rotation] jitter %v: want a fraction from 0 up to (not including) 1, such as 0.1", at("jitter"), *j)
	}
	if rc.OnChange != "" && !validPolicy(rc.OnChange) {
		add("%s: [rotation] on_change %q: want signal, restart, exit or none", at("on_change"), rc.OnChange)
	}
	for _, kv := range [][2]string{{"signal", rc.Signal}, {"stop_signal", rc.StopSignal}} {
		if kv[1] == "" {
			continue
		}
		if _, err := signal.ParseSignal(kv[1]); err != nil {
			add("%s: [rotation] %s: %v", at(kv[0]), kv[0], err)
		}
	}
	for i, f := range c.Files {
		if f.OnChange != "" && !validPolicy(f.OnChange) {
			add("%s: on_change %q: want signal, restart, exit or none", c.entry("files", i), f.OnChange)
		}
	}
}

func validPolicy(s string) bool {
	for _, p := range policies {
		if string(p) == s {
			return true
		}
	}
	return false
}
