"""Drives redis-py (8.x, which insists on HELLO 3) against a server and checks what it sees.

    python3 clients/python/redis_py_check.py PORT

Run against terrarium and against the real Redis: both must print the same lines.
"""
import sys
import threading
import time

import redis


def main(port: int) -> None:
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, protocol=3)
    r.flushall()
    out = []
    out.append(("protocol", r.connection_pool.connection_kwargs.get("protocol")))
    out.append(("ping", r.ping()))
    r.set("greeting", "hello", ex=100)
    out.append(("get", r.get("greeting")))
    out.append(("ttl>0", r.ttl("greeting") > 0))
    out.append(("incr", r.incr("n", 5)))
    out.append(("incrbyfloat", r.incrbyfloat("f", 0.1)))
    r.hset("h", mapping={"a": "1", "b": "2"})
    out.append(("hgetall", r.hgetall("h")))
    r.rpush("l", "x", "y", "z")
    out.append(("lrange", r.lrange("l", 0, -1)))
    r.sadd("s", "3", "1", "2")
    out.append(("smembers", sorted(r.smembers("s"))))
    r.zadd("z", {"a": 1.5, "b": 2})
    out.append(("zrange", r.zrange("z", 0, -1, withscores=True)))
    out.append(("zscore", r.zscore("z", "a")))
    with r.pipeline(transaction=True) as p:
        p.set("t", "1").incr("t").get("t")
        out.append(("multi", p.execute()))

    # Blocking pop served by another client.
    def push_later():
        time.sleep(0.1)
        redis.Redis(host="127.0.0.1", port=port).rpush("q", "job")

    threading.Thread(target=push_later).start()
    out.append(("blpop", r.blpop(["q"], timeout=5)))

    # Pub/sub through RESP3 push frames.
    ps = r.pubsub()
    ps.subscribe("news")
    ps.get_message(timeout=1)
    r.publish("news", "hi")
    msg = ps.get_message(timeout=2)
    out.append(("pubsub", (msg or {}).get("data")))
    ps.close()

    try:
        r.execute_command("INCR", "greeting")
    except redis.ResponseError as e:
        out.append(("error", str(e)))
    for k, v in out:
        print(f"{k}: {v!r}")


if __name__ == "__main__":
    main(int(sys.argv[1]))
