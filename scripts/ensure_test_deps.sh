#!/usr/bin/env bash
# System programs the tests drive: Debian's Chromium (end-to-end) and nginx (replicas behind a proxy).
# Installed with apt-get where we run as root; elsewhere we say how.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium fonts-noto-cjk)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian packages for the end-to-end tests: ${missing[*]}"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  exit 0
fi
msg="The end-to-end tests need: ${missing[*]}. Run 'sudo apt-get install ${missing[*]}'."
if [ "${CI:-}" = "true" ]; then
  echo "ERROR: $msg" >&2
  exit 1
fi
echo "WARNING: $msg Until then those tests are skipped." >&2
