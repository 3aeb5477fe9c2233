#!/usr/bin/env bash
# The end-to-end tests drive Debian's Chromium; install it where we can, say how where we cannot.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Debian's chromium (and CJK fonts) for the end-to-end tests..."
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-cjk
  exit 0
fi
msg="The end-to-end tests need Chromium at /usr/bin/chromium: run 'sudo apt-get install chromium'."
if [ "${CI:-}" = "true" ]; then
  echo "ERROR: $msg" >&2
  exit 1
fi
echo "WARNING: $msg Until then the e2e tests are skipped." >&2
