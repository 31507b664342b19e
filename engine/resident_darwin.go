package engine

import "errors"

// dropExecutablePages needs /proc/self/smaps to find the executable's
// mappings and which of them hold only the file's pages: darwin has no
// such list, so the start-up pages stay resident there.
func dropExecutablePages() (kib int, err error) {
	return 0, errors.New("dropping the executable's start-up pages needs /proc/self/smaps, which only Linux has")
}
