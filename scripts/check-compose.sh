#!/usr/bin/env bash
# Validates docker-compose.yml, alone and with the CI override, with Debian's docker-compose (no engine is needed for
# `config`). The secrets come from .env.example here; a real deployment reads them from .env.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v docker-compose >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker-compose >/dev/null
  else
    echo "docker-compose is missing; install Debian's docker-compose package" >&2
    exit 1
  fi
fi
docker-compose --env-file .env.example -f docker-compose.yml config -q
docker-compose --env-file .env.example -f docker-compose.yml -f docker-compose.ci.yml config -q
# Without the secrets the file must refuse to start rather than fall back to default credentials.
if docker-compose --env-file /dev/null -f docker-compose.yml config -q 2>/dev/null; then
  echo "docker-compose.yml accepted missing S3 secrets" >&2
  exit 1
fi
echo "docker-compose.yml (and with docker-compose.ci.yml) is valid; secrets are required"
