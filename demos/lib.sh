# Shared by every demos/*/run.sh: arguments, starting a terrarium, and --check / --update.
# A run.sh sets NAME and HERE, sources this file, calls demo_args "$@", optionally
# demo_start_terrarium, defines run(), and ends with demo_finish.

ROOT="$(cd "$HERE/../.." && pwd)"
TARGET="" MODE=""

# --target URL | --check | --update
demo_args() {
  while [ $# -gt 0 ]; do
    case "$1" in
      --target) TARGET="$2"; shift 2 ;;
      --check) MODE=check; shift ;;
      --update) MODE=update; shift ;;
      *) echo "usage: $0 [--target redis://host:port | kafka://host:port | postgres://user@host:port/db] [--check | --update]" >&2; exit 2 ;;
    esac
  done
}

# Unless --target named a server: starts ./target/debug/terrarium on free ports (building it if
# missing), stops it on exit, and points TARGET at it: its RESP port (redis://...) by default, its
# Kafka port (kafka://...) with `demo_start_terrarium kafka`, its PostgreSQL port
# (postgres://...) with `demo_start_terrarium pg`.
demo_start_terrarium() {
  [ -z "$TARGET" ] || return 0
  local bin="$ROOT/target/debug/terrarium" port kport pport service="${1:-redis}"
  [ -x "$bin" ] || (cd "$ROOT" && cargo build -q)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # The SQL lessons read the WAL, so the pg demo gets a real (temporary) data directory.
  local store=(--ephemeral)
  if [ "$service" = pg ]; then DEMO_DATA=$(mktemp -d); store=(--data-dir "$DEMO_DATA"); fi
  "$bin" up --redis-port "$port" --line-port 0 --pg-port "$pport" --kafka-port "$kport" "${store[@]}" --log-level warn >/dev/null &
  TPID=$!
  trap 'kill $TPID 2>/dev/null; [ -z "${DEMO_DATA:-}" ] || rm -rf "$DEMO_DATA"' EXIT
  for _ in $(seq 1 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1',$kport)); socket.create_connection(('127.0.0.1',$pport))" 2>/dev/null && break
    sleep 0.05
  done
  case "$service" in
    kafka) TARGET="kafka://127.0.0.1:$kport" ;;
    pg) TARGET="postgres://postgres@127.0.0.1:$pport/postgres" ;;
    *) TARGET="redis://127.0.0.1:$port" ;;
  esac
}

# Runs run(): plainly, diffed with expected.txt (--check), or rewriting it (--update).
demo_finish() {
  case "$MODE" in
    check)
      local out
      out=$(mktemp)
      run > "$out"
      if diff -u "$HERE/expected.txt" "$out"; then
        rm -f "$out"; echo "$NAME: output matches expected.txt"
      else
        rm -f "$out"; echo "$NAME: output differs from expected.txt" >&2
        exit 1
      fi ;;
    update) run > "$HERE/expected.txt"; echo "$NAME: expected.txt rewritten" ;;
    *) run ;;
  esac
}
