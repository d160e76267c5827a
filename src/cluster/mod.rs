//! Spreading keys over several servers: consistent hashing with virtual nodes.
//!
//! terrarium itself runs as one process and shards nothing; this module is the course's
//! consistent-hashing lesson as a library, which `examples/hashing_demo.rs` (run by
//! `demos/consistent-hashing/run.sh`) measures.
//!
//! # Why not `hash(key) % N`
//!
//! With `N` cache servers, `hash(key) % N` spreads keys evenly, but when `N` changes almost
//! every key changes server. A key stays put only if `h % N == h % (N + 1)`, which holds for
//! `N` of every `N·(N + 1)` consecutive hashes, so only `1/(N + 1)` of the keys stay: going
//! from 4 servers to 5 moves 80% of the keys, and every one of them is a cache miss.
//!
//! # The ring
//!
//! Hash positions run from 0 to 2^64 − 1 and wrap around, so they form a circle. Each node is
//! hashed onto the circle too, and a key belongs to the first node found walking clockwise
//! from the key's own position. Three nodes with one point each, and three keys, hashed with
//! MurmurHash64A seeded with [`ring::RING_SEED`] (the numbers are pinned by a test in [`ring`];
//! the fractions say how far round the circle each one is):
//!
//! ```text
//!                               0 = 2^64
//!                          . - - - + - - - .
//!                     . '                     ' .
//!                  .'                             '.       ○ user:1     0x35464510c605c1e0  0.208
//!                /                                  ● ---- cache-b#0    0x3de6045a889d488e  0.242
//!               |                                    |
//!               |             clockwise ↻            |
//!               |                                    |
//!   cart:7 ○ --- \                                  /
//!  cache-c#0 ● --- '.                              .○ ---- user:42      0x6eac846ba02e1d75  0.432
//!   cache-a#0 ● ----- ' .                      . '
//!                          ' - - - - - - - - '
//!
//!   cache-a#0   0x9a29078a0c5e3ef5  0.602        cache-c#0   0xa302b14f1ed6c0fe  0.637
//!   cart:7      0xb0abcbb2a110134e  0.690
//! ```
//!
//! `user:42` (0.432) walks clockwise to `cache-a#0` (0.602), so cache-a owns it. `user:1`
//! (0.208) meets `cache-b#0` (0.242) first. `cart:7` (0.690) is past the last point, so its
//! walk wraps through 0 and it too goes to cache-b. Each point owns the arc behind it: cache-a
//! the 36% from 0.242 to 0.602, cache-c only the 3.5% from 0.602 to 0.637, and cache-b the
//! remaining 60%, across the top. That imbalance is what virtual nodes, below, are for.
//!
//! Adding a node puts new points on the circle; each takes over only the arc just
//! counter-clockwise of it, from whichever node owned that arc. So the only keys that move are
//! those now owned by the new node: about `1/(N + 1)` of them (the textbook's "k/N of k keys"),
//! and no key moves between two old nodes. Removing a node hands each of its arcs to the next point
//! clockwise, so only the removed node's keys move.
//!
//! # Virtual nodes
//!
//! With one point per node the arcs have random lengths: `N` random points cut the circle into
//! arcs whose lengths spread about as widely as their mean, so one node may get three times
//! the keys of another. Giving each node `v` points (`cache-a#0`, `cache-a#1`, …) makes its
//! share a sum of `v` arcs, and the spread shrinks like `1/√v`: about 10% of the mean at 100
//! points per node. The points of different nodes interleave, so a new node also takes its
//! share from every old node a little, rather than all from one neighbour.
//!
//! # What this leaves out
//!
//! * Replication: real systems store a key on the next `r` *distinct* nodes clockwise.
//! * Weights: a node with twice the memory would get twice the points.
//! * Redis Cluster does not use a ring. It hashes keys with CRC16 into 16384 fixed slots and
//!   assigns slots to nodes explicitly; resharding moves whole slots, chosen by an operator or
//!   a tool, which gives the same "only some keys move" property with a table instead of a
//!   circle.
//! * Other schemes with the same property: rendezvous (highest random weight) hashing and
//!   Google's jump consistent hash.

pub mod ring;

pub use ring::Ring;
