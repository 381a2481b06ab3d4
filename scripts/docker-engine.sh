#!/usr/bin/env bash
# A private Docker engine for the compose smoke test: Debian's docker.io + docker-compose, dockerd started by hand.
#
# Usage: scripts/docker-engine.sh [install|start|stop|status|env]
#   install  apt-get install docker.io docker-compose debootstrap (once; root).
#   start    install if needed, start dockerd (if not already running) and wait until it answers; prints the
#            DOCKER_HOST line. Idempotent.
#   stop     stop the dockerd started by `start` (by its pid file) and wait for it to exit.
#   status   running / stopped.
#   env      print `export DOCKER_HOST=...` (for eval).
#
# dockerd runs with its own data root (images stay cached across runs), exec root, unix socket and pid file, so it
# never meets a system Docker. It changes nothing in the host's firewall: --iptables=false --ip6tables=false
# --ip-masq=false (no NAT and no filter rules), --bridge=none (no docker0). Compose's user-defined network still is a
# Linux bridge (br-<id>) that exists only while the project is up and is removed by `down`; containers on it reach
# each other (and the embedded DNS at 127.0.0.11, which programs rules only inside each container's own network
# namespace) but nothing outside: no masquerading. Published ports go through docker-proxy (userland proxy) on the
# host's addresses. Image builds that need a package registry use `network: host` (docker-compose.ci.yml).
#
# Environment:
#   RECSYS_DOCKER_CACHE  data root and debootstrap cache (default ~/.cache/recsys-docker)
#   RECSYS_DOCKER_RUN    socket, pid file, exec root, log (default /tmp/recsys-docker)
set -euo pipefail

CACHE_DIR="${RECSYS_DOCKER_CACHE:-$HOME/.cache/recsys-docker}"
RUN_DIR="${RECSYS_DOCKER_RUN:-/tmp/recsys-docker}"
SOCK="$RUN_DIR/docker.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
LOG="$RUN_DIR/dockerd.log"
WAIT_SECS=60

log() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { printf '[docker-engine] ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else die "need root (or sudo) to run: $*"
  fi
}

install_engine() {
  if [ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] && command -v docker-compose >/dev/null 2>&1 \
    && command -v debootstrap >/dev/null 2>&1; then
    return
  fi
  log "installing docker.io, docker-compose, debootstrap (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends docker.io docker-compose debootstrap >/dev/null
  [ -x /usr/sbin/dockerd ] || die "dockerd still missing after apt-get install"
}

pid_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

answers() { /usr/bin/docker -H "unix://$SOCK" version >/dev/null 2>&1; }

start_engine() {
  install_engine
  mkdir -p "$CACHE_DIR/data-root" "$RUN_DIR/exec"
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if pid_alive "$pid" && answers; then
    log "dockerd already running (pid $pid)"
  else
    [ -n "$pid" ] && ! pid_alive "$pid" && rm -f "$PIDFILE"
    # overlay2 where the kernel allows it (here: yes); vfs is the always-working, slower fallback.
    local driver="${RECSYS_DOCKER_STORAGE:-overlay2}"
    log "starting dockerd (data root $CACHE_DIR/data-root, socket $SOCK, storage $driver)"
    nohup /usr/sbin/dockerd \
      --data-root "$CACHE_DIR/data-root" \
      --exec-root "$RUN_DIR/exec" \
      --host "unix://$SOCK" \
      --pidfile "$PIDFILE" \
      --storage-driver "$driver" \
      --iptables=false --ip6tables=false --ip-masq=false --bridge=none \
      --default-address-pool base=172.29.0.0/16,size=24 \
      --log-driver json-file --log-opt max-size=10m --log-opt max-file=2 \
      >"$LOG" 2>&1 </dev/null 9>&- &
    local deadline=$((SECONDS + WAIT_SECS))
    until answers; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        tail -n 40 "$LOG" >&2 || true
        die "dockerd did not answer within ${WAIT_SECS}s (log: $LOG)"
      fi
      sleep 0.5
    done
    log "dockerd is up (pid $(cat "$PIDFILE"))"
  fi
  echo "export DOCKER_HOST=unix://$SOCK"
}

stop_engine() {
  local pid i
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  if pid_alive "$pid"; then
    log "stopping dockerd (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 300); do pid_alive "$pid" || break; sleep 0.1; done
    if pid_alive "$pid"; then
      log "dockerd did not exit in 30 s, sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$PIDFILE"
  # dockerd bind-mounts the host's network namespace here and leaves it mounted on exit.
  if mountpoint -q "$RUN_DIR/exec/netns/default" 2>/dev/null; then umount "$RUN_DIR/exec/netns/default" || true; fi
}

case "${1:-start}" in
  install) install_engine ;;
  start) start_engine ;;
  stop) stop_engine ;;
  status)
    if pid_alive "$(cat "$PIDFILE" 2>/dev/null || true)"; then echo "dockerd: running (pid $(cat "$PIDFILE"))"
    else echo "dockerd: stopped"; fi ;;
  env) echo "export DOCKER_HOST=unix://$SOCK" ;;
  -h|--help|help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (use install|start|stop|status|env)" ;;
esac
