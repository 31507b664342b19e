// Package docker holds the tests that check shroud against Docker Engine
// itself: each log driver beside Docker's own driver of the same name,
// Docker's json-file reader on shroud's files, and a FROM scratch image
// with shroud as its entrypoint, run, stopped and signalled by the daemon.
// The tests skip, saying why, where no Docker daemon answers.
package docker
