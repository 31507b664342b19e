# The version the binaries print: make VERSION=v1.2.3 release.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
endif

# Release build: static (CGO_ENABLED=0: no libc, runs in any image; a
# darwin binary links only macOS's own libSystem and frameworks, as every
# Go program there does);
# -trimpath and -s -w shrink the binary (fewer page-ins at
# start-up); urfave_cli_no_docs drops urfave/cli's man-page generator, whose
# markdown parser costs 0.4-2 ms and 210 KB of package init at every start. No libc mapped
# also means ~1.4 MiB less resident memory.
# Reproducible: the same source gives the same bytes wherever it is checked
# out: -trimpath drops paths, -buildid= the build ID, -buildvcs=false the
# checkout's state (an untracked file would mark a VCS stamp dirty). The
# version is the one -X gives.
GOFLAGS_RELEASE = -trimpath -buildvcs=false -tags urfave_cli_no_docs -ldflags '-s -w -buildid= -X main.version=$(VERSION)'

# The release platforms, GOOS/GOARCH. What differs on darwin is in
# README.md (Install).
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
RELEASE_BINARIES = $(foreach p,$(PLATFORMS),dist/shroud-$(subst /,-,$(p)))
SHA256SUM ?= $(shell command -v sha256sum >/dev/null 2>&1 && echo sha256sum || echo shasum -a 256)

.PHONY: build release verify-release image test bench fuzz FORCE
build:
	CGO_ENABLED=0 go build $(GOFLAGS_RELEASE) -o bin/shroud ./cmd/shroud

# dist/shroud-OS-ARCH for each platform, and dist/SHA256SUMS.
release:
	rm -rf dist
	$(MAKE) --no-print-directory $(RELEASE_BINARIES) VERSION='$(VERSION)'
	cd dist && $(SHA256SUM) $(notdir $(RELEASE_BINARIES)) > SHA256SUMS
	cat dist/SHA256SUMS

dist/shroud-%: FORCE
	@mkdir -p dist
	CGO_ENABLED=0 GOOS=$(firstword $(subst -, ,$*)) GOARCH=$(lastword $(subst -, ,$*)) \
		go build $(GOFLAGS_RELEASE) -o $@ ./cmd/shroud

# Builds the release twice, from two clean copies of the sources at
# different paths, each with an empty build cache, and compares the
# checksums. Slow: every package is compiled twice for every platform. CI
# runs build/'s TestReleaseReproducible instead (one platform).
verify-release:
	build/verify-release.sh

# The image, FROM scratch with the linux/amd64 release binary: no registry
# needed. The build context is that binary and build/Dockerfile alone.
IMAGE ?= shroud
image:
	$(MAKE) --no-print-directory dist/shroud-linux-amd64 VERSION='$(VERSION)'
	tar -c -C build Dockerfile -C ../dist shroud-linux-amd64 | \
		docker build --build-arg VERSION='$(VERSION)' -t $(IMAGE):'$(VERSION)' -t $(IMAGE):latest -
	docker image inspect --format 'entrypoint={{json .Config.Entrypoint}} user={{.Config.User}} labels={{json .Config.Labels}}' $(IMAGE):'$(VERSION)'

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
