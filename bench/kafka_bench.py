"""Produces and consumes 100-byte messages with librdkafka (confluent-kafka) against one broker
and prints messages/s and MB/s for each. A benchmark, not a test: run by bench/kafka-benchmark.sh.

    python3 bench/kafka_bench.py HOST:PORT MESSAGES [PROCESSES]

Several producer processes (one per partition) share the work, because one Python process
calling produce() tops out near a million calls a second, below what a broker can take.
Consumers are one process per partition too, each reading its partition to the end.
"""
import multiprocessing as mp
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

VALUE = b"x" * 100


def produce(bs, topic, partition, n, out):
    p = Producer({"bootstrap.servers": bs, "acks": "all", "linger.ms": 5, "batch.size": 1_000_000,
                  "queue.buffering.max.messages": 1_000_000, "compression.type": "none"})
    errors = []
    for i in range(n):
        while True:
            try:
                p.produce(topic, VALUE, partition=partition,
                          on_delivery=(lambda e, m: errors.append(e) if e else None) if i % 997 == 0 else None)
                break
            except BufferError:
                p.poll(0.005)
        if i % 20000 == 0:
            p.poll(0)
    left = p.flush(120)
    out.put(("produce", partition, left + len(errors)))


def consume(bs, topic, partition, n, out):
    c = Consumer({"bootstrap.servers": bs, "group.id": f"{topic}-{partition}", "enable.auto.commit": False,
                  "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 10485760})
    c.assign([TopicPartition(topic, partition, 0)])
    got, idle = 0, 0
    while got < n and idle < 50:
        msgs = c.consume(10000, 0.2)
        if not msgs:
            idle += 1
            continue
        idle = 0
        got += len(msgs)
    c.close()
    out.put(("consume", partition, got))


def timed(target, bs, topic, procs, per):
    out = mp.Queue()
    ps = [mp.Process(target=target, args=(bs, topic, i, per, out)) for i in range(procs)]
    t0 = time.time()
    for p in ps:
        p.start()
    results = [out.get() for _ in ps]
    for p in ps:
        p.join()
    return time.time() - t0, results


def main():
    bs, n = sys.argv[1], int(sys.argv[2])
    procs = int(sys.argv[3]) if len(sys.argv) > 3 else 4
    topic = "bench-" + uuid.uuid4().hex[:8]
    admin = AdminClient({"bootstrap.servers": bs})
    for f in admin.create_topics([NewTopic(topic, procs, 1)]).values():
        f.result()
    per = n // procs
    total = per * procs
    dt, res = timed(produce, bs, topic, procs, per)
    bad = sum(r[2] for r in res)
    if bad:
        raise SystemExit(f"produce: {bad} messages failed or left unsent")
    print(f"produce  {total / dt:10.0f} msg/s  {total * 100 / dt / 1e6:7.1f} MB/s payload  (acks=all, {procs} producers)")
    dt, res = timed(consume, bs, topic, procs, per)
    got = sum(r[2] for r in res)
    print(f"consume  {got / dt:10.0f} msg/s  {got * 100 / dt / 1e6:7.1f} MB/s payload  ({got} of {total})")


if __name__ == "__main__":
    main()
