#!/usr/bin/env bash
# Validates docker-compose.yml with Debian's docker-compose (no Docker engine is needed for `config`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker-compose >/dev/null
  else
    echo "docker-compose is missing; install Debian's docker-compose package" >&2
    exit 1
  fi
fi
docker-compose -f docker-compose.yml config -q
echo "docker-compose.yml is valid"
