"""Drives terrarium's Kafka broker (or any broker) with kafka-python 3 and confluent-kafka.

    python3 clients/python/kafka_check.py HOST:PORT

Each check prints one line and raises on failure. What is checked:
  kafka-python 3: admin create_topics; the default producer (idempotent, acks=all) with keys;
                  a 2-member group over 3 partitions that rebalances when one member leaves;
                  commit, close, resume from the committed offsets.
  confluent-kafka (librdkafka 2.x): gzip and lz4 producers with idempotence; a group consumer
                  that reads every message once.
Topic and group names carry a run id, so the script can run again against the same broker.
"""
import sys
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

BS = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19092"
RUN = uuid.uuid4().hex[:8]


def check(name, cond, detail=""):
    if not cond:
        raise SystemExit(f"FAIL {name}: {detail}")
    print(f"ok {name}")


def kafka_python():
    topic, group = f"kp-{RUN}", f"kp-group-{RUN}"
    admin = KafkaAdminClient(bootstrap_servers=BS)
    admin.create_topics([NewTopic(topic, 3, 1)])
    check("kafka-python admin create_topics", topic in admin.list_topics())
    admin.close()

    producer = KafkaProducer(bootstrap_servers=BS)  # kafka-python 3: idempotent, acks=all by default
    sent = [producer.send(topic, key=f"user{i % 6}".encode(), value=f"post {i}".encode()) for i in range(60)]
    producer.flush()
    metas = [f.get(timeout=10) for f in sent]
    check("kafka-python idempotent produce", len({m.partition for m in metas}) == 3, {m.partition for m in metas})
    producer.close()

    def member():
        return KafkaConsumer(topic, bootstrap_servers=BS, group_id=group, auto_offset_reset="earliest",
                             enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=500)

    a, b = member(), member()
    deadline = time.time() + 30
    seen = {}
    while time.time() < deadline:
        for c, name in ((a, "a"), (b, "b")):
            for tp, msgs in c.poll(timeout_ms=200).items():
                for m in msgs:
                    seen[(m.partition, m.offset)] = name
        if len(a.assignment()) + len(b.assignment()) == 3 and a.assignment() and b.assignment():
            break
    check("kafka-python 2 members share 3 partitions",
          len(a.assignment()) + len(b.assignment()) == 3 and a.assignment() and b.assignment(),
          (a.assignment(), b.assignment()))
    b.close()  # LeaveGroup: a rebalances onto all three
    deadline = time.time() + 30
    while time.time() < deadline and len(a.assignment()) != 3:
        for tp, msgs in a.poll(timeout_ms=200).items():
            for m in msgs:
                seen[(m.partition, m.offset)] = "a"
    check("kafka-python rebalance when a member leaves", len(a.assignment()) == 3, a.assignment())
    # a now owns b's partitions too and reads them from their committed offsets (none: b never
    # committed), so it reads until its position is at the end of every partition.
    ends = a.end_offsets(list(a.assignment()))
    end = time.time() + 15
    while time.time() < end and any(a.position(tp) < ends[tp] for tp in ends):
        for tp, msgs in a.poll(timeout_ms=200).items():
            for m in msgs:
                seen[(m.partition, m.offset)] = "a"
    check("kafka-python the group read everything", len(seen) == 60, len(seen))
    a.commit()
    a.close()

    producer = KafkaProducer(bootstrap_servers=BS)
    for i in range(60, 65):
        producer.send(topic, key=f"user{i % 6}".encode(), value=f"post {i}".encode())
    producer.flush()
    producer.close()
    c = KafkaConsumer(topic, bootstrap_servers=BS, group_id=group, auto_offset_reset="earliest",
                      consumer_timeout_ms=4000)
    resumed = sorted(m.value.decode() for m in c)
    c.close()
    check("kafka-python resume from committed offsets", resumed == sorted(f"post {i}" for i in range(60, 65)), resumed)


def confluent():
    from confluent_kafka import Consumer, Producer
    topic, group = f"ck-{RUN}", f"ck-group-{RUN}"
    total = 0
    for codec in ("gzip", "lz4"):
        errors = []
        p = Producer({"bootstrap.servers": BS, "compression.type": codec, "enable.idempotence": True,
                      "linger.ms": 5})
        for i in range(200):
            p.produce(topic, key=f"k{i % 7}", value=f"{codec} {i}",
                      on_delivery=lambda e, m: errors.append(e) if e else None)
        left = p.flush(15)
        total += 200
        check(f"confluent-kafka {codec} produce", not errors and left == 0, errors[:3])
    c = Consumer({"bootstrap.servers": BS, "group.id": group, "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got, idle = [], 0
    while idle < 8 and len(got) < total:
        m = c.poll(0.5)
        if m is None:
            idle += 1
            continue
        if m.error():
            raise SystemExit(f"FAIL confluent-kafka consume: {m.error()}")
        got.append(m.value().decode())
    c.close()
    check("confluent-kafka group consumer reads every message once", sorted(got) == sorted(
        [f"{codec} {i}" for codec in ("gzip", "lz4") for i in range(200)]), len(got))


kafka_python()
confluent()
print("kafka clients: all checks passed")
