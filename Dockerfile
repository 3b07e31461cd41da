# chainsd, the Tekton Chains controller in C++: the controller image.
#   docker build -t chainsd:0.1.0 .
# Without a Docker engine, scripts/build-image makes the same image from Debian packages (an OCI
# image layout; config/README.md, "The image").

# ---- build: Debian 12 with the build dependencies of scripts/install-deps --------------------------
FROM debian:12 AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential meson ninja-build pkg-config python3 binutils \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-system1.81-dev \
      libsimdjson-dev libssl-dev librdkafka-dev libsodium-dev libyaml-cpp-dev \
      libspdlog-dev libfmt-dev catch2 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# A release build with prefix /usr, only the installed targets (chainsd and the plugins), staged in
# /out/rootfs (stripped; plugins 0644 in /usr/lib/x86_64-linux-gnu/chainsd/plugins) with the list of
# Debian packages whose libraries they load in /out/runtime-packages.txt.
RUN rm -rf build-image \
 && meson setup /build --buildtype=release --prefix=/usr -Dtests=disabled \
 && scripts/build-image --build-dir /build --stage-only /out

# ---- runtime: Debian 12 slim + exactly those runtime libraries --------------------------------------
FROM debian:12-slim
ARG DEBIAN_FRONTEND=noninteractive
COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
# libssl3 libsimdjson14 libyaml-cpp0.7 libsodium23 librdkafka1 libboost-json1.81.0
# libboost-url1.81.0 ... and ca-certificates (TLS roots for Rekor, Fulcio, registries).
RUN apt-get update \
 && xargs -a /tmp/runtime-packages.txt apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /tmp/runtime-packages.txt \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --home-dir /home/nonroot --create-home --shell /usr/sbin/nologin \
      -K UID_MAX=65532 nonroot
COPY --from=build /out/rootfs/ /

ARG VERSION=0.1.0
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="chainsd" \
      org.opencontainers.image.description="Tekton Chains controller in C++ (chainsd)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="debian:12-slim"
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 9090
ENTRYPOINT ["/usr/bin/chainsd"]
CMD ["run"]
