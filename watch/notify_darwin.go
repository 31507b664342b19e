package watch

import "errors"

// errNoProcessList is why --notify-process cannot work here: darwin has no
// /proc, where findProcesses looks for processes by name.
var errNoProcessList = errors.New("--notify-process finds processes by name in /proc, which only Linux has: use --notify-pid or --notify-pidfile")

func findProcesses(string) []int { return nil }
