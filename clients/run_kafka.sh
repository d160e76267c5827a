#!/usr/bin/env bash
# Drives the Kafka broker with unmodified clients: kafka-python 3 and confluent-kafka (librdkafka
# 2.x) from PyPI, kafkajs 2 from npm. kcat and rskafka run in `cargo test` (tests/kafka.rs,
# tests/kafka_rskafka.rs).
#
#   clients/run_kafka.sh [terrarium-binary]            start a terrarium and check it
#   clients/run_kafka.sh --target HOST:PORT            check another broker (a real Kafka, e.g.
#                                                      the one in compose.yaml on 127.0.0.1:9092)
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET=""
BIN=./target/debug/terrarium
while [ $# -gt 0 ]; do
  case "$1" in
    --target) TARGET=$2; shift 2 ;;
    *) BIN=$1; shift ;;
  esac
done
python3 -c 'import kafka, confluent_kafka' 2>/dev/null || pip install -q 'kafka-python==3.0.*' 'confluent-kafka==2.*'
if ! command -v node >/dev/null 2>&1; then
  if [ "${CI:-}" = "true" ]; then echo "node is required under CI=true" >&2; exit 1; fi
  echo "skipping kafkajs: node is not installed" >&2
  NO_NODE=1
fi
[ -n "${NO_NODE:-}" ] || [ -d clients/node/node_modules/kafkajs ] || (cd clients/node && npm ci --silent --no-audit --no-fund)
if [ -z "$TARGET" ]; then
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$BIN" up --redis-port 0 --line-port 0 --pg-port 0 --kafka-port "$PORT" --ephemeral --log-level warn >/dev/null &
  TPID=$!
  trap 'kill $TPID 2>/dev/null' EXIT
  for _ in $(seq 1 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$PORT))" 2>/dev/null && break; sleep 0.05; done
  TARGET=127.0.0.1:$PORT
fi
python3 clients/python/kafka_check.py "$TARGET"
[ -n "${NO_NODE:-}" ] || node clients/node/kafkajs_check.js "$TARGET"
