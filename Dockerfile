# shroud's image, built from source (needs a registry for the Go image):
#
#   docker build --build-arg VERSION="$(git describe --tags --always)" -t shroud:VERSION .
#
# With BuildKit, --platform linux/arm64 (or several) cross-compiles on the
# build machine. Without a registry, `make image` builds the same image from
# the release binary (build/Dockerfile).
ARG GO_VERSION=1.26
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=devel
ARG TARGETOS
ARG TARGETARCH
# The Makefile's release flags: static, reproducible.
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH make build VERSION="$VERSION"

# Only the binary: it is static, and carries its own fallback CA roots, so
# it needs no libc, no shell and no CA files. It runs as a non-root user
# with no entry in /etc/passwd (there is none).
FROM scratch
ARG VERSION=devel
LABEL org.opencontainers.image.title="shroud" \
      org.opencontainers.image.description="Secret references into env vars, files and log options; exec wrapper and sidecar" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/shroud-dev/shroud" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /src/bin/shroud /shroud
USER 65532:65532
ENTRYPOINT ["/shroud"]
