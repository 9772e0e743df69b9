# Relais: multi-stage build on Debian 12. The build stage has the FFmpeg 5.1 development packages (as
# scripts/lib.sh installs them); the final image has only the runtime libraries, redis-server for the
# embedded default, and runs as a non-root user.
FROM debian:bookworm AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates git gcc libc6-dev pkg-config golang-go \
        libavcodec-dev libavformat-dev libavfilter-dev libavutil-dev libswresample-dev libswscale-dev libavdevice-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY scripts/lib.sh scripts/lib.sh
COPY go.mod go.sum ./
# Debian's Go 1.19 fetches the toolchain go.mod names through the Go module proxy (see ensure_go).
RUN bash -c '. scripts/lib.sh && ensure_go' && /usr/local/go/bin/go mod download
COPY . .
RUN /usr/local/go/bin/go build -trimpath -o /out/relais ./cmd/relais

FROM debian:bookworm-slim
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates libavcodec59 libavformat59 libavfilter8 libavutil57 libswresample4 libswscale6 libavdevice59 \
        redis-server fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /var/lib/relais relais
COPY --from=build /out/relais /usr/local/bin/relais
USER relais
WORKDIR /var/lib/relais
ENV RELAIS_DATA_DIR=/var/lib/relais/data RELAIS_HTTP_ADDR=0.0.0.0:8080
EXPOSE 8080
VOLUME /var/lib/relais/data
ENTRYPOINT ["relais"]
CMD ["serve"]
