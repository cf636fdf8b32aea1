# Sourced by scripts/test and scripts/bench-*: servers started through it are stopped when the
# script exits.

# Every server started here is stopped on exit.
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_http() { # URL PID LOG
  for _ in $(seq 1 150); do
    if python3 -c "import urllib.request; urllib.request.urlopen('$1', timeout=1)" >/dev/null 2>&1; then
      return 0
    fi
    if ! kill -0 "$2" 2>/dev/null; then
      echo "the server for $1 did not start:" >&2
      cat "$3" >&2
      return 1
    fi
    sleep 0.2
  done
  echo "the server for $1 did not answer in time" >&2
  return 1
}

start_moto() { # sets LIFT_TEST_DYNAMODB_ENDPOINT unless it is set already
  if [ -z "${LIFT_TEST_DYNAMODB_ENDPOINT:-}" ]; then
    if ! python3 -c 'import moto.server, flask' >/dev/null 2>&1; then
      echo "== installing moto's DynamoDB-compatible server (pip install 'moto[server]')"
      python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
    fi
    port=$(free_port)
    mkdir -p target
    python3 -m moto.server -H 127.0.0.1 -p "$port" > target/moto-server.log 2>&1 &
    moto_pid=$!
    pids+=("$moto_pid")
    wait_for_http "http://127.0.0.1:$port/moto-api/" "$moto_pid" target/moto-server.log
    export LIFT_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
    echo "== DynamoDB- and SQS-compatible server (moto) on $LIFT_TEST_DYNAMODB_ENDPOINT"
  fi
}
