#!/usr/bin/env bash
# Installs (once, cached) and runs a REAL Apache Kafka 4.1 broker in KRaft mode (no ZooKeeper) on 127.0.0.1
# for the event-stream tests. Called by scripts/test-servers.sh (start/stop/status/env/install); runs alone too:
#   RECSYS_TEST_STATE=/tmp/kafka-servers bash scripts/kafka/test-kafka.sh start
#
# Usage: scripts/kafka/test-kafka.sh [start|stop|status|env|install]
#   install  jars from Maven Central: `mvn dependency:copy-dependencies` on scripts/kafka/pom.xml into
#            <cache>/kafka-<version>/libs (about 45 MB; skipped when that version is already there).
#   start    stop a broker this script started before, wipe its data, format the storage with
#            kafka.tools.StorageTool (a fresh cluster id, standalone controller), start kafka.Kafka as one
#            combined broker+controller process, wait until the broker answers, append KAFKA_BROKERS to <state>/env.
#   stop     stop it by its pidfile (SIGTERM, SIGKILL after 20 s).
#   status   running / stopped.   env   print KAFKA_BROKERS=...
#
# Environment: RECSYS_TEST_CACHE, RECSYS_TEST_STATE (as scripts/test-servers.sh),
#   KAFKA_PORT (default 9092), KAFKA_CONTROLLER_PORT (default 9093), KAFKA_HEAP (default 512m).
# Needs: java (17+), mvn. See scripts/TEST-SERVERS.md, section "Kafka".
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE_DIR="${RECSYS_TEST_CACHE:-$HOME/.cache/recsys-test-servers}"
STATE_DIR="${RECSYS_TEST_STATE:-/tmp/recsys-test-servers}"
HOST=127.0.0.1
KAFKA_PORT="${KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-9093}"
KAFKA_HEAP="${KAFKA_HEAP:-512m}"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$SCRIPT_DIR/pom.xml")
KAFKA_HOME="$CACHE_DIR/kafka-$KAFKA_VERSION"
KAFKA_DIR="$STATE_DIR/kafka"
PIDFILE="$STATE_DIR/kafka.pid"
LOGFILE="$STATE_DIR/kafka.log"
WAIT_SECS="${KAFKA_WAIT_SECS:-90}"

log() { printf '[test-kafka] %s\n' "$*" >&2; }
die() { printf '[test-kafka] ERROR: %s\n' "$*" >&2; exit 1; }

env_lines() { echo "KAFKA_BROKERS=$HOST:$KAFKA_PORT"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }
port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

install_kafka() {
  [ -n "$KAFKA_VERSION" ] || die "no <kafka.version> in $SCRIPT_DIR/pom.xml"
  if [ -f "$KAFKA_HOME/libs/kafka_2.13-$KAFKA_VERSION.jar" ] && [ -f "$KAFKA_HOME/.complete" ]; then return; fi
  if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
    log "installing java and maven (apt)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless maven >/dev/null
  fi
  command -v java >/dev/null 2>&1 || die "java (17+) is required for Kafka (apt-get install openjdk-17-jre-headless)"
  command -v mvn >/dev/null 2>&1 || die "mvn is required to fetch the Kafka jars (apt-get install maven)"
  log "fetching Kafka $KAFKA_VERSION jars from Maven Central into $KAFKA_HOME/libs"
  mkdir -p "$CACHE_DIR/logs"
  rm -rf "$KAFKA_HOME.tmp"; mkdir -p "$KAFKA_HOME.tmp"
  local start=$SECONDS
  if ! (cd "$KAFKA_HOME.tmp" && nice -n 10 mvn -B -q -f "$SCRIPT_DIR/pom.xml" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$KAFKA_HOME.tmp/libs" >"$CACHE_DIR/logs/build-kafka.log" 2>&1); then
    tail -n 30 "$CACHE_DIR/logs/build-kafka.log" >&2 || true
    die "mvn dependency:copy-dependencies failed; log: $CACHE_DIR/logs/build-kafka.log"
  fi
  touch "$KAFKA_HOME.tmp/.complete"
  rm -rf "$KAFKA_HOME"; mv "$KAFKA_HOME.tmp" "$KAFKA_HOME"
  echo "$(date -u +%FT%TZ) kafka-$KAFKA_VERSION rc=0 seconds=$((SECONDS - start))" >>"$CACHE_DIR/logs/build-times.log"
  log "fetched Kafka $KAFKA_VERSION in $((SECONDS - start)) s"
}

kafka_java() {
  java -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" "$@"
}

stop_kafka() {
  [ -f "$PIDFILE" ] || return 0
  local pid i
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if pid_alive "$pid"; then
    log "stopping kafka (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 200); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
      log "kafka did not exit in 20 s, sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  fi
  rm -f "$PIDFILE"
}

fail() {
  printf '[test-kafka] ERROR: %s\n--- last 40 lines of %s ---\n' "$1" "$LOGFILE" >&2
  tail -n 40 "$LOGFILE" >&2 2>/dev/null || true
  stop_kafka
  exit 1
}

# Ready = the client port accepts connections and the broker logged "Kafka Server started" (logged once the
# broker has caught up with the metadata log and opened its listeners, so producers and consumer groups work).
kafka_ready() {
  port_open "$KAFKA_PORT" && grep -q 'Kafka Server started' "$LOGFILE" 2>/dev/null
}

start_kafka() {
  install_kafka
  mkdir -p "$STATE_DIR"
  stop_kafka
  port_open "$KAFKA_PORT" && die "port $KAFKA_PORT (Kafka) is in use by a process this script did not start; set KAFKA_PORT"
  port_open "$KAFKA_CONTROLLER_PORT" && die "port $KAFKA_CONTROLLER_PORT (Kafka controller) is in use; set KAFKA_CONTROLLER_PORT"
  rm -rf "$KAFKA_DIR"; mkdir -p "$KAFKA_DIR/data"
  cat >"$KAFKA_DIR/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DIR/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
EOF
  cat >"$KAFKA_DIR/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = STDOUT
logger.server.name = kafka.server.KafkaRaftServer
logger.server.level = info
logger.broker.name = kafka.server.BrokerServer
logger.broker.level = info
EOF
  local cluster_id
  cluster_id=$(kafka_java kafka.tools.StorageTool random-uuid 2>>"$LOGFILE.format") || die "StorageTool random-uuid failed"
  kafka_java kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$KAFKA_DIR/server.properties" \
    >"$LOGFILE.format" 2>&1 || { cat "$LOGFILE.format" >&2; die "kafka.tools.StorageTool format failed"; }
  : >"$LOGFILE"
  nohup java -Xms128m -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$KAFKA_DIR/log4j2.properties" \
    -cp "$KAFKA_HOME/libs/*" kafka.Kafka "$KAFKA_DIR/server.properties" \
    >"$LOGFILE" 2>&1 </dev/null 9>&- &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + WAIT_SECS)) pid
  while ! kafka_ready; do
    pid=$(cat "$PIDFILE")
    pid_alive "$pid" || fail "kafka (pid $pid) exited during start-up"
    [ "$SECONDS" -lt "$deadline" ] || fail "kafka did not answer within ${WAIT_SECS}s"
    sleep 0.5
  done
  log "kafka is up ($HOST:$KAFKA_PORT, cluster $cluster_id, Kafka $KAFKA_VERSION)"
  # add (or replace) KAFKA_BROKERS in the env file the other servers' script writes
  touch "$STATE_DIR/env"
  sed -i '/^export KAFKA_BROKERS=/d' "$STATE_DIR/env"
  env_lines | sed 's/^/export /' >>"$STATE_DIR/env"
}

status_kafka() {
  local pid; pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if pid_alive "$pid"; then echo "kafka: running (pid $pid)"; else echo "kafka: stopped"; fi
}

case "${1:-start}" in
  start|restart) start_kafka ;;
  stop) stop_kafka ;;
  status) status_kafka ;;
  env) env_lines ;;
  install) install_kafka ;;
  version) echo "$KAFKA_VERSION" ;;
  *) die "unknown command '${1:-}' (use start|stop|status|env|install)" ;;
esac
