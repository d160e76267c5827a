//! The consistent-hash ring itself: points on a 64-bit circle, each owned by a node, and a
//! binary search to find the first point clockwise from a key.
//!
//! See the [module header](super) for the picture and the arithmetic. This file keeps one
//! sorted vector of points; a lookup is `O(log P)` for `P` points, and adding or removing a
//! node re-sorts the vector, which is fine for the handful of nodes a cache cluster has.

use crate::bloom::murmur::murmur_hash64a;

/// The seed every ring position is hashed with. Any fixed value works; it is fixed so that
/// the same key lands on the same node in every process, on every run.
pub const RING_SEED: u64 = 0x7465_7272_6172_6975;

/// The most virtual nodes one node may have. A thousand points per node already brings the
/// load spread under about 3%; more would only cost memory and slow down `add_node`.
pub const VNODES_PER_NODE_MAX: u32 = 4096;

/// Where a key (or a virtual node's label) sits on the ring: MurmurHash64A, the hash the
/// crate's Bloom filters use. It mixes every input bit into every output bit, so labels that
/// differ in one character (`cache-a#1`, `cache-a#2`) land far apart. A hash without a final
/// mixing step, such as plain FNV-1a, would put such labels next to each other and leave
/// large parts of the ring to a single node.
pub fn position(bytes: &[u8]) -> u64 {
    murmur_hash64a(bytes, RING_SEED)
}

/// The label a virtual node is hashed from: `cache-a#0`, `cache-a#1`, …
pub fn vnode_label(node: &str, replica: u32) -> String {
    format!("{node}#{replica}")
}

/// One point on the ring, owned by `nodes[node]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Point {
    pos: u64,
    node: usize,
}

/// A consistent-hash ring where every node is placed at `vnodes` points.
///
/// ```
/// use terrarium::cluster::Ring;
/// let mut ring = Ring::new(100);
/// ring.add_node("cache-a");
/// ring.add_node("cache-b");
/// let before = ring.node_for(b"user:42").unwrap().to_string();
/// ring.add_node("cache-c");
/// let after = ring.node_for(b"user:42").unwrap();
/// // A key either stays where it was or moves to the node just added, never elsewhere.
/// assert!(after == before || after == "cache-c");
/// ```
#[derive(Clone, Debug)]
pub struct Ring {
    vnodes: u32,
    /// Node names in the order they were added.
    nodes: Vec<String>,
    /// Sorted by position, then by node name, so that even two points at the same position
    /// (about one chance in 2^64 per pair) are ordered the same whatever order the nodes were
    /// added in.
    points: Vec<Point>,
}

impl Ring {
    /// An empty ring whose nodes will each get `vnodes` points.
    ///
    /// Panics if `vnodes` is 0 or above [`VNODES_PER_NODE_MAX`]: the count is chosen by the
    /// program, never read from a client, so a bad one is a bug to fix, not an input to refuse.
    pub fn new(vnodes: u32) -> Ring {
        assert!(
            (1..=VNODES_PER_NODE_MAX).contains(&vnodes),
            "virtual nodes per node must be in 1..={VNODES_PER_NODE_MAX}, got {vnodes}"
        );
        Ring { vnodes, nodes: Vec::new(), points: Vec::new() }
    }

    /// Points per node.
    pub fn vnodes_per_node(&self) -> u32 {
        self.vnodes
    }

    /// The nodes, in the order they were added.
    pub fn nodes(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(String::as_str)
    }

    /// How many nodes the ring holds.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Every point as `(position, node)`, clockwise from 0.
    pub fn points(&self) -> impl Iterator<Item = (u64, &str)> {
        self.points.iter().map(|p| (p.pos, self.nodes[p.node].as_str()))
    }

    /// Places `name` at its `vnodes` points. False (and nothing changes) if it is already there.
    pub fn add_node(&mut self, name: &str) -> bool {
        if self.nodes.iter().any(|n| n == name) {
            return false;
        }
        let node = self.nodes.len();
        self.nodes.push(name.to_string());
        self.points.extend((0..self.vnodes).map(|i| Point { pos: position(vnode_label(name, i).as_bytes()), node }));
        self.sort_points();
        true
    }

    /// Takes `name` and all its points off the ring. False if it was not there.
    pub fn remove_node(&mut self, name: &str) -> bool {
        let Some(gone) = self.nodes.iter().position(|n| n == name) else {
            return false;
        };
        self.nodes.remove(gone);
        self.points.retain(|p| p.node != gone);
        // Node indexes after the removed one shift down by one, as `nodes` did.
        for p in &mut self.points {
            if p.node > gone {
                p.node -= 1;
            }
        }
        true
    }

    fn sort_points(&mut self) {
        let nodes = &self.nodes;
        self.points.sort_by(|x, y| x.pos.cmp(&y.pos).then_with(|| nodes[x.node].cmp(&nodes[y.node])));
    }

    /// The node that owns `key`: the owner of the first point at or after the key's position,
    /// wrapping past the top of the ring back to the first point. `None` on an empty ring.
    pub fn node_for(&self, key: &[u8]) -> Option<&str> {
        self.owner_of(position(key))
    }

    /// The node that owns ring position `pos` (see [`Ring::node_for`]).
    pub fn owner_of(&self, pos: u64) -> Option<&str> {
        let first = self.points.first()?;
        let i = self.points.partition_point(|p| p.pos < pos);
        let point = self.points.get(i).unwrap_or(first);
        Some(&self.nodes[point.node])
    }

    /// The fraction of the ring each node owns, in the order nodes were added: the share of
    /// all possible keys it would get if keys were spread perfectly evenly. The shares sum to 1.
    pub fn shares(&self) -> Vec<(&str, f64)> {
        let mut arcs = vec![0u128; self.nodes.len()];
        let n = self.points.len();
        for (i, p) in self.points.iter().enumerate() {
            // A point owns the arc from the point before it (exclusive) up to itself; the first
            // point's arc wraps around from the last one.
            let prev = self.points[(i + n - 1) % n].pos;
            let arc = if n == 1 { 1u128 << 64 } else { u128::from(p.pos.wrapping_sub(prev)) };
            arcs[p.node] += arc;
        }
        let full = (1u128 << 64) as f64;
        self.nodes.iter().zip(arcs).map(|(name, arc)| (name.as_str(), arc as f64 / full)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(vnodes: u32, names: &[&str]) -> Ring {
        let mut r = Ring::new(vnodes);
        for n in names {
            assert!(r.add_node(n));
        }
        r
    }

    fn owners(r: &Ring, keys: usize) -> Vec<String> {
        (0..keys).map(|i| r.node_for(format!("key:{i}").as_bytes()).unwrap().to_string()).collect()
    }

    #[test]
    fn empty_ring_owns_nothing_and_one_node_owns_everything() {
        let mut r = Ring::new(10);
        assert_eq!(r.node_for(b"x"), None);
        assert!(r.shares().is_empty());
        r.add_node("only");
        assert!(owners(&r, 100).iter().all(|o| o == "only"));
        assert_eq!(r.shares(), vec![("only", 1.0)]);
        // One node with one point is the one case where an arc is the whole ring.
        assert_eq!(ring(1, &["solo"]).shares(), vec![("solo", 1.0)]);
    }

    /// The lookup against a brute-force definition: the point with the smallest position not
    /// below the key's, or else the smallest position of all.
    #[test]
    fn lookup_is_the_first_point_clockwise() {
        let r = ring(7, &["a", "b", "c"]);
        let points: Vec<(u64, String)> = r.points().map(|(p, n)| (p, n.to_string())).collect();
        assert_eq!(points.len(), 21);
        for i in 0..2000 {
            let key = format!("k{i}");
            let h = position(key.as_bytes());
            let want =
                points.iter().filter(|(p, _)| *p >= h).min_by_key(|(p, _)| *p).or_else(|| points.first()).unwrap();
            assert_eq!(r.node_for(key.as_bytes()), Some(want.1.as_str()), "key {key}");
        }
        // Exactly at a point's position, the key belongs to that point; just past the last
        // point, it wraps to the first.
        let (last_pos, last_node) = points.last().unwrap().clone();
        assert_eq!(r.owner_of(last_pos), Some(last_node.as_str()));
        if last_pos < u64::MAX {
            assert_eq!(r.owner_of(last_pos + 1), Some(points[0].1.as_str()));
        }
    }

    #[test]
    fn adding_a_node_moves_keys_only_to_it_and_removing_moves_keys_only_from_it() {
        let before = ring(100, &["a", "b", "c", "d"]);
        let mut after = before.clone();
        assert!(after.add_node("e"));
        let (old, new) = (owners(&before, 10_000), owners(&after, 10_000));
        let moved: Vec<_> = old.iter().zip(&new).filter(|(o, n)| o != n).collect();
        assert!(moved.iter().all(|(_, n)| n.as_str() == "e"));
        // About 1/5 of the keys should move; allow generous room for chance.
        assert!((1_400..=2_600).contains(&moved.len()), "moved {}", moved.len());

        assert!(after.remove_node("e"));
        assert_eq!(owners(&after, 10_000), old, "add then remove restores every owner");

        let mut fewer = before.clone();
        assert!(fewer.remove_node("b"));
        let gone = owners(&fewer, 10_000);
        for (o, n) in old.iter().zip(&gone) {
            assert!(o == n || o == "b", "{o} -> {n}");
            assert_ne!(n, "b");
        }
    }

    #[test]
    fn the_mapping_does_not_depend_on_insertion_order() {
        let x = ring(50, &["a", "b", "c", "d"]);
        let y = ring(50, &["d", "b", "a", "c"]);
        assert_eq!(owners(&x, 5_000), owners(&y, 5_000));
    }

    #[test]
    fn duplicates_and_unknown_nodes_are_refused() {
        let mut r = ring(3, &["a"]);
        assert!(!r.add_node("a"));
        assert_eq!(r.points().count(), 3);
        assert!(!r.remove_node("zz"));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn virtual_nodes_even_out_the_shares() {
        let names: Vec<String> = (0..10).map(|i| format!("node-{i}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let spread = |vnodes| {
            let r = ring(vnodes, &names);
            let shares = r.shares();
            let sum: f64 = shares.iter().map(|s| s.1).sum();
            assert!((sum - 1.0).abs() < 1e-9, "shares sum to {sum}");
            let (lo, hi) = shares.iter().fold((1.0f64, 0.0f64), |(lo, hi), s| (lo.min(s.1), hi.max(s.1)));
            hi - lo
        };
        // One point per node: the largest share is typically several times the smallest.
        assert!(spread(1) > 0.10, "{}", spread(1));
        // 200 points per node: every share within a few points of 10%.
        assert!(spread(200) < 0.06, "{}", spread(200));
    }

    /// The worked example in the module header, pinned so that it cannot drift from the code.
    #[test]
    fn worked_example_in_the_module_header() {
        let r = ring(1, &["cache-a", "cache-b", "cache-c"]);
        let points: Vec<String> = r.points().map(|(p, n)| format!("{p:016x} {n}")).collect();
        assert_eq!(points, ["3de6045a889d488e cache-b", "9a29078a0c5e3ef5 cache-a", "a302b14f1ed6c0fe cache-c"]);
        for (key, pos, owner) in [
            ("user:42", "6eac846ba02e1d75", "cache-a"),
            ("user:1", "35464510c605c1e0", "cache-b"),
            ("cart:7", "b0abcbb2a110134e", "cache-b"),
        ] {
            assert_eq!(format!("{:016x}", position(key.as_bytes())), pos, "{key}");
            assert_eq!(r.node_for(key.as_bytes()), Some(owner), "{key}");
        }
        let shares: Vec<String> = r.shares().iter().map(|(n, s)| format!("{n} {s:.3}")).collect();
        assert_eq!(shares, ["cache-a 0.360", "cache-b 0.605", "cache-c 0.035"]);
    }

    #[test]
    #[should_panic(expected = "virtual nodes per node")]
    fn zero_virtual_nodes_is_a_bug() {
        Ring::new(0);
    }
}
