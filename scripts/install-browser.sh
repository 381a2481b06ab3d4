#!/usr/bin/env bash
# Installs the headless browser the console's end-to-end test drives: Debian's `chromium` package, nothing else.
# Idempotent: does nothing when /usr/bin/chromium is already there. Never downloads a browser build any other way
# (playwright-core, which the test uses, ships no browser and downloads none).
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) already installed at $CHROMIUM"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: apt-get not found; install Debian's 'chromium' package by hand (expected at $CHROMIUM)" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "install-browser: must run as root (or with sudo) to install chromium" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Wait for another apt/dpkg run (e.g. another install script) instead of failing on its lock.
APT_OPTS=(-o DPkg::Lock::Timeout=600)
# Refresh the package lists when chromium is not known yet (a fresh machine has empty or stale lists).
if ! apt-cache show chromium >/dev/null 2>&1; then
  echo "install-browser: apt-get update"
  $SUDO apt-get "${APT_OPTS[@]}" update -qq
fi

echo "install-browser: apt-get install chromium"
if ! $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends chromium; then
  # The lists may be stale (a package version gone from the mirror): refresh once and retry.
  $SUDO apt-get "${APT_OPTS[@]}" update -qq
  $SUDO apt-get "${APT_OPTS[@]}" install -y -qq --no-install-recommends chromium
fi

if [ ! -x "$CHROMIUM" ]; then
  echo "install-browser: chromium installed but $CHROMIUM is missing" >&2
  exit 1
fi
echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed at $CHROMIUM"
