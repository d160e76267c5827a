"""The rate-limiter lesson: four algorithms as Lua scripts, side by side, and the race that
makes a script necessary.

    python3 ratelimiter.py [--target redis://HOST:PORT] [--check] [--rounds N]

--check prints only what must not change from run to run (CI diffs it with expected.txt).
"""
import argparse
import os
import sys
import threading
import time
import uuid

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
ALGORITHMS = ["fixed_window", "sliding_log", "sliding_counter", "leaky_bucket"]
LIMIT = 5
WINDOW_MS = 2000
SPACING_MS = 300
REQUESTS = 12
LEAKY_DRAIN_MS = 3200


def load(r):
    shas = {}
    for name in ALGORITHMS:
        with open(os.path.join(HERE, "scripts", name + ".lua")) as f:
            shas[name] = r.script_load(f.read())
    return shas


def call(r, shas, name, key):
    args = [LIMIT, WINDOW_MS]
    if name == "leaky_bucket":
        # A full bucket drains in 3.2 s: about 1.56 requests per second, steadily. (Chosen so that
        # no request of the burst finds the bucket within 100 ms of its fill line: the table must
        # not depend on scheduling jitter.)
        args = [LIMIT, LEAKY_DRAIN_MS]
    if name == "sliding_log":
        args.append(uuid.uuid4().hex)
    return r.evalsha(shas[name], 1, key, *args)


def server_ms(r):
    s, us = r.time()
    return s * 1000 + us // 1000


def burst(r, shas, check):
    """REQUESTS requests, SPACING_MS apart, through all four limiters at once."""
    run = uuid.uuid4().hex[:8]
    # Start 150 ms into a window. With requests 300 ms apart, every decision of every limiter is
    # then at least 50 ms away from the point where it would flip, so the table is the same on
    # every run (the sliding counter's decisions flip every 100 ms of offset).
    while (server_ms(r) % WINDOW_MS) not in range(140, 160):
        time.sleep(0.005)
    start = time.monotonic()
    print(f"Burst: {REQUESTS} requests, one every {SPACING_MS} ms; limit {LIMIT} per {WINDOW_MS} ms")
    header = f"{'t (ms)':>7} | " + " | ".join(f"{a:^22}" for a in ALGORITHMS)
    print(header.rstrip())
    print("-" * len(header))
    totals = {a: 0 for a in ALGORITHMS}
    for i in range(REQUESTS):
        due = start + i * SPACING_MS / 1000
        time.sleep(max(0, due - time.monotonic()))
        cells = []
        for a in ALGORITHMS:
            allowed, remaining, retry = call(r, shas, a, f"rl:{run}:{a}")
            totals[a] += allowed
            if check:
                # Remaining counts and retry hints depend on milliseconds; decisions do not.
                cells.append(f"{'allow' if allowed else 'deny':^22}")
            else:
                retry_s = f" retry {retry / 1000:.1f}s" if not allowed else ""
                cells.append(f"{'allow' if allowed else 'deny':>5} rem {remaining}{retry_s}".ljust(22))
        print((f"{i * SPACING_MS:>7} | " + " | ".join(cells)).rstrip())
    print(("allowed | " + " | ".join(f"{totals[a]:^22}" for a in ALGORITHMS)).rstrip())
    print()


NAIVE_WORK_S = 0.005  # the application's work between reading the counter and writing it


def race(url, shas, rounds, check):
    clients = 20
    conns = [redis.Redis.from_url(url) for _ in range(clients)]
    script = shas["fixed_window"]
    results = {"naive": [], "lua": []}
    for mode in ("naive", "lua"):
        for rnd in range(rounds):
            key = f"race:{uuid.uuid4().hex}"
            barrier = threading.Barrier(clients)
            allowed = []
            lock = threading.Lock()

            def worker(c):
                barrier.wait()
                if mode == "naive":
                    # Read, decide, write: three steps another client can interleave with.
                    n = int(c.get(key) or 0)
                    ok = n < LIMIT
                    if ok:
                        time.sleep(NAIVE_WORK_S)
                        c.incr(key)
                else:
                    ok = c.evalsha(script, 1, key, LIMIT, 60000)[0] == 1
                with lock:
                    allowed.append(ok)

            threads = [threading.Thread(target=worker, args=(c,)) for c in conns]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results[mode].append(sum(allowed))
            conns[0].delete(key)
    naive, lua = results["naive"], results["lua"]
    print(f"Race: {clients} concurrent clients, limit {LIMIT}, {rounds} rounds")
    over = sum(1 for n in naive if n > LIMIT)
    exact = sum(1 for n in lua if n == LIMIT)
    if check:
        print(f"  naive GET -> check -> INCR exceeded the limit in some round: {'yes' if over else 'no'}")
        print(f"  Lua script allowed exactly {LIMIT} in {exact}/{rounds} rounds")
    else:
        print(f"  naive GET -> check -> INCR : allowed per round min {min(naive)} max {max(naive)}; "
              f"over the limit in {over}/{rounds} rounds")
        print(f"  Lua script (atomic)        : allowed per round min {min(lua)} max {max(lua)}; "
              f"exactly {LIMIT} in {exact}/{rounds} rounds")
    return exact == rounds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default=os.environ.get("TARGET", "redis://127.0.0.1:16379"))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--rounds", type=int, default=100)
    args = ap.parse_args()
    r = redis.Redis.from_url(args.target)
    shas = load(r)
    burst(r, shas, args.check)
    ok = race(args.target, shas, args.rounds, args.check)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
