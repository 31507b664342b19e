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
	go test ./...

bench:
	go run ./bench/startup
	go run ./bench/render
	go run ./bench/alibaba
	go run ./bench/supervise
	go run ./bench/logs
	go run ./bench/aws
	go run ./bench/rotation

fuzz:
	go test ./sources -run '^$$' -fuzz FuzzParse -fuzztime 60s -fuzzminimizetime 2s
	go test ./inject -run '^$$' -fuzz FuzzParseConfig -fuzztime 60s -fuzzminimizetime 2s
	go test ./inject -run '^$$' -fuzz FuzzFormats -fuzztime 60s -fuzzminimizetime 2s
	go test ./template -run '^$$' -fuzz 'FuzzParse$$' -fuzztime 60s -fuzzminimizetime 2s
	go test ./template -run '^$$' -fuzz FuzzJSONPath -fuzztime 60s -fuzzminimizetime 2s
	go test ./template -run '^$$' -fuzz FuzzSizeBounds -fuzztime 60s -fuzzminimizetime 2s
	go test ./sources/alibaba -run '^$$' -fuzz FuzzKMSReference -fuzztime 60s -fuzzminimizetime 2s
	go test ./sources -run '^$$' -fuzz FuzzParseEndpoint -fuzztime 60s -fuzzminimizetime 2s
	go test ./signal -run '^$$' -fuzz FuzzParseSignal -fuzztime 60s -fuzzminimizetime 2s
	go test ./logdriver -run '^$$' -fuzz FuzzMask -fuzztime 60s -fuzzminimizetime 2s
	go test ./logdriver -run '^$$' -fuzz FuzzBase64Form -fuzztime 60s -fuzzminimizetime 2s
	go test ./logdriver -run '^$$' -fuzz FuzzAppendJSONString -fuzztime 60s -fuzzminimizetime 2s
	go test ./logdriver -run '^$$' -fuzz FuzzOptions -fuzztime 60s -fuzzminimizetime 2s
	go test ./cmd/shroud -run '^$$' -fuzz FuzzListenAddress -fuzztime 60s -fuzzminimizetime 2s
	go test ./cmd/shroud -run '^$$' -fuzz FuzzParsePid -fuzztime 60s -fuzzminimizetime 2s
