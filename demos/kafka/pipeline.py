"""The blog pipeline, step by step.

1. A producer publishes `blog-published` events keyed by user id to a 3-partition topic. The key
   decides the partition (murmur2 of the key, as every Kafka client computes it), so one user's
   posts stay in order in one partition. The log says which partition and offset each got.
2. Two consumer groups read the same topic: a search indexer and a per-user post counter. Reading
   does not delete anything: each group keeps its own committed offsets.
3. A second indexer joins its group: the coordinator rebalances, and the two share the three
   partitions.
4. The counter stops after committing; more posts arrive; a new counter in the same group starts
   exactly where the old one stopped.

--check prints only what is the same on every run (offsets, counts, how partitions are shared),
not member ids or timings.
"""
import argparse
import collections
import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

ap = argparse.ArgumentParser()
ap.add_argument("--target", default="kafka://127.0.0.1:19092")
ap.add_argument("--check", action="store_true")
args = ap.parse_args()
BS = args.target.removeprefix("kafka://")
# Against a long-running broker the names carry a run id, so the demo can run again; --check uses
# fixed names (its terrarium is fresh).
RUN = "" if args.check else "-" + uuid.uuid4().hex[:6]
TOPIC = "blog-published" + RUN
USERS = ["alice", "bob", "carol", "dave", "erin"]


def say(*a):
    print(*a, flush=True)


def publish(producer, start, count):
    for i in range(start, start + count):
        user = USERS[i % len(USERS)]
        md = producer.send(TOPIC, key=user.encode(), value=f"post {i} by {user}".encode()).get(timeout=10)
        say(f"  published post {i:2} by {user:5} -> partition {md.partition} offset {md.offset}")


def consumer(group, **kw):
    return KafkaConsumer(TOPIC, bootstrap_servers=BS, group_id=group, auto_offset_reset="earliest",
                         enable_auto_commit=False, session_timeout_ms=10000, heartbeat_interval_ms=500, **kw)


def drain(c, want, seconds=20):
    """Polls until `want` messages arrived (or time is up); returns them."""
    got, end = [], time.time() + seconds
    while len(got) < want and time.time() < end:
        for msgs in c.poll(timeout_ms=200).values():
            got.extend(msgs)
    return got


say("== 1. a producer publishes 15 posts, keyed by user, to a topic with 3 partitions")
admin = KafkaAdminClient(bootstrap_servers=BS)
admin.create_topics([NewTopic(TOPIC, 3, 1)])
admin.close()
producer = KafkaProducer(bootstrap_servers=BS, acks="all")
publish(producer, 0, 15)

say("== 2. two groups read everything, independently")
indexer = consumer("search-indexer" + RUN)
msgs = drain(indexer, 15)
indexer.commit()
say(f"  search-indexer indexed {len(msgs)} posts")
counter = consumer("post-counter" + RUN)
msgs = drain(counter, 15)
counter.commit()
per_user = collections.Counter(m.key.decode() for m in msgs)
say("  post-counter: " + ", ".join(f"{u}={per_user[u]}" for u in USERS))

say("== 3. a second indexer joins: the group rebalances")
second = consumer("search-indexer" + RUN)
end = time.time() + 30
while time.time() < end and not (second.assignment() and len(indexer.assignment()) + len(second.assignment()) == 3):
    indexer.poll(timeout_ms=100)
    second.poll(timeout_ms=100)
shares = sorted([len(indexer.assignment()), len(second.assignment())], reverse=True)
say(f"  two indexers now share the 3 partitions: {shares[0]} + {shares[1]}")
if not args.check:
    say(f"    first:  {sorted(tp.partition for tp in indexer.assignment())}")
    say(f"    second: {sorted(tp.partition for tp in second.assignment())}")
second.close()
indexer.close()

say("== 4. the counter stopped after committing; 5 more posts; a new counter resumes")
counter.close()
publish(producer, 15, 5)
producer.close()
counter = consumer("post-counter" + RUN)
msgs = drain(counter, 5)
counter.commit()
counter.close()
say(f"  the new counter read {len(msgs)} posts, only the new ones: "
    + ", ".join(sorted(m.value.decode().split(' by ')[0] for m in msgs)))
