// Command floor only execs its arguments: the start-up cost every Go wrapper
// pays before doing any work, the baseline shroud is measured against.
package main

import (
	"os"
	"syscall"
)

func main() {
	err := syscall.Exec(os.Args[1], os.Args[1:], os.Environ())
	panic(err)
}
