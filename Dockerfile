# The parliament's image: paxos-priest, paxos-god and paxos-client on Debian 12.
#
#   docker compose build            (or: docker build -t parliament .)
#
# Two stages: the first builds with Debian's packages (the same ones scripts/setup.sh
# installs), the second is a small runtime image with only the binaries and their shared
# libraries. Plain Dockerfile syntax: builds with the legacy builder and with BuildKit.
# Hosts without a registry: run scripts/docker-base-image.sh first (see docs/OPERATIONS.md,
# "Run it in Docker").

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config libasio-dev nlohmann-json3-dev libspdlog-dev libcli11-dev zlib1g-dev libssl-dev \
      libcpp-httplib-dev libhttp-parser-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the build reads (the sources, CMakeLists.txt and packaging/), so a change to
# docs, tests or scripts reuses the cached build.
COPY CMakeLists.txt ./
COPY proto ./proto
COPY server ./server
COPY client ./client
COPY net ./net
COPY page ./page
COPY include ./include
COPY packaging ./packaging
# Two jobs by default: one Asio-heavy file needs about 750 MB (docker build --build-arg JOBS=N).
ARG JOBS=2
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARLIAMENT_TESTS=OFF \
 && cmake --build build -j "$JOBS" --target paxos-priest paxos-god paxos-client \
 && strip build/bin/paxos-priest build/bin/paxos-god build/bin/paxos-client

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libspdlog1.10 libfmt9 libssl3 libcpp-httplib0.11 libhttp-parser2.9 \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/bin/paxos-priest /src/build/bin/paxos-god /src/build/bin/paxos-client /usr/local/bin/
COPY config/docker.json /etc/parliament/docker.json
COPY scripts/docker-keys.sh /usr/local/bin/parliament-keys
# The priests and the god run as this unprivileged user; only the one-shot certs service
# (parliament-keys) runs as root, to hand each container its own key.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/parliament --no-create-home parliament \
 && mkdir -p /var/lib/parliament && chown parliament:parliament /var/lib/parliament
# A priest keeps ledger.csv, votes.csv and membership.json here (bind-mount it to keep them).
WORKDIR /var/lib/parliament
USER parliament
EXPOSE 7100 8100
# docker-compose.yml gives each priest its id; alone: docker run parliament (priest 1).
CMD ["paxos-priest", "--config", "/etc/parliament/docker.json", "--id", "1", "--data-dir", "/var/lib/parliament"]
