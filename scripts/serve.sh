#!/usr/bin/env bash
# `make serve REPLICAS=N`: N Streamlit replicas with production settings behind Debian's nginx.
# Env: REPLICAS (2), PORT (8501, the one public port), LISTEN (127.0.0.1; 0.0.0.0 on a host behind TLS),
# BASE_PORT (8601: replica i listens on BASE_PORT+i on loopback), RUN_DIR (.run/serve),
# SEQCORE_HOME (shared dir for user-trained checkpoints), SEQCORE_COOKIE_SECRET (same on every replica).
set -euo pipefail
cd "$(dirname "$0")/.."
REPLICAS=${REPLICAS:-2}
PORT=${PORT:-8501}
LISTEN=${LISTEN:-127.0.0.1}
BASE_PORT=${BASE_PORT:-8601}
RUN_DIR=$(realpath -m "${RUN_DIR:-.run/serve}")
export SEQCORE_HOME=${SEQCORE_HOME:-$HOME/.cache/seqcore}
PY=${PY:-.venv/bin/python}

if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  echo "nginx is missing: run 'sudo apt-get install nginx' (make test installs it as root)" >&2
  exit 1
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
mkdir -p "$RUN_DIR"/tmp "$SEQCORE_HOME"
chmod 0777 "$RUN_DIR"/tmp  # nginx workers drop to an unprivileged user

# Replicas must share the cookie secret, or a session cookie signed by one is refused by another.
if [ -z "${SEQCORE_COOKIE_SECRET:-}" ]; then
  [ -s "$RUN_DIR/cookie_secret" ] || "$PY" -c "import secrets; print(secrets.token_hex(32))" > "$RUN_DIR/cookie_secret"
  SEQCORE_COOKIE_SECRET=$(cat "$RUN_DIR/cookie_secret")
fi

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

upstreams=""
for i in $(seq 1 "$REPLICAS"); do
  port=$((BASE_PORT + i))
  SEQCORE_REPLICA="$i" STREAMLIT_SERVER_COOKIE_SECRET="$SEQCORE_COOKIE_SECRET" "$PY" scripts/app_server.py \
    --server.address 127.0.0.1 --server.port "$port" --server.headless true \
    --server.fileWatcherType none --server.runOnSave false --server.enableXsrfProtection true \
    --browser.gatherUsageStats false \
    > "$RUN_DIR/replica-$i.log" 2>&1 &
  pids+=($!)
  echo $! > "$RUN_DIR/replica-$i.pid"
  upstreams+="        server 127.0.0.1:$port max_fails=1 fail_timeout=5s;"$'\n'
done

for i in $(seq 1 "$REPLICAS"); do
  port=$((BASE_PORT + i))
  for _ in $(seq 1 240); do
    curl -fsS "http://127.0.0.1:$port/_stcore/health" >/dev/null 2>&1 && break
    kill -0 "${pids[$((i - 1))]}" 2>/dev/null || { echo "replica $i died; see $RUN_DIR/replica-$i.log" >&2; exit 1; }
    sleep 0.5
  done
  curl -fsS "http://127.0.0.1:$port/_stcore/health" >/dev/null || { echo "replica $i not healthy" >&2; exit 1; }
done

sed -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@LISTEN@|$LISTEN|g" -e "s|@PORT@|$PORT|g" deploy/nginx.conf.template \
  | "$PY" -c "import sys; sys.stdout.write(sys.stdin.read().replace('@UPSTREAMS@\n', sys.argv[1]))" "$upstreams" \
  > "$RUN_DIR/nginx.conf"
"$NGINX" -t -q -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR"
echo "Sequence Studio: $REPLICAS replicas behind http://$LISTEN:$PORT (logs in $RUN_DIR)"
"$NGINX" -c "$RUN_DIR/nginx.conf" -p "$RUN_DIR" -g "daemon off;" &
nginx_pid=$!
pids+=("$nginx_pid")
# A replica that dies leaves the others serving (nginx routes around it); stop when nginx stops.
wait "$nginx_pid"
