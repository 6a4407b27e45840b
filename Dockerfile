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

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/votestream /usr/local/bin/votestream
ENV TZ=Asia/Bangkok
ENTRYPOINT ["/usr/local/bin/votestream"]
