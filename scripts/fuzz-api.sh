#!/usr/bin/env bash
# API fuzzing from the OpenAPI spec: schemathesis (PyPI) against the gateway on embedded defaults.
#
#   bash scripts/fuzz-api.sh            # FUZZ_MAX_TIME=90 seconds per pass by default
#
# Installs schemathesis into scripts/.fuzz-venv (cached: reinstalled only when the pin changes), builds the
# TypeScript, starts scripts/fuzz-server.ts (recsvc, trainer and gateway in one process with small generated data,
# trained models and one API key of every scope), then runs two passes against /docs/json:
#   1. with the API key: every operation, valid and invalid inputs;
#   2. without a key: the admin routes must answer 401 in the documented error body.
# Checks: no 5xx (not_a_server_error), only documented status codes, content types, headers and response bodies
# matching their schemas, and schema-invalid input refused with 4xx (negative_data_rejection).
# Needs python3 (3.9+) with venv and network access to PyPI on first use. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

venv="${FUZZ_VENV:-scripts/.fuzz-venv}"
pin="schemathesis==4.32.5"
max_time="${FUZZ_MAX_TIME:-90}"
python="${PYTHON:-python3}"

if [[ ! -x "$venv/bin/schemathesis" || "$(cat "$venv/.pin" 2>/dev/null)" != "$pin" ]]; then
  echo "installing $pin into $venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip --disable-pip-version-check --no-input install --quiet "$pin"
  echo "$pin" >"$venv/.pin"
fi

npm run --silent build

log="$(mktemp -t recsys-fuzz-server.XXXXXX.log)"
data="$(mktemp -d -t recsys-fuzz-data.XXXXXX)"
# The project's Node.js itself (not `npx node`, whose child would outlive the kill below).
node_modules/.bin/node dist/scripts/fuzz-server.js --data-dir "$data" >"$log" 2>&1 &
server=$!
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT

# Wait for the ready line (data generation and training take a few seconds; at most 5 minutes).
for _ in $(seq 1 600); do
  if grep -q '^FUZZ-READY ' "$log"; then break; fi
  if ! kill -0 "$server" 2>/dev/null; then
    cat "$log" >&2
    echo "fuzz server exited before it was ready" >&2
    exit 1
  fi
  sleep 0.5
done
read -r _ port key < <(grep '^FUZZ-READY ' "$log")
if [[ -z "${port:-}" ]]; then
  cat "$log" >&2
  echo "fuzz server not ready after 5 minutes" >&2
  exit 1
fi
base="http://127.0.0.1:$port"
echo "gateway for fuzzing at $base"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,ignored_auth
common=(--checks "$checks" --max-time "$max_time" --workers 1 --request-timeout 15 --suppress-health-check all --seed 42 --warnings off)

echo "==> pass 1: with an API key of every scope"
"$venv/bin/schemathesis" --config-file scripts/fuzz-api.toml run "$base/docs/json" "${common[@]}" -H "Authorization: Bearer $key"

echo "==> pass 2: without a key (admin routes must answer 401 in the error body)"
"$venv/bin/schemathesis" --config-file scripts/fuzz-api.toml run "$base/docs/json" "${common[@]}" --include-method POST

if grep -q '"level":50' "$log"; then
  echo "the gateway logged errors during fuzzing:" >&2
  grep '"level":50' "$log" | head -20 >&2
  exit 1
fi
echo "API fuzzing: no failures"
