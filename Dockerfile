# One image for every votestream role; the compose file picks the role by command.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/votestream ./cmd/votestream

# The compose file's init service: the same binary with a shell, to fill the state volume
# (deploy/init.sh). Roles never run from it.
FROM busybox:1.37 AS init
COPY --from=build /out/votestream /usr/local/bin/votestream
COPY deploy/init.sh /usr/local/bin/votestream-init
ENV TZ=Asia/Bangkok
ENTRYPOINT []

# votestream's Grafana data source plugin (dashboards/plugin, its own Go module) for the
# image's architecture, built by the script `make plugin` runs.
FROM golang:1.26-bookworm AS plugin
ARG TARGETARCH=amd64
WORKDIR /src
COPY go.mod go.sum ./
COPY dashboards/plugin/go.mod dashboards/plugin/go.sum dashboards/plugin/
RUN cd dashboards/plugin && go mod download
COPY . .
RUN dashboards/plugin/build.sh /out/votestream-live-datasource "$TARGETARCH"

# The war room's Grafana with the plugin in it (compose service grafana). The plugins live
# outside /var/lib/grafana, which is a volume: a volume keeps the files of the image it was
# first made from, so a plugin there would never be updated by a rebuild.
FROM grafana/grafana-oss:12.2.0 AS grafana
USER root
RUN mkdir -p /var/lib/grafana-plugins && chown 472:0 /var/lib/grafana-plugins
USER 472
ENV GF_PATHS_PLUGINS=/var/lib/grafana-plugins \
    GF_PLUGINS_ALLOW_LOADING_UNSIGNED_PLUGINS=votestream-live-datasource
COPY --from=plugin --chown=472:0 /out/votestream-live-datasource /var/lib/grafana-plugins/votestream-live-datasource

# The roles' image; last, so a plain build (compose's `build: .`) makes it.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/votestream /usr/local/bin/votestream
ENV TZ=Asia/Bangkok
ENTRYPOINT ["/usr/local/bin/votestream"]
