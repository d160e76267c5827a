#!/usr/bin/env bash
# The tinder-feed demo: users placed with GEOADD, a feed from GEOSEARCH ranked by shared interests
# and nearness, a Bloom filter of seen profiles, and matches. Python, redis-py.
#   demos/tinder-feed/run.sh                                  against a terrarium it starts
#   demos/tinder-feed/run.sh --target redis://127.0.0.1:6379  against another server (BF.* needs RedisBloom;
#                                                             without it, seen profiles go in an exact set)
#   demos/tinder-feed/run.sh --check                          diff with expected.txt (CI)
#   demos/tinder-feed/run.sh --update                         rewrite expected.txt (review the diff)
set -euo pipefail
NAME=tinder-feed
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/../lib.sh"
demo_args "$@"
python3 -c 'import redis' 2>/dev/null || pip install -q 'redis==8.1.0'
demo_start_terrarium
run() { python3 "$HERE/tinder.py" --target "$TARGET"; }
demo_finish
