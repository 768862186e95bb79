#!/usr/bin/env bash
# The tests use a real PostgreSQL server (store) and a real headless Chromium (report pages).
# Install Debian's packages when they are missing; quick when both are there.
set -euo pipefail
need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != "0" ]; then
  echo "missing test dependencies: ${need[*]}; install them with 'sudo apt-get install ${need[*]}'" >&2
  exit 1
fi
echo "installing ${need[*]} (Debian packages) for the tests…"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
