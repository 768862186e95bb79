#!/usr/bin/env bash
# The store's tests start a real PostgreSQL server; install Debian's package when it is missing.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "PostgreSQL is not installed and this user cannot install it: run 'sudo apt-get install postgresql'" >&2
  exit 1
fi
echo "installing PostgreSQL (Debian package) for the store tests…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq postgresql >/dev/null
