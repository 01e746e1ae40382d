# syntax=docker/dockerfile:1
#
# Build:  docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t proliferate-linear .
# Run:    docker run -d -v proliferate-linear:/data -p 8080:8080 \
#           -e SLACK_BOT_TOKEN=... -e SLACK_APP_TOKEN=... proliferate-linear
#
# The binary is static (CGO_ENABLED=0; SQLite is the pure-Go modernc.org
# driver), so the final image is distroless "static": CA certificates,
# tzdata and a nonroot user (uid 65532), no shell.

# Match the go directive in go.mod.
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules in their own layer: it is rebuilt only when go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download && go mod verify
COPY . .
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/proliferate-linear ./cmd/proliferate-linear
# An empty /data owned by nonroot: a fresh named volume copies this ownership,
# so the bot can create its database and key file there.
RUN install -d -o 65532 -g 65532 -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/proliferate-linear /usr/local/bin/proliferate-linear
COPY --from=build --chown=65532:65532 /out/data /data
# The embedded SQLite database (proliferate-linear.db) and the generated
# encryption key (proliferate-linear.key) are created in the working
# directory unless DATABASE_URL / ENCRYPTION_KEY say otherwise.
WORKDIR /data
VOLUME ["/data"]
USER nonroot:nonroot
# HTTP API, alert webhook, OAuth callback and health (HTTP_ADDR default :8080).
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/proliferate-linear"]
CMD ["serve"]
