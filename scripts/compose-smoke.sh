#!/usr/bin/env bash
# Compose smoke test: brings the real stack up from docker-compose.yml + docker-compose.ci.yml on a private Docker
# engine and checks, in order:
#   1. every service becomes healthy and the one-shot bootstrap exits 0;
#   2. a personalised list (source model/cache, not global_top) through the gateway's published port;
#   3. recommendations, feedback and the experiment report through that port;
#   4. metrics of recsvc, the trainer API, the worker and both events-consumers reachable from another container;
#   5. interaction events through Kafka: POST /events (mode "kafka") is applied by the events-consumer group (the
#      user's history shows the movie, the next list no longer offers it, events_consumed_total grows, lag ends at 0);
#      an events-consumer killed (SIGKILL) while events are produced restarts and every event is applied once;
#   6. --scale trainer-worker=2: two training runs at once, each worker takes one;
#   7. two recsvc replicas: the gateway spreads calls over both (each one's recommendations_served_total grows) and
#      keeps serving when one is stopped;
#   8. a container killed from outside (SIGKILL to its process) comes back by itself (restart policy);
#   9. `down -v` leaves no container, volume or network of the project.
# It cleans up on any exit (down -v; the engine is stopped if this script started it).
#
# Usage: scripts/compose-smoke.sh
# Environment:
#   RECSYS_SMOKE_TIMEOUT   seconds for the stack part (steps 1-9), default 600; image builds are timed apart
#   RECSYS_SMOKE_PORTS     host port range for the gateway, default 18080-18089
#   RECSYS_SMOKE_KEEP=1    leave the stack up (no down -v) for inspection
set -euo pipefail
cd "$(dirname "$0")/.."

PROJECT=recsys-smoke
TIMEOUT=${RECSYS_SMOKE_TIMEOUT:-600}
PORTS=${RECSYS_SMOKE_PORTS:-18080-18089}
DOCKER=/usr/bin/docker
RUN_DIR="${RECSYS_DOCKER_RUN:-/tmp/recsys-docker}"
ENV_FILE="$RUN_DIR/smoke.env"
T0=$SECONDS
STACK_T0=
PASSED=0

log() { printf '[compose-smoke %4ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
pass() { PASSED=$((PASSED + 1)); log "PASS $*"; }
fail() {
  log "FAIL $*"
  dc ps >&2 2>/dev/null || true
  exit 1
}
deadline_left() { echo $((TIMEOUT - (SECONDS - STACK_T0))); }
check_deadline() { [ "$(deadline_left)" -gt 0 ] || fail "time limit of ${TIMEOUT}s reached while: $*"; }

# docker-compose lets the shell's variables win over the env file: drop every variable docker-compose.yml reads
# (CI exports the test servers' MONGO_URL, S3_ENDPOINT, ... before this script runs).
unset MONGO_URL MONGO_DB REDIS_URL S3_ENDPOINT S3_ACCESS_KEY S3_SECRET_KEY S3_BUCKET S3_REGION S3_ADMIN_PORT \
  GATEWAY_PORTS TRAINER_WORKER_THREADS LOG_LEVEL BOOTSTRAP_MOVIELENS_DIR RECSYS_IMAGE ADMIN_API_KEY API_KEYS_EXTRA \
  KAFKA_BROKERS EVENTS_PARTITIONS EVENTS_GROUP_ID KAFKA_HEAP_OPTS KAFKA_CLUSTER_ID KAFKA_LOG_RETENTION_HOURS
# Replicas for the whole run: two recsvc (step 7) and two events-consumers (a consumer group of two, step 5).
SCALE=(--scale recsvc=2 --scale events-consumer=2)

dc() { docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f docker-compose.yml -f docker-compose.ci.yml "$@"; }

ENGINE_STARTED_HERE=0
cleanup() {
  local rc=$?
  set +e
  if [ "${RECSYS_SMOKE_KEEP:-0}" != 1 ] && [ -n "${DOCKER_HOST:-}" ]; then
    if [ "$rc" -ne 0 ]; then
      log "last log lines of each service:"
      dc logs --no-color --tail 15 >&2 2>/dev/null
    fi
    dc down -v --remove-orphans --timeout 10 >/dev/null 2>&1
    # dangling layers older than a day (a recent build stage stays as the next build's cache); tagged images stay
    $DOCKER image prune -f --filter until=24h >/dev/null 2>&1
    [ "$ENGINE_STARTED_HERE" = 1 ] && bash scripts/docker-engine.sh stop
  fi
  log "finished with exit code $rc after $((SECONDS - T0)) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- engine and images
bash scripts/docker-engine.sh status | grep -q running || ENGINE_STARTED_HERE=1
eval "$(bash scripts/docker-engine.sh start)"
export DOCKER_HOST

mkdir -p "$RUN_DIR"
ADMIN_API_KEY=smoke-$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
# Secrets for this run only (the file is outside the repository): random S3 keys, as an operator's .env would hold.
cat >"$ENV_FILE" <<EOF
S3_ACCESS_KEY=smoke-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
S3_SECRET_KEY=$(od -An -N20 -tx1 /dev/urandom | tr -d ' \n')
ADMIN_API_KEY=$ADMIN_API_KEY
GATEWAY_PORTS=$PORTS
S3_ADMIN_PORT=0
TRAINER_WORKER_THREADS=1
EOF
dc down -v --remove-orphans --timeout 5 >/dev/null 2>&1 || true   # leftovers of an interrupted run

t=$SECONDS
bash scripts/test-servers.sh install
bash docker/build-ci-images.sh
log "stand-in and base images ready in $((SECONDS - t)) s"
t=$SECONDS
dc build --quiet recsvc >/dev/null || fail "docker-compose build"
log "app image built in $((SECONDS - t)) s"
$DOCKER image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep -E '^(recsys|recsys-ci/)' | sed 's/^/  image /' >&2

# ---------------------------------------------------------------- 1. up, healthy, bootstrap
STACK_T0=$SECONDS
log "docker-compose up -d ${SCALE[*]} (waits for the healthchecks and the bootstrap)"
UP_NOTE=""
up_stack() { timeout "$(deadline_left)" docker-compose -p "$PROJECT" --env-file "$ENV_FILE" -f docker-compose.yml \
  -f docker-compose.ci.yml up -d "${SCALE[@]}" >&2; }
if ! up_stack; then
  # A service that exits during start-up (e.g. it could not reach MongoDB in time on a loaded machine) makes compose
  # give up at once, while its restart policy brings it back: one more `up` waits for it again.
  check_deadline "docker-compose up"
  log "docker-compose up stopped at a failed start-up; restart counts: $(for id in $(dc ps -q); do $DOCKER inspect -f '{{.Name}}={{.RestartCount}}' "$id"; done | tr '\n' ' ')"
  UP_NOTE=" (a second 'up' was needed after a start-up failure)"
  sleep 5
  up_stack || fail "docker-compose up (twice)"
fi

ids_of() { dc ps -q "$1"; }
health_of() { $DOCKER inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$1"; }
all_healthy() {
  local svc id n
  for svc in mongodb redis s3 kafka recsvc events-consumer trainer trainer-worker gateway; do
    n=0
    for id in $(ids_of "$svc"); do
      [ "$(health_of "$id")" = healthy ] || return 1
      n=$((n + 1))
    done
    [ "$n" -gt 0 ] || return 1
  done
}
until all_healthy; do check_deadline "waiting for every service to be healthy"; sleep 2; done
boot=$(ids_of bootstrap)
[ -n "$boot" ] || fail "no bootstrap container"
boot_state=$($DOCKER inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$boot")
[ "$boot_state" = "exited 0" ] || fail "bootstrap: $boot_state"
pass "1. every service healthy (recsvc x2, events-consumer x2)$UP_NOTE; bootstrap exited 0 after $((SECONDS - STACK_T0)) s: $(dc logs --no-color bootstrap | tail -n 1 | cut -c1-160)"

# ---------------------------------------------------------------- 2. personalised list through the published port
port=$(dc port gateway 8080 | sed 's/.*://')
[ -n "$port" ] || fail "gateway publishes no port"
BASE="http://127.0.0.1:$port"
json() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const v=JSON.parse(s);const f=new Function("v","return ("+process.argv[1]+")");const r=f(v);process.stdout.write(typeof r==="string"?r:JSON.stringify(r))})' "$1"; }
get() { curl -sf --max-time 10 "$BASE$1"; }
post() { curl -sf --max-time 10 -X POST -H "authorization: Bearer $ADMIN_API_KEY" -H 'content-type: application/json' -d "$2" "$BASE$1"; }

source_of=""
until [ "$source_of" = model ] || [ "$source_of" = cache ]; do
  check_deadline "waiting for a personalised list (last source: ${source_of:-none})"
  source_of=$(get '/recommendations/u1?model=als&k=5' | json 'v.source') || source_of=""
  [ "$source_of" = model ] || [ "$source_of" = cache ] || sleep 2
done
pass "2. personalised list on $BASE: /recommendations/u1?model=als has source '$source_of'"

# ---------------------------------------------------------------- 3. recommendations, feedback, report
rec=$(get '/recommendations/u2?model=lightfm&k=5') || fail "GET /recommendations/u2?model=lightfm"
[ "$(echo "$rec" | json 'v.items.length')" = 5 ] || fail "lightfm list has not 5 items: $rec"
lf_source=$(echo "$rec" | json 'v.source')
case "$lf_source" in model|cache) ;; *) fail "lightfm list source is '$lf_source'" ;; esac
session=$(echo "$rec" | json 'v.session_id')
movie=$(echo "$rec" | json 'v.items[0].movie_id')
post "/feedback/$session" "{\"movie_id\":\"$movie\",\"liked\":true}" >/dev/null || fail "POST /feedback/$session"
bad=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -X POST -H 'content-type: application/json' \
  -d '{"movie_id":"not-in-the-list","liked":true}' "$BASE/feedback/$session")
[ "$bad" = 400 ] || fail "feedback on a movie outside the list answered $bad, expected 400"
report=$(get '/experiments/report?k=3') || fail "GET /experiments/report"
echo "$report" | json 'JSON.stringify(v).includes("als") && JSON.stringify(v).includes("lightfm") ? "ok" : "no"' | grep -q ok \
  || fail "report names no models: $report"
pass "3. lightfm list (source $lf_source), feedback 2xx (400 for a movie outside the list), experiment report"

# ---------------------------------------------------------------- 4. metrics reachable from another container
gw=$(ids_of gateway | head -n 1)
ip_of() { $DOCKER inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
scrape() { # scrape CONTAINER-ID PORT: the Prometheus text, fetched from inside the gateway container
  $DOCKER exec "$gw" node -e 'fetch(process.argv[1]).then(async r=>{if(!r.ok)process.exit(1);process.stdout.write(await r.text())}).catch(()=>process.exit(1))' \
    "http://$(ip_of "$1"):$2/metrics"
}
served_total() { scrape "$1" 9464 | awk '/^recommendations_served_total/ {s += $NF} END {print s + 0}'; }
has_metric() { # has_metric CONTAINER-ID PORT NAME: the endpoint answers and declares the metric
  local text
  text=$(scrape "$1" "$2") || return 1
  [[ $text == *"# TYPE $3 "* ]]
}
for id in $(ids_of recsvc); do has_metric "$id" 9464 recommendations_served_total || fail "recsvc ${id:0:12} metrics"; done
has_metric "$(ids_of trainer)" 9465 process_cpu_seconds_total || fail "trainer API metrics"
has_metric "$(ids_of trainer-worker | head -n 1)" 9465 process_cpu_seconds_total || fail "trainer-worker metrics"
for id in $(ids_of events-consumer); do has_metric "$id" 9466 events_consumed_total || fail "events-consumer ${id:0:12} metrics"; done
pass "4. metrics of both recsvc replicas, the trainer API, the worker and both events-consumers scraped from the gateway container"

# ---------------------------------------------------------------- 5. interaction events through Kafka
# Asserted through the API by the seen-rule: a watched movie leaves the user's next list once the consumer group has
# applied the event (GET /users/{id}/history would show it too, but it scans the user's interactions, which takes
# longer than the gateway's deadline on FerretDB, the MongoDB stand-in, on a loaded machine).
EVENTS_T0=$SECONDS
RUN_TAG=smoke$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
consumer_metrics() { local id; for id in $(ids_of events-consumer); do scrape "$id" 9466 || return 1; done; }
applied_total() { consumer_metrics | awk '/^events_consumed_total\{(.*,)?result="applied"[,}]/ {s += $NF} END {print s + 0}'; }
# "<partitions> <sum>" of events_consumer_lag over the partitions each consumer owns now (its last "joined the event
# consumer group" log line): a member keeps reporting the gauges of partitions it lost in a rebalance.
lag_summary() {
  local id owned
  for id in $(ids_of events-consumer); do
    owned=$($DOCKER logs "$id" 2>&1 | grep '"joined the event consumer group"' | tail -n 1 \
      | json 'v.assignments.flatMap((a) => a.partitions).join(" ")' 2>/dev/null) || owned=""
    scrape "$id" 9466 | awk -v owned=" $owned " '/^events_consumer_lag\{/ {
      match($0, /partition="[0-9]+"/); p = substr($0, RSTART + 11, RLENGTH - 12)
      if (index(owned, " " p " ")) print p, $NF }'
  done | awk '{n++; s += $2} END {print n + 0, s + 0}'
}
lag_is_zero() { [ "$(lag_summary | awk '$1 > 0 && $2 == 0 {print "zero"}')" = zero ]; }
first_movie() { # first_movie USER: the first movie of the user's ALS list (a cache miss may exceed the gateway's
  # deadline on a loaded machine: retried, 2 s apart, within the time limit)
  local m=""
  until m=$(get "/recommendations/$1?model=als&k=5" 2>/dev/null | json 'v.items[0].movie_id' 2>/dev/null) && [ -n "$m" ]; do
    check_deadline "a list for $1"; sleep 2
  done
  echo "$m"
}
list_has() { # list_has USER MOVIE: "yes"/"no" whether the user's next ALS list offers the movie; "" if the call failed
  get "/recommendations/$1?model=als&k=10" 2>/dev/null | json "v.items.some((i) => i.movie_id === '$2') ? 'yes' : 'no'" 2>/dev/null
}
post_events() { # post_events JSON: POST /events, retried (2 s apart, within the time limit) when it fails under load;
  # safe, as a retry only repeats event ids, which the consumers apply once. Prints the last answer.
  local answer=""
  until answer=$(post /events "$1"); do check_deadline "POST /events"; sleep 2; done
  echo "$answer"
}
watched_event() { # watched_event ID USER MOVIE: one JSON event
  printf '{"event_id":"%s","user_id":"%s","movie_id":"%s","type":"watched","completed":true,"occurred_at":"%s"}' \
    "$1" "$2" "$3" "$(date -u +%FT%TZ)"
}
stored_once() { # stored_once CONTAINER ID...: "<interaction_events> <watched_movies>" documents holding these event ids
  $DOCKER exec "$1" node -e '
    const { MongoClient } = require("mongodb");
    const ids = process.argv.slice(1);
    const client = new MongoClient(process.env.MONGO_URL, { serverSelectionTimeoutMS: 10000 });
    const db = client.db(process.env.MONGO_DB);
    Promise.all(["interaction_events", "watched_movies"].map((c) => db.collection(c).countDocuments({ eventId: { $in: ids } })))
      .then((n) => { console.log(n.join(" ")); return client.close(); })
      .catch((err) => { console.error(err.message); process.exit(1); });' "${@:2}"
}

# 5a. one event: applied by the consumer group, the list changes, counted in the metrics, lag back to 0
user=u3
movie=$(first_movie "$user") || fail "GET /recommendations/$user"
applied0=$(applied_total) || fail "events-consumer metrics"
answer=$(post_events "{\"events\":[$(watched_event "$RUN_TAG-0" "$user" "$movie")]}") || fail "POST /events"
[ "$(echo "$answer" | json 'v.mode + " " + v.accepted')" = "kafka 1" ] || fail "POST /events did not produce to Kafka: $answer"
t=$SECONDS
until [ "$(list_has "$user" "$movie")" = no ]; do check_deadline "$movie out of $user's list after event $RUN_TAG-0"; sleep 2; done
took=$((SECONDS - t))
applied=$(($(applied_total) - applied0))
[ "$applied" -ge 1 ] || fail "events_consumed_total{result=applied} did not grow (+$applied)"
until lag_is_zero; do check_deadline "events_consumer_lag back to 0 (partitions, sum: $(lag_summary))"; sleep 2; done
pass "5a. POST /events (mode kafka) applied by the consumer group: $movie out of $user's next list within ${took} s; events_consumed_total{applied} +$applied; events_consumer_lag 0 on all $(lag_summary | cut -d' ' -f1) partitions"

# 5b. an events-consumer SIGKILLed while events are produced: it restarts, and every event is applied exactly once
mapfile -t consumers < <(ids_of events-consumer)
[ "${#consumers[@]}" = 2 ] || fail "expected 2 events-consumers, found ${#consumers[@]}"
victim=${consumers[0]}
restarts=$($DOCKER inspect -f '{{.RestartCount}}' "$victim")
declare -A want
batch="" ids=()
for i in $(seq 4 13); do
  want[u$i]=$(first_movie "u$i") || fail "GET /recommendations/u$i"
  batch="$batch${batch:+,}$(watched_event "$RUN_TAG-$i" "u$i" "${want[u$i]}")"
  ids+=("$RUN_TAG-$i")
done
kill -9 "$($DOCKER inspect -f '{{.State.Pid}}' "$victim")"
answer=$(post_events "{\"events\":[$batch]}") || fail "POST /events (10 events)"
[ "$(echo "$answer" | json 'v.mode + " " + v.accepted')" = "kafka 10" ] || fail "POST /events: $answer"
# the same batch again, as a producer's retry would send it: each event id must still be applied once
post_events "{\"events\":[$batch]}" >/dev/null || fail "POST /events (the batch again)"
for u in "${!want[@]}"; do
  until [ "$(list_has "$u" "${want[$u]}")" = no ]; do check_deadline "${want[$u]} out of $u's list after the consumer kill"; sleep 2; done
done
until [ "$($DOCKER inspect -f '{{.RestartCount}}' "$victim")" -gt "$restarts" ] && [ "$(health_of "$victim")" = healthy ]; do
  check_deadline "killed events-consumer to come back"; sleep 1
done
until lag_is_zero; do check_deadline "events_consumer_lag back to 0 after the kill (partitions, sum: $(lag_summary))"; sleep 2; done
stored=$(stored_once "${consumers[1]}" "${ids[@]}") || fail "reading the stored events from MongoDB"
[ "$stored" = "10 10" ] || fail "the 10 events (sent twice) are stored as '$stored' (interaction_events, watched_movies), expected '10 10'"
pass "5b. events-consumer ${victim:0:12} SIGKILLed while 10 events were produced twice: restarted by its policy; all 10 out of their users' lists, stored exactly once (interaction_events, watched_movies: $stored); lag 0; step 5 took $((SECONDS - EVENTS_T0)) s"

# ---------------------------------------------------------------- 6. two trainer workers both take jobs
dc up -d --no-recreate "${SCALE[@]}" --scale trainer-worker=2 >&2 || fail "scale trainer-worker=2"
until [ "$(ids_of trainer-worker | wc -l)" = 2 ] && all_healthy; do check_deadline "second worker healthy"; sleep 2; done
declare -A before
for id in $(ids_of trainer-worker); do before[$id]=$($DOCKER logs "$id" 2>&1 | grep -c '"training started"' || true); done
run_als=$(post /training/runs '{"models":["als"]}' | json 'v.run.run_id') || fail "POST /training/runs als"
run_lfm=$(post /training/runs '{"models":["lightfm"]}' | json 'v.run.run_id') || fail "POST /training/runs lightfm"
for run in "$run_als" "$run_lfm"; do
  state=""
  until [ "$state" = completed ]; do
    check_deadline "training run $run (state ${state:-unknown})"
    state=$(get "/training/runs/$run" | json '(v.run || v).state') || state=""
    case "$state" in failed|unspecified) fail "training run $run $state" ;; esac
    [ "$state" = completed ] || sleep 2
  done
done
took=""
for id in $(ids_of trainer-worker); do
  after=$($DOCKER logs "$id" 2>&1 | grep -c '"training started"' || true)
  [ "$after" -gt "${before[$id]}" ] || fail "worker $id took no training job (runs $run_als, $run_lfm)"
  took="$took ${id:0:12}:+$((after - before[$id]))"
done
pass "6. two training runs at once, each trainer-worker took one ($took)"

# ---------------------------------------------------------------- 7. gateway spreads over two recsvc replicas
mapfile -t replicas < <(ids_of recsvc)
[ "${#replicas[@]}" = 2 ] || fail "expected 2 recsvc replicas, found ${#replicas[@]}"
# The promotions of step 6 make both replicas load new versions and the workers refresh every cached list; on a
# loaded machine a call may then exceed the gateway's deadline (504). Wait until calls answer again, and count any
# call that needed a second attempt (a failed one fails the check).
until get '/recommendations/u1?k=5' >/dev/null; do check_deadline "recommendations after the promotions"; sleep 2; done
RETRIES=0
get_retry() { # get_retry PATH: up to 3 attempts, 2 s apart
  local attempt
  for attempt in 1 2 3; do
    get "$1" >/dev/null && return 0
    RETRIES=$((RETRIES + 1)); sleep 2
  done
  return 1
}
b0=$(served_total "${replicas[0]}"); b1=$(served_total "${replicas[1]}")
for i in $(seq 1 20); do get_retry "/recommendations/u$i?k=5" || fail "request $i"; done
a0=$(served_total "${replicas[0]}"); a1=$(served_total "${replicas[1]}")
[ "$a0" -gt "$b0" ] && [ "$a1" -gt "$b1" ] || fail "calls not spread: replica 1 $b0->$a0, replica 2 $b1->$a1"
$DOCKER stop -t 10 "${replicas[0]}" >/dev/null
for i in $(seq 21 40); do get_retry "/recommendations/u$i?k=5" || fail "request $i with one replica stopped"; done
$DOCKER start "${replicas[0]}" >/dev/null
pass "7. 20 calls spread over both recsvc replicas (+$((a0 - b0)), +$((a1 - b1))); 20 more served with one stopped ($RETRIES retried)"

# ---------------------------------------------------------------- 8. a killed container comes back
victim=$(ids_of trainer)
pid=$($DOCKER inspect -f '{{.State.Pid}}' "$victim")
restarts=$($DOCKER inspect -f '{{.RestartCount}}' "$victim")
kill -9 "$pid"
until [ "$($DOCKER inspect -f '{{.RestartCount}}' "$victim")" -gt "$restarts" ] && [ "$(health_of "$victim")" = healthy ]; do
  check_deadline "killed trainer to come back"; sleep 2
done
until get /readyz >/dev/null; do check_deadline "gateway ready after the trainer restart"; sleep 2; done
pass "8. trainer killed (SIGKILL to pid $pid) was restarted by its restart policy and is healthy again"

# ---------------------------------------------------------------- 9. down -v leaves nothing
dc down -v --remove-orphans --timeout 10 >&2 || fail "docker-compose down -v"
left=$($DOCKER ps -aq --filter "label=com.docker.compose.project=$PROJECT"; \
  $DOCKER volume ls -q --filter "label=com.docker.compose.project=$PROJECT"; \
  $DOCKER network ls -q --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "left behind after down -v: $left"
pass "9. down -v left no container, volume or network of project $PROJECT"

log "compose smoke: all $PASSED checks passed; stack part $((SECONDS - STACK_T0)) s, total $((SECONDS - T0)) s"
