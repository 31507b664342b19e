# Release build: static (CGO_ENABLED=0: no libc, runs in any image);
# -trimpath and -s -w shrink the binary (fewer page-ins at
# start-up); urfave_cli_no_docs drops urfave/cli's man-page generator, whose
# markdown parser costs ~3 ms of package init at every start. No libc mapped
# also means ~1.4 MiB less resident memory.
GOFLAGS_RELEASE := -trimpath -tags urfave_cli_no_docs -ldflags '-s -w -X main.version=$(VERSION)'
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

.PHONY: build test bench fuzz
build:
	CGO_ENABLED=0 go build $(GOFLAGS_RELEASE) -o bin/shroud ./cmd/shroud

test:
	go test -race ./...

bench:
	go run ./bench/startup
	go run ./bench/render
	go run ./bench/alibaba
	go run ./bench/supervise
	go run ./bench/logs
	go run ./bench/aws
	go run ./bench/rotation

# Every fuzz target in the tree, listed from the code so a new one is never
# left out: FUZZTIME each, one after another.
FUZZTIME ?= 60s
fuzz:
	@grep -rE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(' . | \
	sed -E 's#^\./(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]+)\(.*#\1 \2#' | sort | \
	while read -r pkg target; do \
		echo "== ./$$pkg $$target"; \
		go test "./$$pkg" -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s || exit 1; \
	done
