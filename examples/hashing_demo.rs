//! The consistent-hashing lesson, measured: `hash % N` against a ring, when nodes come and go,
//! and how evenly keys spread with and without virtual nodes.
//!
//!     cargo run -q --example hashing_demo
//!
//! Everything is computed in this process from `terrarium::cluster::Ring`; the output is the
//! same on every run (MurmurHash64A with a fixed seed, keys `key:0` … `key:9999`), so
//! `demos/consistent-hashing/expected.txt` can pin it.

use std::collections::BTreeMap;

use terrarium::cluster::ring::{position, RING_SEED};
use terrarium::cluster::Ring;

/// How many keys the movement and load measurements use.
const KEYS_COUNT: usize = 10_000;
/// Virtual nodes per node for "the ring" when nothing else is said.
const VNODES: u32 = 100;

fn main() {
    out("Consistent hashing: hash % N versus a ring");
    out("==========================================");
    out(&format!("Hash: MurmurHash64A, seed {RING_SEED:#018x}, the same for % N and for the ring."));
    out(&format!(
        "Keys: key:0 … key:{}. A ring has {VNODES} virtual nodes per node unless a column says otherwise.",
        KEYS_COUNT - 1
    ));
    out("");
    ownership_table();
    movement();
    distribution();
}

/// Prints a line without trailing blanks, so that `expected.txt` holds none either.
fn out(line: &str) {
    println!("{}", line.trim_end());
}

/// `cache-a`, `cache-b`, … (`count` at most 26).
fn names(prefix: &str, count: usize) -> Vec<String> {
    (b'a'..=b'z').take(count).map(|c| format!("{prefix}{}", c as char)).collect()
}

fn ring_of(vnodes: u32, nodes: &[String]) -> Ring {
    let mut ring = Ring::new(vnodes);
    for n in nodes {
        ring.add_node(n);
    }
    ring
}

/// `hash % N` as a cache client does it: an index into its list of servers.
fn modulo_owner(nodes: &[String], key: &[u8]) -> String {
    nodes[(position(key) % nodes.len() as u64) as usize].clone()
}

fn ring_owner(ring: &Ring, key: &[u8]) -> String {
    ring.node_for(key).expect("the ring has nodes").to_string()
}

fn keys() -> impl Iterator<Item = String> {
    (0..KEYS_COUNT).map(|i| format!("key:{i}"))
}

fn pct(part: usize, whole: usize) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole as f64)
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut s = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            s.push(',');
        }
        s.push(ch);
    }
    s
}

// ------------------------------------------------------------------------------------------------
// 1. Who owns which key.
// ------------------------------------------------------------------------------------------------

fn ownership_table() {
    let (four, five) = (names("cache-", 4), names("cache-", 5));
    let (ring4, ring5) = (ring_of(VNODES, &four), ring_of(VNODES, &five));
    out("1. Who owns which key: 4 nodes (cache-a … cache-d), then cache-e joins");
    out("");
    out("   key      position            % 4       % 5          ring of 4   ring of 5");
    // The first twelve of the keys that part 2 counts.
    let sample: Vec<String> = keys().take(12).collect();
    let (mut moved_mod, mut moved_ring) = (0, 0);
    for key in &sample {
        let k = key.as_bytes();
        let (m4, m5) = (modulo_owner(&four, k), modulo_owner(&five, k));
        let (r4, r5) = (ring_owner(&ring4, k), ring_owner(&ring5, k));
        moved_mod += usize::from(m4 != m5);
        moved_ring += usize::from(r4 != r5);
        let mark = |moved: bool| if moved { "←" } else { "" };
        out(&format!(
            "   {key:<8} {:016x}    {m4:<9} {m5:<9} {:<2} {r4:<11} {r5:<9} {}",
            position(k),
            mark(m4 != m5),
            mark(r4 != r5)
        ));
    }
    out("");
    out(&format!(
        "   ← marks a key that changed node: % N moved {moved_mod} of these {}, the ring {moved_ring}, each to cache-e.",
        sample.len()
    ));
    out("");
}

// ------------------------------------------------------------------------------------------------
// 2. Keys moved when a node is added or removed.
// ------------------------------------------------------------------------------------------------

/// One membership change: the node lists before and after, and the node that joined or left.
struct Change {
    label: String,
    before: Vec<String>,
    after: Vec<String>,
    node: String,
    /// The larger of the two cluster sizes: a perfect ring moves one key in this many.
    larger: usize,
}

fn changes() -> Vec<Change> {
    let mut all = Vec::new();
    for n in [4usize, 10] {
        let (before, after) = (names("cache-", n), names("cache-", n + 1));
        let node = after[n].clone();
        all.push(Change { label: format!("{n} → {} (add {node})", n + 1), before, after, node, larger: n + 1 });
        // Take a node out of the middle of the list, as a failed server would be. Its clients'
        // server lists close up, so every later server's index shifts down by one.
        let before = names("cache-", n + 1);
        let node = before[1].clone();
        let after: Vec<String> = before.iter().filter(|x| **x != node).cloned().collect();
        all.push(Change { label: format!("{} → {n} (remove {node})", n + 1), before, after, node, larger: n + 1 });
    }
    all
}

/// Counts the keys whose owner changed, and among them those that moved between two nodes
/// present both before and after (neither the node that joined nor the one that left).
fn count_moves(
    before: impl Iterator<Item = String>,
    after: impl Iterator<Item = String>,
    node: &str,
) -> (usize, usize) {
    let (mut moved, mut between) = (0, 0);
    for (o, n) in before.zip(after) {
        if o != n {
            moved += 1;
            between += usize::from(o != node && n != node);
        }
    }
    (moved, between)
}

fn movement() {
    out(&format!("2. Keys moved when one node joins or leaves ({} keys)", thousands(KEYS_COUNT)));
    out("");
    out(&format!(
        "   change                     % N   ring, 1 vnode   ring, {VNODES} vnodes   ideal 1/N    moved between two nodes"
    ));
    out("                                                                                     that both stayed");
    for c in changes() {
        let (mod_moved, mod_between) = count_moves(
            keys().map(|k| modulo_owner(&c.before, k.as_bytes())),
            keys().map(|k| modulo_owner(&c.after, k.as_bytes())),
            &c.node,
        );
        let mut ring_moved = Vec::new();
        let mut ring_between = 0;
        for vnodes in [1, VNODES] {
            let (before, after) = (ring_of(vnodes, &c.before), ring_of(vnodes, &c.after));
            let (moved, between) = count_moves(
                keys().map(|k| ring_owner(&before, k.as_bytes())),
                keys().map(|k| ring_owner(&after, k.as_bytes())),
                &c.node,
            );
            ring_moved.push(moved);
            ring_between += between;
        }
        out(&format!(
            "   {:<24} {:>6}   {:>13}   {:>15}   {:>10}   % N {:>5}, ring {}",
            c.label,
            pct(mod_moved, KEYS_COUNT),
            pct(ring_moved[0], KEYS_COUNT),
            pct(ring_moved[1], KEYS_COUNT),
            format!("1/{} {}", c.larger, pct(1, c.larger)),
            thousands(mod_between),
            ring_between,
        ));
    }
    out("");
    out("   % N keeps a key only when h % N = h % (N ± 1), about 1 key in N + 1, so it moves about");
    out("   N/(N + 1) of them, mostly between servers that did not change at all. The ring moves about");
    out("   1/N, all of it onto the node that joined or off the one that left. With 1 virtual node the");
    out("   amount depends on where that node's single point happened to land.");
    out("");
}

// ------------------------------------------------------------------------------------------------
// 3. How evenly the keys spread.
// ------------------------------------------------------------------------------------------------

struct Spread {
    counts: BTreeMap<String, usize>,
    min: usize,
    max: usize,
    stddev: f64,
}

fn spread(owner: impl Fn(&[u8]) -> String, nodes: &[String]) -> Spread {
    let mut counts: BTreeMap<String, usize> = nodes.iter().map(|n| (n.clone(), 0)).collect();
    for k in keys() {
        *counts.get_mut(&owner(k.as_bytes())).expect("the owner is one of the nodes") += 1;
    }
    let mean = KEYS_COUNT as f64 / nodes.len() as f64;
    // The population standard deviation: these ten nodes are all the nodes there are.
    let var = counts.values().map(|&c| (c as f64 - mean).powi(2)).sum::<f64>() / nodes.len() as f64;
    let min = *counts.values().min().expect("at least one node");
    let max = *counts.values().max().expect("at least one node");
    Spread { counts, min, max, stddev: var.sqrt() }
}

fn distribution() {
    const NODES_COUNT: usize = 10;
    let nodes = names("node-", NODES_COUNT);
    let mean = (KEYS_COUNT / NODES_COUNT) as f64;
    out(&format!(
        "3. Keys per node: {NODES_COUNT} nodes, {} keys, {mean} each if perfectly even",
        thousands(KEYS_COUNT)
    ));
    out("");
    out("   placement           min    max   std dev   std dev / mean   expected      max / mean");
    // % N spreads keys as evenly as chance allows: each node's count is binomial, with standard
    // deviation √(n·p·(1 − p)). A ring adds the unevenness of its arcs, about 1/√v of the mean.
    let p = 1.0 / NODES_COUNT as f64;
    let binomial = (KEYS_COUNT as f64 * p * (1.0 - p)).sqrt() / mean;
    let mut rows = vec![("% N".to_string(), format!("{:.1}% chance", 100.0 * binomial), {
        spread(|k| modulo_owner(&nodes, k), &nodes)
    })];
    for vnodes in [1u32, 10, 100, 200, 500] {
        let ring = ring_of(vnodes, &nodes);
        let label = format!("ring, {vnodes} vnode{}", if vnodes == 1 { "" } else { "s" });
        let expected = format!("{:.1}% 1/√v", 100.0 / f64::from(vnodes).sqrt());
        rows.push((label, expected, spread(|k| ring_owner(&ring, k), &nodes)));
    }
    for (label, expected, s) in &rows {
        out(&format!(
            "   {label:<18} {:>5}  {:>5}   {:>7.1}   {:>14}   {expected:<13} {:>5.2}",
            s.min,
            s.max,
            s.stddev,
            format!("{:.1}%", 100.0 * s.stddev / mean),
            s.max as f64 / mean,
        ));
    }
    out("");
    let arc = 100.0 / 500f64.sqrt();
    out(&format!(
        "   A ring's measured spread adds chance to the arcs: at 500 vnodes √({arc:.1}² + {:.1}²) = {:.1}%.",
        100.0 * binomial,
        (arc * arc + 10_000.0 * binomial * binomial).sqrt()
    ));
    out("");
    out(&format!("   Per node, 1 virtual node against {VNODES} (each # is 100 keys):"));
    out("");
    let one = &rows[1].2;
    let many = &rows.iter().find(|r| r.0 == format!("ring, {VNODES} vnodes")).expect("that row is measured").2;
    for n in &nodes {
        let (a, b) = (one.counts[n], many.counts[n]);
        out(&format!("   {n:<7} {a:>5} {:<37} {b:>5} {}", "#".repeat((a + 50) / 100), "#".repeat((b + 50) / 100)));
    }
    out("");
    out("   % N is even but, as part 2 shows, moves almost everything. One point per node moves little");
    out("   but is lopsided. A hundred points per node bring the spread near the noise of % N, for the");
    out(&format!(
        "   price of {} points to search instead of {NODES_COUNT} (a binary search: 10 steps instead of 4).",
        thousands(NODES_COUNT * VNODES as usize)
    ));
}
