// Package timer holds the two helpers every select loop of shroud's needs
// around an optional *time.Timer: nil means "not armed".
package timer

import "time"

// C is t's channel, or nil (never ready) when t is nil.
func C(t *time.Timer) <-chan time.Time {
	if t == nil {
		return nil
	}
	return t.C
}

// Stop stops *t, if armed, and disarms it.
func Stop(t **time.Timer) {
	if *t != nil {
		(*t).Stop()
		*t = nil
	}
}
