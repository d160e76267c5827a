"""The tinder-feed lesson: a geospatial feed ranked by shared interests and nearness, a Bloom
filter so that a profile never comes back, and a match when two people swipe right on each other.

    python3 tinder.py [--target redis://HOST:PORT]

Everything is seeded, so the output is the same on every run (CI diffs it with expected.txt).
Every key starts with demo:tinder: and those keys are deleted before and after the run.
"""
import argparse
import math
import os
import random
import sys

import redis

PREFIX = "demo:tinder:"
GEO = PREFIX + "geo"
SEED = 7
USERS_PER_CITY = 40
# Users are scattered up to this far from their city's centre.
SCATTER_KM = 12.0
# The feed shows people within this distance, PAGE_SIZE at a time.
RADIUS_KM = 10.0
PAGE_SIZE = 5
# The score: this much weight on shared interests, the rest on nearness.
W_INTERESTS = 0.6
W_DISTANCE = 0.4
# Each user's "seen" Bloom filter: sized for a heavy user's lifetime of profiles, at 1%.
SEEN_CAPACITY = 1000
SEEN_ERROR = 0.01
# Ada swipes right on profiles scoring at least this much, left on the rest.
RIGHT_SWIPE_SCORE = 0.45

CITIES = [
    ("London", -0.1276, 51.5072),
    ("Paris", 2.3522, 48.8566),
]
NAMES = [
    # London
    "Ada", "Ben", "Chloe", "Dev", "Ella", "Finn", "Grace", "Harry", "Isla", "Jack",
    "Kiran", "Lily", "Max", "Nina", "Oscar", "Priya", "Quinn", "Ruby", "Sam", "Tara",
    "Umar", "Vera", "Will", "Xena", "Yusuf", "Zoe", "Alfie", "Bea", "Cal", "Daisy",
    "Eli", "Freya", "Gus", "Hana", "Ivo", "Jade", "Kai", "Leah", "Milo", "Nell",
    # Paris
    "Bastien", "Camille", "Damien", "Elodie", "Fabien", "Gaelle", "Hugo", "Ines", "Jules", "Lea",
    "Manon", "Nathan", "Oceane", "Paul", "Romane", "Sacha", "Theo", "Ursule", "Victor", "Yanis",
    "Zelie", "Adele", "Bruno", "Cecile", "Denis", "Emma", "Florian", "Gisele", "Henri", "Irene",
    "Josephine", "Lucas", "Margaux", "Noe", "Odile", "Pierre", "Rose", "Simon", "Tom", "Valentin",
]
INTERESTS = [
    "board games", "chess", "climbing", "coffee", "cooking", "films",
    "hiking", "jazz", "photography", "running", "travel", "yoga",
]


def say(line=""):
    """Prints a line without trailing blanks, so that expected.txt holds none either."""
    print(line.rstrip())


def key(*parts):
    return PREFIX + ":".join(parts)


def clear(r):
    """Deletes every key of this demo (never anything else on the target)."""
    for k in r.scan_iter(match=PREFIX + "*", count=500):
        r.delete(k)


def shuffled(rng, items):
    """A Fisher-Yates shuffle driven only by rng.random(), whose sequence Python keeps stable."""
    items = list(items)
    for i in range(len(items) - 1, 0, -1):
        j = int(rng.random() * (i + 1))
        items[i], items[j] = items[j], items[i]
    return items


def make_users():
    """80 users: 40 scattered around each city, each with 3 to 5 interests."""
    rng = random.Random(SEED)
    users = []
    for c, (city, lon, lat) in enumerate(CITIES):
        for i in range(USERS_PER_CITY):
            n = c * USERS_PER_CITY + i
            # Uniform over a disc: the radius goes as the square root of a uniform number.
            dist_km = SCATTER_KM * math.sqrt(rng.random())
            angle = 2 * math.pi * rng.random()
            ulat = lat + dist_km * math.cos(angle) / 111.32
            ulon = lon + dist_km * math.sin(angle) / (111.32 * math.cos(math.radians(lat)))
            count = 3 + int(rng.random() * 3)
            interests = sorted(shuffled(rng, INTERESTS)[:count])
            users.append({
                "id": "user:%02d" % (n + 1),
                "name": NAMES[n],
                "city": city,
                "lon": round(ulon, 6),
                "lat": round(ulat, 6),
                "interests": interests,
            })
    return users, rng


def load(r, users):
    pipe = r.pipeline(transaction=False)
    for u in users:
        pipe.geoadd(GEO, [u["lon"], u["lat"], u["id"]])
        pipe.hset(key("profile", u["id"]), mapping={"name": u["name"], "city": u["city"]})
        pipe.sadd(key("interests", u["id"]), *u["interests"])
    pipe.execute()


class Seen:
    """The profiles a user has been shown: a Bloom filter, or an exact set where the server has
    no BF.* commands."""

    def __init__(self, r, user_id, bloom):
        self.r, self.bloom = r, bloom
        self.key = key("seen", user_id) if bloom else key("seenset", user_id)
        if bloom:
            r.execute_command("BF.RESERVE", self.key, SEEN_ERROR, SEEN_CAPACITY)

    def contains(self, ids):
        if not ids:
            return []
        if self.bloom:
            return [bool(x) for x in self.r.execute_command("BF.MEXISTS", self.key, *ids)]
        return [bool(x) for x in self.r.smismember(self.key, ids)]

    def add(self, ids):
        if ids:
            if self.bloom:
                self.r.execute_command("BF.MADD", self.key, *ids)
            else:
                self.r.sadd(self.key, *ids)


def name_of(r, uid):
    return r.hget(key("profile", uid), "name").decode()


def candidates(r, viewer):
    """Everyone within RADIUS_KM of the viewer, nearest first, as (id, km)."""
    found = r.geosearch(GEO, member=viewer, radius=RADIUS_KM, unit="km", withdist=True, sort="ASC")
    return [(m.decode(), float(d)) for m, d in found if m.decode() != viewer]


def score(r, viewer, cands):
    """(score, id, km, shared interests, overlap, nearness) for each candidate, best first.

    overlap is the Jaccard index of the two interest sets, |A ∩ B| / |A ∪ B|: 1 for the same
    interests, 0 for none in common. nearness is 1 - d / radius: 1 next door, 0 at the edge."""
    mine = key("interests", viewer)
    pipe = r.pipeline(transaction=False)
    for uid, _ in cands:
        pipe.sinter(mine, key("interests", uid))
        pipe.sunion(mine, key("interests", uid))
    replies = pipe.execute()
    rows = []
    for i, (uid, km) in enumerate(cands):
        shared = sorted(x.decode() for x in replies[2 * i])
        union = replies[2 * i + 1]
        overlap = len(shared) / len(union)
        nearness = 1 - km / RADIUS_KM
        total = W_INTERESTS * overlap + W_DISTANCE * nearness
        rows.append((round(total, 6), uid, km, shared, overlap, nearness))
    # Best score first; ties (rare, with distances to 0.1 m) by id, so the order is stable.
    rows.sort(key=lambda row: (-row[0], row[1]))
    return rows


def feed_page(r, viewer, seen):
    """The next page: unseen candidates, ranked, the top PAGE_SIZE marked as seen."""
    cands = candidates(r, viewer)
    flags = seen.contains([uid for uid, _ in cands])
    unseen = [c for c, was_seen in zip(cands, flags) if not was_seen]
    page = score(r, viewer, unseen)[:PAGE_SIZE]
    seen.add([row[1] for row in page])
    return page, len(cands), len(cands) - len(unseen)


def print_page(r, number, page, within, skipped):
    if not page:
        say("  Page %d: %d people within %g km, all %d already seen" % (number, within, RADIUS_KM, skipped))
        say("    (the feed is exhausted: nobody comes back)")
        say()
        return
    say("  Page %d: %d people within %g km, %d already seen, showing the best %d"
        % (number, within, RADIUS_KM, skipped, len(page)))
    say("     #  profile            km   shared interests                overlap  nearness  score")
    for i, (total, uid, km, shared, overlap, nearness) in enumerate(page, 1):
        say("    %2d  %-8s %-8s %5.2f  %-30s  %6.3f  %8.3f  %5.3f"
              % (i, uid, name_of(r, uid), km, ", ".join(shared) or "-", overlap, nearness, total))
    say()


def swipe_right(r, who, whom):
    """Records a right swipe; True if it makes a match.

    The like and the check for the other person's like run in one MULTI/EXEC, so when two
    people swipe right on each other at the same moment, exactly one of the two transactions
    sees the other's like and creates the match (never neither, never both)."""
    pipe = r.pipeline(transaction=True)
    pipe.sadd(key("likes", who), whom)
    pipe.sismember(key("likes", whom), who)
    _, liked_back = pipe.execute()
    if liked_back:
        pipe = r.pipeline(transaction=True)
        pipe.sadd(key("matches", who), whom)
        pipe.sadd(key("matches", whom), who)
        pipe.execute()
    return bool(liked_back)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--target", default=os.environ.get("TARGET", "redis://127.0.0.1:16379"))
    args = ap.parse_args()
    r = redis.Redis.from_url(args.target)
    try:
        r.execute_command("BF.EXISTS", PREFIX + "probe", "x")
        bloom = True
    except redis.ResponseError as e:
        bloom = False
        bloom_error = str(e).strip()
    clear(r)

    users, rng = make_users()
    load(r, users)
    by_id = {u["id"]: u for u in users}
    ada, bastien = users[0], users[USERS_PER_CITY]

    say("Tinder feed: GEOSEARCH, a score, a Bloom filter of seen profiles, and matches")
    say("==============================================================================")
    say()
    say("1. The users")
    say()
    for city, lon, lat in CITIES:
        ids = [u["id"] for u in users if u["city"] == city]
        say("  %-6s %d users (%s … %s) within %g km of %.4f, %.4f"
              % (city, len(ids), ids[0], ids[-1], SCATTER_KM, lon, lat))
    say("  Interests: 3 to 5 each, from: %s," % ", ".join(INTERESTS[:6]))
    say("             %s" % ", ".join(INTERESTS[6:]))
    say("  Stored as: GEOADD %s lon lat id (×%d)" % (GEO, len(users)))
    say("             SADD %s<id> interest …" % key("interests", ""))
    say("             HSET %s<id> name … city …" % key("profile", ""))
    say()
    for u in (ada, bastien):
        lon, lat = r.geopos(GEO, u["id"])[0]
        say("  %s %s (%s): GEOPOS %.6f, %.6f; interests: %s"
              % (u["id"], u["name"], u["city"], lon, lat, ", ".join(u["interests"])))
    far = r.geodist(GEO, ada["id"], bastien["id"], unit="km")
    say("  GEODIST %s %s km = %.1f: a radius search from London never reaches Paris."
          % (ada["id"], bastien["id"], far))
    say()

    say("2. Ada's feed: GEOSEARCH %s FROMMEMBER %s BYRADIUS %g km WITHDIST ASC"
          % (GEO, ada["id"], RADIUS_KM))
    say("   score = %.1f × overlap (Jaccard of interests) + %.1f × nearness (1 - km / %g)"
          % (W_INTERESTS, W_DISTANCE, RADIUS_KM))
    if bloom:
        say("   seen = BF.RESERVE %s %g %d; each page BF.MEXISTS the candidates, BF.MADD the shown"
              % (key("seen", ada["id"]), SEEN_ERROR, SEEN_CAPACITY))
    else:
        say("   This server has no BF.* commands (%s)." % bloom_error)
        say("   Skipping the Bloom filter: seen profiles go into an exact set (SADD / SMISMEMBER) instead.")
    say()
    seen = Seen(r, ada["id"], bloom)
    shown = []
    page_no = 0
    while True:
        page_no += 1
        page, within, skipped = feed_page(r, ada["id"], seen)
        print_page(r, page_no, page, within, skipped)
        shown.extend(row for row in page)
        if not page:
            break

    ids = [row[1] for row in shown]
    say("  Shown over %d pages: %d profiles, %d distinct: none came back."
          % (page_no - 1, len(ids), len(set(ids))))
    # Everyone Ada was never shown, in both cities: how many does the filter wrongly call "seen"?
    never = [u["id"] for u in users if u["id"] != ada["id"] and u["id"] not in set(ids)]
    false_pos = [uid for uid, f in zip(never, seen.contains(never)) if f]
    say("  Every shown profile answers \"seen\": %s (a Bloom filter has no false negatives)."
          % ("yes" if all(seen.contains(ids)) else "NO"))
    say("  Profiles never shown that answer \"seen\" (false positives, hidden by mistake): %d of %d."
          % (len(false_pos), len(never)))
    if bloom:
        info = r.execute_command("BF.INFO", seen.key)
        # redis-py turns BF.INFO's field/value array into a dict; older versions leave the array.
        if not isinstance(info, dict):
            info = dict(zip(info[::2], info[1::2]))
        fields = {(k.decode() if isinstance(k, bytes) else k): v for k, v in info.items()}
        say("  BF.INFO: %d items in %d bytes; an exact set of ids would grow with every profile seen,"
              % (fields["Number of items inserted"], fields["Size"]))
        say("  the filter stays %d bytes until %d profiles, then adds a bigger one."
              % (fields["Size"], SEEN_CAPACITY))
    say()

    say("3. Swipes and matches")
    say()
    # Some of Ada's neighbours swiped right on her before she opened the app.
    admirers = sorted(uid for uid, _ in candidates(r, ada["id"]) if rng.random() < 0.4)
    for uid in admirers:
        r.sadd(key("likes", uid), ada["id"])
    say("  Before Ada opens the app, %d people nearby have swiped right on her (SADD %s<them> %s):"
          % (len(admirers), key("likes", ""), ada["id"]))
    names = ["%s %s" % (uid, by_id[uid]["name"]) for uid in admirers]
    for i in range(0, len(names), 5):
        say("    %s" % ", ".join(names[i:i + 5]))
    say()
    say("  Ada swipes through the profiles in the order shown: right if the score is ≥ %.2f, left on the rest:"
          % RIGHT_SWIPE_SCORE)
    say()
    liked = []
    for total, uid, km, shared, overlap, nearness in shown:
        if total >= RIGHT_SWIPE_SCORE:
            match = swipe_right(r, ada["id"], uid)
            liked.append(uid)
            say("    right  %-8s %-8s score %.3f  %s"
                  % (uid, by_id[uid]["name"], total, "→ it's a match!" if match else ""))
        else:
            say("    left   %-8s %-8s score %.3f" % (uid, by_id[uid]["name"], total))
    say()
    waiting = [uid for uid in liked if uid not in admirers]
    if waiting:
        later = waiting[0]
        say("  Later %s %s swipes right on Ada:" % (later, by_id[later]["name"]))
        say("    MULTI; SADD %s %s; SISMEMBER %s %s; EXEC"
            % (key("likes", later), ada["id"], key("likes", ada["id"]), later))
        match = swipe_right(r, later, ada["id"])
        say("    → %s" % ("it's a match! Ada had already swiped right on them." if match else "no match"))
        say()
    matches = sorted(x.decode() for x in r.smembers(key("matches", ada["id"])))
    say("  SMEMBERS %s: %s" % (key("matches", ada["id"]), ", ".join(matches) or "(none)"))
    say("  Every match is mutual: %s"
          % ("yes" if all(r.sismember(key("matches", m), ada["id"]) for m in matches) else "NO"))
    say()

    say("4. Paris, for comparison: page 1 of %s %s's feed" % (bastien["id"], bastien["name"]))
    say()
    page, within, skipped = feed_page(r, bastien["id"], Seen(r, bastien["id"], bloom))
    print_page(r, 1, page, within, skipped)
    cities = sorted({by_id[row[1]]["city"] for row in page})
    say("  Cities in that page: %s." % ", ".join(cities))
    clear(r)
    return 0


if __name__ == "__main__":
    sys.exit(main())
