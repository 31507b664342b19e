package config

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestConfigRotation(t *testing.T) {
	cfg, err := parse(t, `
[rotation]
interval = "30s"
jitter = 0.2
splay = "1m"
on_change = "restart"
signal = "USR1"
stop_signal = "SIGQUIT"
stop_timeout = "3s"

[[files]]
path = "out/a"
value_from = "file:a"
on_change = "none"
`)
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Rotation
	want := Rotation{Enabled: true, Interval: 30 * time.Second, Jitter: 0.2, Splay: time.Minute, OnChange: PolicyRestart,
		Signal: syscall.SIGUSR1, StopSignal: syscall.SIGQUIT, StopTimeout: 3 * time.Second}
	if r != want {
		t.Errorf("rotation = %+v\nwant       %+v", r, want)
	}
	spec := cfg
	if spec.Files[0].OnChange != PolicyNone {
		t.Errorf("file on_change = %q", spec.Files[0].OnChange)
	}

	// Defaults: an empty table turns rotation on; no table leaves it off.
	cfg, _ = parse(t, "[rotation]\n")
	if r := cfg.Rotation; !r.Enabled || r.Interval != 5*time.Minute || r.Jitter != 0.1 || r.OnChange != PolicySignal || r.Signal != syscall.SIGHUP || r.StopTimeout != 10*time.Second {
		t.Errorf("defaults: %+v", r)
	}
	cfg, _ = parse(t, "region = \"us-east-1\"\n")
	if cfg.Rotation.Enabled {
		t.Error("rotation on without a [rotation] table")
	}
	if cfg, _ := Load(Input{}); cfg.Rotation.Enabled {
		t.Error("rotation on without a config")
	}

	_, err = parse(t, `
[rotation]
interval = "often"
jitter = 1.5
splay = "-1s"
on_change = "reload"
signal = "SIGNOPE"
stop_timeout = "0s"
intervall = "1m"

[[files]]
path = "out/a"
value_from = "file:a"
on_change = "kill"
`)
	for _, want := range []string{
		"8 problems",
		`shroud.toml:3: [rotation] interval "often" is not a duration`,
		"shroud.toml:4: [rotation] jitter 1.5: want a fraction from 0 up to (not including) 1",
		`shroud.toml:5: [rotation] splay "-1s" is not a duration`,
		`shroud.toml:6: [rotation] on_change "reload": want signal, restart, exit or none`,
		`shroud.toml:7: [rotation] signal: invalid signal "SIGNOPE"`,
		"shroud.toml:8: [rotation] stop_timeout must be more than 0",
		`shroud.toml:9: unknown key "rotation.intervall"; known keys in [rotation]: interval, jitter, on_change, signal, splay, stop_signal, stop_timeout`,
		`shroud.toml:11 [[files]] #1: on_change "kill": want signal, restart, exit or none`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("errors lack %q:\n%v", want, err)
		}
	}
}
