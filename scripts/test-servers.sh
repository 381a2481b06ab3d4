#!/usr/bin/env bash
# Installs (once, cached) and runs REAL servers on 127.0.0.1 for the integration tests:
#   Redis   (Debian redis-server)            127.0.0.1:6390
#   MongoDB wire protocol (FerretDB v1 on PostgreSQL)  127.0.0.1:27027
#     (PostgreSQL: Debian's `postgresql`, a private cluster in the state dir, on its Unix socket there only)
#   S3      (versitygw, built from source)   127.0.0.1:9010
#   Kafka   (Apache Kafka 4.1, KRaft)        127.0.0.1:9092 (controller :9093) — scripts/kafka/test-kafka.sh
#
# Usage: scripts/test-servers.sh [start|stop|restart|status|env|install]
#   start    (default) install what is missing, (re)start all of them with fresh data,
#            wait until each answers, create the S3 bucket, print URLs and env lines,
#            and write <statedir>/env (`export X=...` lines, for `source`).
#   stop     stop the servers started by this script (by their pidfiles).
#   restart  same as start (start always stops running instances first).
#   status   show which servers are running.
#   env      print the env lines (KEY=value) the tests use.
#   install  only install/build the servers (e.g. to warm a CI cache).
#
# Environment:
#   RECSYS_TEST_CACHE  cache dir for built binaries (default ~/.cache/recsys-test-servers; binaries in bin/)
#   RECSYS_TEST_STATE  state dir: data, logs, pidfiles, env (default /tmp/recsys-test-servers)
#   RECSYS_TEST_REDIS_PORT, RECSYS_TEST_FERRETDB_PORT, RECSYS_TEST_S3_PORT, KAFKA_PORT,
#                      KAFKA_CONTROLLER_PORT: ports (defaults above), to run a second private set beside the shared one
#   RECSYS_TEST_POSTGRES_PORT  also listen on 127.0.0.1:<port> (for psql/EXPLAIN); unset (default): the socket only,
#                      so private sets never collide on a PostgreSQL port
#   RECSYS_TEST_SERVERS  which servers `start` starts (default "redis mongo s3 kafka"; env lines are printed for all)
#   RECSYS_TEST_FERRETDB_HANDLER  postgresql (default) or sqlite (opt-in: the compose stand-in's backend, no
#                      PostgreSQL needed; see TEST-SERVERS.md, "FerretDB on PostgreSQL")
#
# See scripts/TEST-SERVERS.md for versions, build times and why these servers.
set -euo pipefail

CACHE_DIR="${RECSYS_TEST_CACHE:-$HOME/.cache/recsys-test-servers}"
STATE_DIR="${RECSYS_TEST_STATE:-/tmp/recsys-test-servers}"
BIN_DIR="$CACHE_DIR/bin"
BUILD_LOG_DIR="$CACHE_DIR/logs"

HOST=127.0.0.1
# Ports can be overridden to run a second, private set of servers beside the shared one (the fault suite does):
# RECSYS_TEST_REDIS_PORT, RECSYS_TEST_FERRETDB_PORT, RECSYS_TEST_S3_PORT, and KAFKA_PORT/KAFKA_CONTROLLER_PORT.
REDIS_PORT="${RECSYS_TEST_REDIS_PORT:-6390}"
FERRETDB_PORT="${RECSYS_TEST_FERRETDB_PORT:-27027}"
S3_PORT="${RECSYS_TEST_S3_PORT:-9010}"
# PostgreSQL listens on its Unix socket in <state>/postgres/socket (no TCP port to collide on), and on
# 127.0.0.1:$RECSYS_TEST_POSTGRES_PORT too when that is set. The socket file is named after the port (.s.PGSQL.<port>).
POSTGRES_PORT="${RECSYS_TEST_POSTGRES_PORT:-5432}"
POSTGRES_TCP="${RECSYS_TEST_POSTGRES_PORT:+1}"
FERRETDB_HANDLER="${RECSYS_TEST_FERRETDB_HANDLER:-postgresql}"
# FerretDB v1 (postgresql handler) keeps one PostgreSQL connection per statement of an update command until the whole
# command ends (handler/msg_update.go defers each statement's query-iterator Close inside the loop; a matched row
# leaves its iterator open), and each statement's write takes one more. With its default pool of 50, one bulkWrite of
# 50 updateOne (MongoStore.setPopularityFromWeights) waits forever for a 51st connection: the "hang with ~100 idle
# connections". The pool must exceed the statements of all update commands in flight at once; PostgreSQL's
# max_connections must exceed the pool.
FERRETDB_PG_POOL=500
POSTGRES_MAX_CONNECTIONS=600
SERVERS="${RECSYS_TEST_SERVERS:-redis mongo s3 kafka}"
case "$FERRETDB_HANDLER" in postgresql|sqlite) ;; *) echo "RECSYS_TEST_FERRETDB_HANDLER must be postgresql or sqlite, got '$FERRETDB_HANDLER'" >&2; exit 2 ;; esac

FERRETDB_MODULE=github.com/FerretDB/FerretDB
FERRETDB_VERSION=v1.24.2
# The Versity S3 Gateway (POSIX backend): the S3 server of docker-compose.yml (image versity/versitygw:v1.8.0).
VERSITYGW_MODULE=github.com/versity/versitygw
VERSITYGW_VERSION=v1.8.0

S3_ACCESS_KEY=minioadmin
S3_SECRET_KEY=minioadmin
S3_BUCKET=recsys-test
S3_REGION=us-east-1
# SHA-256 of an empty body: versitygw, like AWS S3, requires x-amz-content-sha256 on every signed request.
EMPTY_SHA256=e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855

WAIT_SECS=60

log() { printf '[test-servers] %s\n' "$*" >&2; }
die() { printf '[test-servers] ERROR: %s\n' "$*" >&2; exit 1; }

env_lines() {
  cat <<EOF
REDIS_URL=redis://$HOST:$REDIS_PORT
MONGO_URL=mongodb://$HOST:$FERRETDB_PORT/
S3_ENDPOINT=http://$HOST:$S3_PORT
S3_ACCESS_KEY=$S3_ACCESS_KEY
S3_SECRET_KEY=$S3_SECRET_KEY
S3_BUCKET=$S3_BUCKET
S3_REGION=$S3_REGION
EOF
  kafka env
}

# Kafka lives in its own script (jars from Maven Central, KRaft storage format, start/stop by pid).
kafka() { bash "$(dirname "${BASH_SOURCE[0]}")/kafka/test-kafka.sh" "$@"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

# ---------------------------------------------------------------- install

install_redis() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    return
  fi
  log "installing redis-server (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after apt-get install"
}

# PostgreSQL for FerretDB's postgresql handler: Debian's `postgresql` package (the server binaries only are used;
# the package's own cluster/service is never started by this script).
pg_bindir() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

install_postgresql() {
  [ "$FERRETDB_HANDLER" = postgresql ] || return 0
  pg_bindir >/dev/null && return
  log "installing postgresql (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  pg_bindir >/dev/null || die "postgresql server binaries still missing after apt-get install"
}

need_go() {
  command -v go >/dev/null 2>&1 || die "go is required to build $1 (not found in PATH)"
}

# is_cached NAME VERSION: binary exists and was built from VERSION.
is_cached() {
  [ -x "$BIN_DIR/$1" ] && [ "$(cat "$BIN_DIR/$1.version" 2>/dev/null || true)" = "$2" ]
}

# timed LOGNAME CMD...: run CMD with nice, output to the build log, record the time.
timed() {
  local name="$1"; shift
  local logf="$BUILD_LOG_DIR/build-$name.log" start end rc=0
  mkdir -p "$BUILD_LOG_DIR"
  start=$(date +%s)
  nice -n 10 "$@" >>"$logf" 2>&1 || rc=$?
  end=$(date +%s)
  echo "$(date -u +%FT%TZ) $name rc=$rc seconds=$((end - start))" >>"$BUILD_LOG_DIR/build-times.log"
  if [ "$rc" -ne 0 ]; then
    tail -n 30 "$logf" >&2 || true
    die "building $name failed (rc=$rc); full log: $logf"
  fi
  log "built $name in $((end - start)) s"
}

# FerretDB cannot be built with a plain `go install ...@v1.24.2`: its build/version
# package panics at start-up unless build/version/version.txt (generated by FerretDB's
# own Taskfile, not in the module zip) exists. So: fetch the module source, copy it to a
# writable dir, write version.txt, go build. Same module, same go.sum-pinned deps.
build_ferretdb() {
  is_cached ferretdb "$FERRETDB_VERSION" && return
  need_go FerretDB
  log "building FerretDB $FERRETDB_VERSION (~1.5 min on 2 cores; log: $BUILD_LOG_DIR/build-ferretdb.log)"
  mkdir -p "$BIN_DIR" "$BUILD_LOG_DIR"
  : >"$BUILD_LOG_DIR/build-ferretdb.log"
  local moddir src
  moddir=$(cd "$CACHE_DIR" && go mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$moddir" ] && [ -d "$moddir" ] || die "go mod download $FERRETDB_MODULE@$FERRETDB_VERSION failed"
  src="$CACHE_DIR/src/ferretdb-$FERRETDB_VERSION"
  rm -rf "$src"; mkdir -p "$(dirname "$src")"
  cp -R "$moddir" "$src"
  chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" >"$src/build/version/version.txt"
  echo "recsys-test" >"$src/build/version/package.txt"
  (
    cd "$src"
    timed ferretdb go build -mod=readonly -buildvcs=false -trimpath -o "$BIN_DIR/ferretdb.tmp" ./cmd/ferretdb
  )
  mv -f "$BIN_DIR/ferretdb.tmp" "$BIN_DIR/ferretdb"
  echo "$FERRETDB_VERSION" >"$BIN_DIR/ferretdb.version"
  rm -rf "$src"
}

build_versitygw() {
  is_cached versitygw "$VERSITYGW_VERSION" && return
  need_go versitygw
  log "building versitygw $VERSITYGW_VERSION (~2-4 min on 2 cores; log: $BUILD_LOG_DIR/build-versitygw.log)"
  mkdir -p "$BIN_DIR" "$BUILD_LOG_DIR"
  : >"$BUILD_LOG_DIR/build-versitygw.log"
  local tmpbin="$CACHE_DIR/tmpbin-versitygw"
  rm -rf "$tmpbin"; mkdir -p "$tmpbin"
  (cd "$CACHE_DIR" && timed versitygw env GOBIN="$tmpbin" CGO_ENABLED=0 go install -trimpath "$VERSITYGW_MODULE/cmd/versitygw@$VERSITYGW_VERSION")
  mv -f "$tmpbin/versitygw" "$BIN_DIR/versitygw"
  rm -rf "$tmpbin"
  echo "$VERSITYGW_VERSION" >"$BIN_DIR/versitygw.version"
}

# grpcurl: a real gRPC reflection client (lib/test/grpc-reflection.test.ts lists, describes and calls every
# service with reflection alone). A plain `go install` of the released module.
GRPCURL_MODULE=github.com/fullstorydev/grpcurl/cmd/grpcurl
GRPCURL_VERSION=v1.9.3
build_grpcurl() {
  is_cached grpcurl "$GRPCURL_VERSION" && return
  need_go grpcurl
  log "building grpcurl $GRPCURL_VERSION (~1 min on 2 cores; log: $BUILD_LOG_DIR/build-grpcurl.log)"
  mkdir -p "$BIN_DIR" "$BUILD_LOG_DIR"
  : >"$BUILD_LOG_DIR/build-grpcurl.log"
  local tmpbin="$CACHE_DIR/tmpbin-grpcurl"
  rm -rf "$tmpbin"; mkdir -p "$tmpbin"
  (cd "$CACHE_DIR" && timed grpcurl env GOBIN="$tmpbin" go install -trimpath "$GRPCURL_MODULE@$GRPCURL_VERSION")
  mv -f "$tmpbin/grpcurl" "$BIN_DIR/grpcurl"
  rm -rf "$tmpbin"
  echo "$GRPCURL_VERSION" >"$BIN_DIR/grpcurl.version"
}

# with_lock FILE CMD...: serialize concurrent runs (e.g. parallel CI jobs sharing the cache).
with_lock() {
  local lockfile="$1"; shift
  if command -v flock >/dev/null 2>&1; then
    mkdir -p "$(dirname "$lockfile")"
    (
      flock -w 1800 9 || die "timed out waiting for lock $lockfile"
      "$@"
    ) 9>"$lockfile"   # servers started inside close fd 9 (9>&-) so they don't hold the lock
  else
    "$@"
  fi
}

install_all() { with_lock "$CACHE_DIR/.lock" install_all_locked; }

install_all_locked() {
  install_redis
  install_postgresql
  build_ferretdb
  build_versitygw
  build_grpcurl
  kafka install
}

# ---------------------------------------------------------------- process helpers

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# stop_pidfile NAME PIDFILE
stop_pidfile() {
  local name="$1" pidfile="$2" pid i
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if pid_alive "$pid"; then
    log "stopping $name (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
      log "$name did not exit in 10 s, sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$pidfile"
}

stop_all() {
  kafka stop
  stop_pidfile s3 "$STATE_DIR/s3.pid"
  stop_pidfile minio "$STATE_DIR/minio.pid"   # started by an older version of this script
  stop_pidfile ferretdb "$STATE_DIR/ferretdb.pid"
  stop_postgres
  stop_pidfile redis "$STATE_DIR/redis.pid"
}

ensure_port_free() {
  if port_open "$2"; then
    die "port $2 (for $1) is already in use by a process this script did not start; stop it first"
  fi
}

# fail_with_log NAME LOGFILE MESSAGE
fail_with_log() {
  printf '[test-servers] ERROR: %s\n--- last 40 lines of %s ---\n' "$3" "$2" >&2
  tail -n 40 "$2" >&2 2>/dev/null || true
  printf -- '---\n' >&2
  stop_all
  exit 1
}

# wait_for NAME PIDFILE LOGFILE CHECK-COMMAND...
wait_for() {
  local name="$1" pidfile="$2" logf="$3"; shift 3
  local deadline=$((SECONDS + WAIT_SECS)) pid
  while :; do
    if "$@" >/dev/null 2>&1; then
      log "$name is up"
      return 0
    fi
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && ! pid_alive "$pid"; then
      fail_with_log "$name" "$logf" "$name (pid $pid) exited during start-up"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      fail_with_log "$name" "$logf" "$name did not answer within ${WAIT_SECS}s"
    fi
    sleep 0.5
  done
}

# ---------------------------------------------------------------- start

start_redis() {
  local dir="$STATE_DIR/redis"
  rm -rf "$dir"; mkdir -p "$dir"
  ensure_port_free redis "$REDIS_PORT"
  : >"$STATE_DIR/redis.log"
  redis-server --bind "$HOST" --port "$REDIS_PORT" \
    --daemonize yes --save '' --appendonly no --dir "$dir" \
    --pidfile "$STATE_DIR/redis.pid" --logfile "$STATE_DIR/redis.log" 9>&- \
    || fail_with_log redis "$STATE_DIR/redis.log" "redis-server failed to start"
  # with --daemonize the pidfile appears shortly after the parent exits
  local i; for i in $(seq 1 50); do [ -s "$STATE_DIR/redis.pid" ] && break; sleep 0.1; done
  wait_for redis "$STATE_DIR/redis.pid" "$STATE_DIR/redis.log" \
    sh -c "[ \"\$(redis-cli -h $HOST -p $REDIS_PORT ping)\" = PONG ]"
}

# mongo_ping HOST PORT: a real MongoDB wire-protocol round trip in pure bash:
# OP_MSG (opCode 2013) with BSON {ping: 1, $db: "admin"}; success = reply has {ok: 1.0}.
# (FerretDB's own `ferretdb ping` needs --setup-username/--test-enable-new-auth, so not usable here.)
mongo_ping() (   # subshell: the fd and a failed connect stay contained
  local host="$1" port="$2" reply
  exec 3<>"/dev/tcp/$host/$port" || return 1
  printf '\x33\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\xdd\x07\x00\x00\x00\x00\x00\x00\x00\x1e\x00\x00\x00\x10ping\x00\x01\x00\x00\x00\x02$db\x00\x06\x00\x00\x00admin\x00\x00' >&3
  reply=$(timeout 5 dd bs=4096 count=1 <&3 2>/dev/null | od -An -v -tx1 | tr -d ' \n') || true
  exec 3<&- 3>&-
  # element 0x01 (double) "ok\0" 1.0
  [[ $reply == *016f6b00000000000000f03f* ]]
)

ferretdb_ping() { mongo_ping "$HOST" "$FERRETDB_PORT"; }

# PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user the package created.
as_pg_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A private cluster in <state>/postgres (initdb as the current user, or `postgres` when root), listening on its socket
# in the state dir (and on 127.0.0.1:$POSTGRES_PORT only when RECSYS_TEST_POSTGRES_PORT is set): no system service, no
# system cluster touched. Durability is off (fsync, synchronous_commit, full_page_writes): the data is wiped on every
# start anyway.
start_postgres() {
  local dir="$STATE_DIR/postgres" bin listen
  bin=$(pg_bindir) || die "PostgreSQL server binaries not found (install_postgresql)"
  # A Unix socket path has at most 107 bytes.
  [ "${#dir}" -le 80 ] || die "RECSYS_TEST_STATE is too long for PostgreSQL's socket path ($dir/socket/.s.PGSQL.$POSTGRES_PORT): use a shorter one"
  rm -rf "$dir"; mkdir -p "$dir/socket"
  [ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
  if [ -n "$POSTGRES_TCP" ]; then
    ensure_port_free postgres "$POSTGRES_PORT"
    listen="-h $HOST"
  else
    listen="-h ''"
  fi
  : >"$STATE_DIR/postgres.log"
  [ "$(id -u)" -eq 0 ] && chown postgres: "$STATE_DIR/postgres.log"
  as_pg_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
    >>"$STATE_DIR/postgres.log" 2>&1 9>&- || fail_with_log postgres "$STATE_DIR/postgres.log" "initdb failed"
  as_pg_user "$bin/pg_ctl" -D "$dir/data" -l "$STATE_DIR/postgres.log" -w -t "$WAIT_SECS" \
    -o "$listen -p $POSTGRES_PORT -k $dir/socket -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=$POSTGRES_MAX_CONNECTIONS" \
    start >/dev/null 9>&- || fail_with_log postgres "$STATE_DIR/postgres.log" "PostgreSQL failed to start"
  head -n 1 "$dir/data/postmaster.pid" >"$STATE_DIR/postgres.pid"
  wait_for postgres "$STATE_DIR/postgres.pid" "$STATE_DIR/postgres.log" "$bin/pg_isready" -q -h "$dir/socket" -p "$POSTGRES_PORT"
  as_pg_user "$bin/createdb" -h "$dir/socket" -p "$POSTGRES_PORT" -U postgres ferretdb 9>&- \
    || fail_with_log postgres "$STATE_DIR/postgres.log" "createdb ferretdb failed"
  as_pg_user "$bin/psql" -q -v ON_ERROR_STOP=1 -h "$dir/socket" -p "$POSTGRES_PORT" -U postgres -d ferretdb \
    -c "$PG_GIN_TRIGGER_SQL" >>"$STATE_DIR/postgres.log" 2>&1 9>&- \
    || fail_with_log postgres "$STATE_DIR/postgres.log" "creating the GIN event trigger failed"
}

# FerretDB v1 pushes an equality filter down as `_jsonb->'field' @> '"value"'`, but builds the index of createIndex as a
# btree on `(_jsonb->'field')`, which `@>` cannot use: every filtered find/update/delete is a sequential scan of the
# table. This event trigger gives each such btree index (first key, top-level field other than _id) a GIN
# (jsonb_path_ops) index on the same expression, which `@>` does use: the filter becomes an index scan. Test-server
# tuning only: the product and its indexes are unchanged (production runs MongoDB).
PG_GIN_TRIGGER_SQL=$(cat <<'SQL'
CREATE FUNCTION public.recsys_gin_for_ferretdb_index() RETURNS event_trigger LANGUAGE plpgsql AS $fn$
DECLARE
  cmd record; am text; tbl regclass; expr text; c_name text;
BEGIN
  FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' LOOP
    SELECT a.amname, i.indrelid::regclass, pg_get_indexdef(i.indexrelid, 1, false), t.relname INTO am, tbl, expr, c_name
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
      JOIN pg_class t ON t.oid = i.indrelid
      WHERE i.indexrelid = cmd.objid;
    IF am = 'btree' AND expr ~ '^\(\(_jsonb -> ''[^'']+''::text\)\)$' AND expr <> '((_jsonb -> ''_id''::text))' THEN
      -- one GIN per field and table, however many btree indexes start with it
      EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %s USING gin (%s jsonb_path_ops)',
        left(c_name, 40) || '_' || left(md5(expr), 8) || '_gin', tbl, expr);
    END IF;
  END LOOP;
END
$fn$;
CREATE EVENT TRIGGER recsys_gin_for_ferretdb_index ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION public.recsys_gin_for_ferretdb_index();
SQL
)

# pg_ctl's fast shutdown (disconnects clients), else by pidfile.
stop_postgres() {
  local dir="$STATE_DIR/postgres" bin pid
  pid=$(cat "$STATE_DIR/postgres.pid" 2>/dev/null || true)
  if pid_alive "$pid" && bin=$(pg_bindir) && [ -f "$dir/data/postmaster.pid" ]; then
    as_pg_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
  fi
  stop_pidfile postgres "$STATE_DIR/postgres.pid"
}

start_ferretdb() {
  local dir="$STATE_DIR/ferretdb" backend
  rm -rf "$dir"; mkdir -p "$dir/data"
  ensure_port_free ferretdb "$FERRETDB_PORT"
  if [ "$FERRETDB_HANDLER" = postgresql ]; then
    start_postgres
    # Over the Unix socket (host= a directory, pgx). pool_max_conns: see FERRETDB_PG_POOL. pool_max_conn_idle_time:
    # FerretDB v1.24 sets its 1m default only when the parameter is given (pool/uri.go tests Has instead of !Has), so
    # without it idle connections are never closed.
    backend=(--handler=postgresql
      --postgresql-url="postgres://postgres@/ferretdb?host=$STATE_DIR/postgres/socket&port=$POSTGRES_PORT&pool_max_conns=$FERRETDB_PG_POOL&pool_max_conn_idle_time=1m")
  else
    backend=(--handler=sqlite --sqlite-url="file:$dir/data/")
  fi
  nohup "$BIN_DIR/ferretdb" \
    "${backend[@]}" \
    --listen-addr="$HOST:$FERRETDB_PORT" \
    --state-dir="$dir" \
    --debug-addr=- \
    --telemetry=disable \
    --log-level=warn \
    >"$STATE_DIR/ferretdb.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE_DIR/ferretdb.pid"
  wait_for ferretdb "$STATE_DIR/ferretdb.pid" "$STATE_DIR/ferretdb.log" ferretdb_ping
}

s3_live() { curl -sf -o /dev/null --max-time 2 "http://$HOST:$S3_PORT/_health"; }

start_s3() {
  local dir="$STATE_DIR/s3"
  rm -rf "$dir"; mkdir -p "$dir/data"
  ensure_port_free s3 "$S3_PORT"
  ROOT_ACCESS_KEY="$S3_ACCESS_KEY" ROOT_SECRET_KEY="$S3_SECRET_KEY" \
    nohup "$BIN_DIR/versitygw" --port "$HOST:$S3_PORT" --region "$S3_REGION" --health /_health \
      posix "$dir/data" >"$STATE_DIR/s3.log" 2>&1 </dev/null 9>&- &
  echo $! >"$STATE_DIR/s3.pid"
  wait_for s3 "$STATE_DIR/s3.pid" "$STATE_DIR/s3.log" s3_live
  # create the test bucket (SigV4-signed PUT; curl >= 7.75)
  curl -sf -o /dev/null --max-time 10 -X PUT \
    -H "x-amz-content-sha256: $EMPTY_SHA256" \
    --aws-sigv4 "aws:amz:$S3_REGION:s3" --user "$S3_ACCESS_KEY:$S3_SECRET_KEY" \
    "http://$HOST:$S3_PORT/$S3_BUCKET" \
    || fail_with_log s3 "$STATE_DIR/s3.log" "could not create bucket $S3_BUCKET"
  log "created bucket $S3_BUCKET"
}

write_env_file() {
  env_lines | sed 's/^/export /' >"$STATE_DIR/env"
}

start_all() {
  mkdir -p "$STATE_DIR"
  stop_all
  local only=" $SERVERS "
  [[ $only == *" redis "* ]] && start_redis
  [[ $only == *" mongo "* ]] && start_ferretdb
  [[ $only == *" s3 "* ]] && start_s3
  if [[ $only == *" kafka "* ]]; then kafka start || { stop_all; exit 1; }; fi
  write_env_file
  cat <<EOF

Test servers are running (state: $STATE_DIR, logs: $STATE_DIR/*.log):
  Redis     redis://$HOST:$REDIS_PORT          (redis-server $(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p'))
  MongoDB   mongodb://$HOST:$FERRETDB_PORT/        (FerretDB $FERRETDB_VERSION, $FERRETDB_HANDLER backend$([ "$FERRETDB_HANDLER" = postgresql ] && echo ": PostgreSQL $("$(pg_bindir)/postgres" --version | awk '{print $3}') on $STATE_DIR/postgres/socket${POSTGRES_TCP:+ and $HOST:$POSTGRES_PORT}"))
  S3        http://$HOST:$S3_PORT            (versitygw $VERSITYGW_VERSION, POSIX backend)
  Kafka     $(kafka env | cut -d= -f2)             (Apache Kafka $(kafka version), KRaft, one broker+controller)

Environment for the tests (also in $STATE_DIR/env, for \`source\`):
EOF
  env_lines
}

status_all() {
  local name pid
  for name in redis postgres ferretdb s3; do
    pid=$(cat "$STATE_DIR/$name.pid" 2>/dev/null || true)
    if pid_alive "$pid"; then echo "$name: running (pid $pid)"; else echo "$name: stopped"; fi
  done
  kafka status
}

cmd="${1:-start}"
case "$cmd" in
  start|restart) install_all; with_lock "$STATE_DIR.lock" start_all ;;
  stop) with_lock "$STATE_DIR.lock" stop_all ;;
  status) status_all ;;
  env) env_lines ;;
  install) install_all ;;
  -h|--help|help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$cmd' (use start|stop|restart|status|env|install)" ;;
esac
