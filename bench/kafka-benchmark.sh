#!/usr/bin/env bash
# Benchmarks terrarium's Kafka broker against tansu (a Kafka-compatible broker in Rust, the peer
# the issue names) with librdkafka, producing acks=all and consuming 100-byte messages, and
# measures the disk's sequential write bandwidth as the ceiling. Not a test: run it by hand.
#
#   bench/kafka-benchmark.sh [messages (1000000)]
# tansu: `cargo install tansu --locked --features dynostore,libsql` (about 10-20 minutes on 2 cores);
# skipped when absent.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
python3 -c 'import confluent_kafka' 2>/dev/null || pip install -q 'confluent-kafka==2.*'
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
DATA=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$DATA"' EXIT

echo "== disk: sequential write with fdatasync (the ceiling)"
dd if=/dev/zero of="$DATA/dd" bs=1M count=512 conv=fdatasync 2>&1 | tail -1
rm -f "$DATA/dd"

KPORT=$(free)
./target/release/terrarium up --redis-port 0 --line-port 0 --pg-port 0 --kafka-port "$KPORT" \
  --data-dir "$DATA/terrarium" --log-level warn >/dev/null &
for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$KPORT))" 2>/dev/null && break; sleep 0.05; done
echo "== terrarium (durable, $DATA/terrarium)"
python3 bench/kafka_bench.py "127.0.0.1:$KPORT" "$N"

if command -v tansu >/dev/null 2>&1; then
  mkdir -p "$DATA/tansu"
  # memory:// is tansu's fastest engine but keeps nothing; sqlite:// is its local durable one.
  # (`cargo install tansu --locked --features dynostore,libsql` provides both.)
  # sqlite:// paths are relative to tansu's working directory, hence the cd.
  for storage in ${TANSU_STORAGES:-memory://tansu/ sqlite://tansu.db}; do
    TPORT=$(free)
    (cd "$DATA/tansu" && exec tansu broker --listener-url "tcp://127.0.0.1:$TPORT" \
      --advertised-listener-url "tcp://127.0.0.1:$TPORT" --storage-engine "$storage") >"$DATA/tansu.log" 2>&1 &
    TANSU=$!
    for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$TPORT))" 2>/dev/null && break; sleep 0.05; done
    echo "== tansu ($storage)"
    python3 bench/kafka_bench.py "127.0.0.1:$TPORT" "$N" || echo "tansu run failed (see $DATA/tansu.log)"
    kill $TANSU 2>/dev/null || true
  done
else
  echo "== tansu: not installed (cargo install tansu --locked --features dynostore,libsql)"
fi
