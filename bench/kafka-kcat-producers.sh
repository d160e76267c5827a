#!/usr/bin/env bash
# Where produce throughput goes on this machine: native librdkafka producers (kcat, acks=all,
# batching) against terrarium durable and --ephemeral, with the CPU time the producers and the
# broker each used, and the disk's sequential fdatasync bandwidth as the ceiling. If durable and
# ephemeral run at the same rate, the disk is not the limit; the CPU split says who is. Not a test.
#
#   bench/kafka-kcat-producers.sh [producers (2)] [messages per producer (2000000)]
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-2}
N=${2:-2000000}
command -v kcat >/dev/null || { echo "kcat is needed (apt-get install kcat)" >&2; exit 1; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -q
free() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
# 100-byte messages, one per line (kcat -l sends each line as a message).
python3 -c "import sys; sys.stdout.buffer.write((b'x' * 99 + b'\n') * $N)" > "$WORK/msgs"

echo "== disk: sequential write with fdatasync (the ceiling)"
dd if=/dev/zero of="$WORK/dd" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1
rm -f "$WORK/dd"

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for mode in durable ephemeral; do
  PORT=$(free)
  if [ "$mode" = durable ]; then flags=(--data-dir "$WORK/data"); else flags=(--ephemeral); fi
  ./target/release/terrarium up --redis-port 0 --line-port 0 --pg-port 0 --kafka-port "$PORT" \
    --num-partitions "$P" "${flags[@]}" --log-level warn >/dev/null &
  TPID=$!
  for _ in $(seq 1 100); do kcat -b "127.0.0.1:$PORT" -L >/dev/null 2>&1 && break; sleep 0.05; done
  kcat -b "127.0.0.1:$PORT" -L -t bench >/dev/null 2>&1 || true
  before=$(ticks $TPID)
  start=$(date +%s.%N)
  clients=$( { /usr/bin/time -f '%U %S' bash -c '
      for i in $(seq 0 $(('"$P"' - 1))); do
        kcat -b 127.0.0.1:'"$PORT"' -P -t bench -p $i -X acks=all -X linger.ms=5 -X batch.size=1000000 \
          -X queue.buffering.max.messages=2000000 -X queue.buffering.max.kbytes=2000000 -l '"$WORK/msgs"' &
      done
      wait' ; } 2>&1 | tail -1)
  end=$(date +%s.%N)
  after=$(ticks $TPID)
  python3 - "$mode" "$start" "$end" "$P" "$N" "$before" "$after" "$clients" <<'EOF'
import os, sys
mode, start, end, p, n, before, after = sys.argv[1:8]
user, system = map(float, sys.argv[8].split())
secs = float(end) - float(start)
msgs = int(p) * int(n)
hz = os.sysconf("SC_CLK_TCK")
broker = (int(after) - int(before)) / hz
print(f"== terrarium {mode}: {msgs / secs / 1e6:.2f} M msg/s, {msgs * 100 / secs / 1e6:.0f} MB/s in {secs:.1f} s")
print(f"   CPU: producers {user + system:.2f} s, broker {broker:.2f} s "
      f"({broker / msgs * 1e9:.0f} ns per message) of {secs * os.cpu_count():.1f} s available")
EOF
  kill $TPID; wait $TPID 2>/dev/null || true
done
