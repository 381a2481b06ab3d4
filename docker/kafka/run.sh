#!/usr/bin/env bash
# Entry point of the CI stand-in for apache/kafka (docker/kafka/Dockerfile). Like the official image's
# /etc/kafka/docker/run: every KAFKA_<NAME> variable becomes the broker property <name> (lower case; `_` -> `.`,
# `__` -> `_`, `___` -> `-`), except the JVM settings (KAFKA_HEAP_OPTS, KAFKA_OPTS, ...); the storage is formatted
# with CLUSTER_ID on the first start (kafka.tools.StorageTool, as scripts/kafka/test-kafka.sh does) and kept on the
# volume afterwards; then kafka.Kafka runs in the foreground as PID 1.
set -euo pipefail
CONF_DIR=/opt/kafka/config
CONF="$CONF_DIR/server.properties"
CLUSTER_ID="${CLUSTER_ID:-5L6g3nShT-eMCtK--X86sw}" # the official image's default
JVM_VARS=" KAFKA_HEAP_OPTS KAFKA_OPTS KAFKA_JVM_PERFORMANCE_OPTS KAFKA_LOG4J_OPTS KAFKA_GC_LOG_OPTS KAFKA_JMX_OPTS KAFKA_VERSION "

: >"$CONF"
for name in $(compgen -e | grep '^KAFKA_' || true); do
  [[ $JVM_VARS == *" $name "* ]] && continue
  key=$(printf '%s' "${name#KAFKA_}" | tr '[:upper:]' '[:lower:]' | sed -e 's/___/-/g' -e 's/__/\x01/g' -e 's/_/./g' -e 's/\x01/_/g')
  printf '%s=%s\n' "$key" "${!name}" >>"$CONF"
done
grep -q '^log\.dirs=' "$CONF" || echo 'log.dirs=/var/lib/kafka/data' >>"$CONF"
grep -q '^process\.roles=' "$CONF" || { echo "run: set KAFKA_PROCESS_ROLES (and the other KRaft settings)" >&2; exit 2; }

cat >"$CONF_DIR/log4j2.properties" <<'L4J'
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
L4J

java_opts=(${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G} -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$CONF_DIR/log4j2.properties" ${KAFKA_OPTS:-} -cp '/opt/kafka/libs/*')

log_dir=$(sed -n 's/^log\.dirs=\([^,]*\).*/\1/p' "$CONF")
if [ ! -f "$log_dir/meta.properties" ]; then
  # A static quorum (controller.quorum.voters) is formatted as is; a dynamic one needs --standalone.
  standalone=()
  grep -q '^controller\.quorum\.voters=' "$CONF" || standalone=(--standalone)
  echo "run: formatting $log_dir (cluster $CLUSTER_ID)" >&2
  java "${java_opts[@]}" kafka.tools.StorageTool format --ignore-formatted "${standalone[@]}" -t "$CLUSTER_ID" -c "$CONF"
fi
exec java "${java_opts[@]}" kafka.Kafka "$CONF"
