//! Sorted sets: a member -> score map beside an order-statistics tree.
//!
//! A sorted set has to answer two kinds of question quickly. "What is the score of `m`?" is a
//! hash lookup. "Which members are ranked 100..110?", "what rank is `m`?", "how many members
//! score between 1 and 5?" need the members kept in order, *and* a way to count how many come
//! before a given point without walking them. Both structures hold the same members:
//!
//! ```text
//!   scores (hash map)            tree, ordered by (score, member bytes); each node knows the
//!   "alice" -> 3.0               size of its subtree, so a descent can count what it skips
//!   "bob"   -> 1.0
//!   "carol" -> 3.0                            (3,alice) size 4
//!   "dave"  -> 7.0                           /                \
//!                                 (1,bob) size 1            (7,dave) size 2
//!                                                           /
//!                                                  (3,carol) size 1
//!
//!   rank of "carol": 3.0 -> descend to (3,carol) adding, at each step right, the left
//!   subtree size + 1:  (1 + 1) at alice, 0 at dave  -> rank 2.
//! ```
//!
//! # Why a treap and not a skiplist
//!
//! Redis uses a skiplist whose forward links carry a "span" (how many nodes they jump), which
//! gives the same O(log n) rank queries and an O(1) backward pointer per node. In Rust a
//! skiplist in an arena needs a variable number of links per node (one `Vec` per node, or a
//! second pool of link slots with its own free list), and every insert and delete must fix the
//! spans on each level it crosses.
//!
//! A treap is a binary search tree whose nodes also carry a random priority, kept in heap order;
//! random priorities make its expected depth O(log n) whatever order the keys arrive in. Every
//! node has the same fixed size (two child indices, a subtree size, a priority), so the whole
//! tree is one `Vec<Node>` with a free list, indices instead of pointers, and no `unsafe`.
//! Its two primitives, *split* (cut a tree at a key or a rank) and *merge* (join two trees whose
//! keys do not overlap), make range removal (ZREMRANGEBYRANK/SCORE/LEX) O(log n + k): split out
//! the range, drop it, merge the two sides. Walking backwards costs an explicit stack in the
//! iterator instead of a back pointer, which is O(1) amortized per step as well. Priorities come
//! from a per-set generator seeded from the OS, so a client cannot choose members that unbalance
//! the tree.
//!
//! # Redis's listpack encoding
//!
//! Redis keeps small sorted sets (at most 128 members of at most 64 bytes) in a compact
//! "listpack", converts them to a skiplist once they outgrow that, and does not convert back
//! when they shrink (except in the commands that build a fresh result, such as ZUNIONSTORE).
//! Two things about the encoding reach a client: OBJECT ENCODING, and that a listpack stores a
//! score of -0 as the integer 0 (so `ZADD z -0 a` then `ZSCORE z a` says `0` for a small set but
//! `-0` for a big one). The set therefore remembers, in [`ZSet::is_listpack`], what Redis would
//! have, with the same sticky rule.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::ops::Range;

use bytes::Bytes;

use crate::kv::encoding;

/// "No node": the empty tree, a missing child.
const NIL: u32 = u32::MAX;

/// Free slots are compacted away once there are at least this many and they make up more than
/// half of the arena, so a set that grew large and then shrank gives its memory back.
const COMPACT_FREE_SLOTS_MIN: usize = 1024;

#[derive(Debug, Clone)]
struct Node {
    member: Bytes,
    score: f64,
    prio: u32,
    left: u32,
    right: u32,
    /// Number of nodes in the subtree rooted here, this one included.
    size: u32,
}

/// The order of the tree: by score, then by member bytes (memcmp order, shorter first on a
/// common prefix), exactly as Redis's skiplist. Scores are never NaN; -0 and 0 compare equal,
/// as they do in C.
fn cmp_key(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    if a_score < b_score {
        Ordering::Less
    } else if a_score > b_score {
        Ordering::Greater
    } else {
        a_member.cmp(b_member)
    }
}

/// Options of ZADD (and of every command built on it, such as GEOADD).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AddFlags {
    /// Only add new members.
    pub nx: bool,
    /// Only update existing members.
    pub xx: bool,
    /// Only update when the new score is greater than the current one.
    pub gt: bool,
    /// Only update when the new score is less than the current one.
    pub lt: bool,
    /// Add the score to the current one (0 for a new member).
    pub incr: bool,
}

/// What [`ZSet::add`] did. The scores are the score the member ended up with, as computed
/// (before the listpack's -0 normalisation; ZADD INCR replies this value).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    Added(f64),
    Updated(f64),
    /// The member exists and already had this score.
    Unchanged(f64),
    /// NX, XX, GT or LT prevented the operation.
    Skipped,
    /// The score (or the sum with INCR) is not a number; nothing changed.
    NotANumber,
}

/// A score interval as ZRANGEBYSCORE takes it: `(1.5` is exclusive, `-inf`/`+inf` unbounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub max: f64,
    pub min_exclusive: bool,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// The inclusive interval `[min, max]`.
    pub fn inclusive(min: f64, max: f64) -> Self {
        ScoreRange { min, max, min_exclusive: false, max_exclusive: false }
    }
    /// Whether `score` is not below the minimum (Redis's `zslValueGteMin`).
    pub fn above_min(&self, score: f64) -> bool {
        if self.min_exclusive {
            score > self.min
        } else {
            score >= self.min
        }
    }
    /// Whether `score` is not above the maximum (Redis's `zslValueLteMax`).
    pub fn below_max(&self, score: f64) -> bool {
        if self.max_exclusive {
            score < self.max
        } else {
            score <= self.max
        }
    }
}

/// One end of a lexicographic range: `-`, `+`, `[member` or `(member`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below every string.
    NegInf,
    /// `+`: above every string.
    PosInf,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

/// A member interval as ZRANGEBYLEX takes it. Like Redis, lexicographic ranges are only
/// meaningful when all members have the same score; otherwise the answer follows the tree's
/// (score, member) order and is merely well defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// Whether `member` is not below the minimum (Redis's `zslLexValueGteMin`).
    pub fn above_min(&self, member: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Inclusive(b) => member >= &b[..],
            LexBound::Exclusive(b) => member > &b[..],
        }
    }
    /// Whether `member` is not above the maximum (Redis's `zslLexValueLteMax`).
    pub fn below_max(&self, member: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(b) => member <= &b[..],
            LexBound::Exclusive(b) => member < &b[..],
        }
    }
}

/// A sorted set. See the module documentation for the layout.
#[derive(Debug, Clone)]
pub struct ZSet {
    scores: HashMap<Bytes, f64, ahash::RandomState>,
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    /// State of the xorshift generator that draws node priorities.
    rng: u64,
    /// Whether Redis would hold this set as a listpack (see the module documentation).
    listpack: bool,
}

impl Default for ZSet {
    fn default() -> Self {
        Self::new()
    }
}

impl ZSet {
    /// An empty set, encoded as Redis encodes a new small set (listpack).
    pub fn new() -> Self {
        ZSet {
            scores: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            root: NIL,
            rng: rand::random::<u64>() | 1,
            listpack: true,
        }
    }

    /// An empty set that Redis would create as a skiplist from the start (a ZUNIONSTORE result
    /// before [`ZSet::convert_to_listpack_if_fits`], a ZRANGESTORE of more than 128 members).
    pub fn new_skiplist() -> Self {
        ZSet { listpack: false, ..ZSet::new() }
    }

    pub fn len(&self) -> usize {
        self.scores.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scores.is_empty()
    }

    /// The longest member, in bytes (0 when empty). Walks the whole set.
    pub fn max_member_len(&self) -> usize {
        self.scores.keys().map(|m| m.len()).max().unwrap_or(0)
    }

    /// Whether Redis would currently hold this set as a listpack rather than a skiplist.
    pub fn is_listpack(&self) -> bool {
        self.listpack
    }

    /// Redis's `zsetConvertToListpackIfNeeded`: the commands that build a new set from scratch
    /// give it the compact encoding if it is small enough.
    pub fn convert_to_listpack_if_fits(&mut self) {
        if self.listpack
            || self.len() > encoding::zset_max_entries()
            || self.max_member_len() > encoding::zset_max_value()
        {
            return;
        }
        self.listpack = true;
        // A listpack stores an integral score as an integer, which turns -0 into 0.
        for n in self.nodes.iter_mut() {
            if n.score == 0.0 {
                n.score = 0.0;
            }
        }
        for s in self.scores.values_mut() {
            if *s == 0.0 {
                *s = 0.0;
            }
        }
    }

    // --------------------------------------------------------------------------------------
    // Point queries.
    // --------------------------------------------------------------------------------------

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.scores.get(member).copied()
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        self.scores.contains_key(member)
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        let mut t = self.root;
        let mut before = 0usize;
        while t != NIL {
            let n = &self.nodes[t as usize];
            match cmp_key(score, member, n.score, &n.member) {
                Ordering::Less => t = n.left,
                Ordering::Greater => {
                    before += self.size(n.left) + 1;
                    t = n.right;
                }
                Ordering::Equal => return Some(before + self.size(n.left)),
            }
        }
        None
    }

    /// The 0-based rank of `member` counting from the highest score.
    pub fn rev_rank(&self, member: &[u8]) -> Option<usize> {
        self.rank(member).map(|r| self.len() - 1 - r)
    }

    /// The member at `rank` (ascending, 0-based) and its score.
    pub fn get_by_rank(&self, rank: usize) -> Option<(&Bytes, f64)> {
        let t = self.node_at_rank(rank)?;
        let n = &self.nodes[t as usize];
        Some((&n.member, n.score))
    }

    pub fn first(&self) -> Option<(&Bytes, f64)> {
        self.get_by_rank(0)
    }

    pub fn last(&self) -> Option<(&Bytes, f64)> {
        self.len().checked_sub(1).and_then(|r| self.get_by_rank(r))
    }

    /// How many leading members (in rank order) satisfy `pred(score, member)`. `pred` must hold
    /// for a prefix of the order and fail for the rest (for example "score < 3").
    pub fn partition_point<F: Fn(f64, &[u8]) -> bool>(&self, pred: F) -> usize {
        let mut t = self.root;
        let mut count = 0usize;
        while t != NIL {
            let n = &self.nodes[t as usize];
            if pred(n.score, &n.member) {
                count += self.size(n.left) + 1;
                t = n.right;
            } else {
                t = n.left;
            }
        }
        count
    }

    /// The first rank whose score is >= `bound` (or > `bound` when `exclusive`); `len()` if
    /// none is.
    pub fn first_rank_with_score(&self, bound: f64, exclusive: bool) -> usize {
        if exclusive {
            self.partition_point(|s, _| s <= bound)
        } else {
            self.partition_point(|s, _| s < bound)
        }
    }

    /// The first rank whose member is >= `bound` (or > `bound` when `exclusive`), assuming all
    /// scores are equal as lexicographic commands do.
    pub fn first_rank_with_member(&self, bound: &[u8], exclusive: bool) -> usize {
        if exclusive {
            self.partition_point(|_, m| m <= bound)
        } else {
            self.partition_point(|_, m| m < bound)
        }
    }

    /// The ranks whose scores lie in `range` (empty if the range is empty or inverted).
    pub fn rank_range_by_score(&self, range: &ScoreRange) -> Range<usize> {
        let start = self.partition_point(|s, _| !range.above_min(s));
        let end = self.partition_point(|s, _| range.below_max(s));
        start..end.max(start)
    }

    /// The ranks whose members lie in `range` (see [`LexRange`] about mixed scores).
    pub fn rank_range_by_lex(&self, range: &LexRange) -> Range<usize> {
        let start = self.partition_point(|_, m| !range.above_min(m));
        let end = self.partition_point(|_, m| range.below_max(m));
        start..end.max(start)
    }

    // --------------------------------------------------------------------------------------
    // Iteration.
    // --------------------------------------------------------------------------------------

    /// All members in ascending order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0..self.len(), false)
    }

    /// The members with ranks in `ranks` (clamped to the set), ascending, or descending when
    /// `rev` (from `ranks.end - 1` down to `ranks.start`).
    pub fn range(&self, ranks: Range<usize>, rev: bool) -> Iter<'_> {
        let end = ranks.end.min(self.len());
        let start = ranks.start.min(end);
        if start == end {
            return Iter { set: self, stack: Vec::new(), rev, remaining: 0 };
        }
        let mut it = self.iter_from(if rev { end - 1 } else { start }, rev);
        it.remaining = end - start;
        it
    }

    /// Members from `rank` to the end (ascending) or to the start (descending, `rev`).
    pub fn iter_from(&self, rank: usize, rev: bool) -> Iter<'_> {
        let len = self.len();
        if rank >= len {
            return Iter { set: self, stack: Vec::new(), rev, remaining: 0 };
        }
        // Descend to `rank`, stacking the ancestors still to be visited in this direction:
        // those we leave to their left going forwards, to their right going backwards.
        let mut stack = Vec::new();
        let mut t = self.root;
        let mut k = rank;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match k.cmp(&ls) {
                Ordering::Less => {
                    if !rev {
                        stack.push(t);
                    }
                    t = n.left;
                }
                Ordering::Equal => {
                    stack.push(t);
                    break;
                }
                Ordering::Greater => {
                    if rev {
                        stack.push(t);
                    }
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
        let remaining = if rev { rank + 1 } else { len - rank };
        Iter { set: self, stack, rev, remaining }
    }

    // --------------------------------------------------------------------------------------
    // Updates.
    // --------------------------------------------------------------------------------------

    /// ZADD's logic for one member: applies the flags, then inserts or updates.
    pub fn add(&mut self, member: &[u8], score: f64, flags: AddFlags) -> AddOutcome {
        if score.is_nan() {
            return AddOutcome::NotANumber;
        }
        match self.score(member) {
            Some(cur) => {
                if flags.nx {
                    return AddOutcome::Skipped;
                }
                let mut score = score;
                if flags.incr {
                    score += cur;
                    if score.is_nan() {
                        return AddOutcome::NotANumber;
                    }
                }
                if (flags.lt && score >= cur) || (flags.gt && score <= cur) {
                    return AddOutcome::Skipped;
                }
                if score != cur {
                    self.insert(member, score);
                    AddOutcome::Updated(score)
                } else {
                    AddOutcome::Unchanged(score)
                }
            }
            None => {
                if flags.xx {
                    return AddOutcome::Skipped;
                }
                self.insert(member, score);
                AddOutcome::Added(score)
            }
        }
    }

    /// Sets `member`'s score, adding the member if needed. Returns the previous score. An equal
    /// score (0 and -0 are equal) leaves the member untouched, as in Redis. A NaN score is
    /// ignored: Redis never stores one, and callers reject it first.
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if score.is_nan() {
            return self.score(member);
        }
        if let Some(old) = self.score(member) {
            if old == score {
                return Some(old);
            }
            let score = self.stored_score(score);
            let root = self.root;
            let (root, t) = self.detach(root, old, member);
            self.root = root;
            if t != NIL {
                let n = &mut self.nodes[t as usize];
                n.score = score;
                n.left = NIL;
                n.right = NIL;
                n.size = 1;
                let root = self.root;
                self.root = self.insert_node(root, t);
            }
            if let Some(s) = self.scores.get_mut(member) {
                *s = score;
            }
            return Some(old);
        }
        if self.listpack && (self.len() + 1 > encoding::zset_max_entries() || member.len() > encoding::zset_max_value())
        {
            self.listpack = false;
        }
        let score = self.stored_score(score);
        // Copy the member: the caller's bytes are often a slice of a whole network buffer,
        // which a long-lived reference would keep alive.
        let member = Bytes::copy_from_slice(member);
        let t = self.alloc(member.clone(), score);
        let root = self.root;
        self.root = self.insert_node(root, t);
        self.scores.insert(member, score);
        None
    }

    /// Removes `member`; returns its score if it was present.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let score = self.scores.remove(member)?;
        let root = self.root;
        let (root, t) = self.detach(root, score, member);
        self.root = root;
        if t != NIL {
            self.free_node(t);
        }
        self.after_removal();
        Some(score)
    }

    /// Removes the members with ranks in `ranks` (clamped); returns how many were removed.
    pub fn remove_range(&mut self, ranks: Range<usize>) -> usize {
        let end = ranks.end.min(self.len());
        let start = ranks.start.min(end);
        if start == end {
            return 0;
        }
        let root = self.root;
        let (left, rest) = self.split_rank(root, start);
        let (middle, right) = self.split_rank(rest, end - start);
        // Free the cut-out subtree.
        let mut stack = vec![middle];
        let mut removed = 0;
        while let Some(t) = stack.pop() {
            if t == NIL {
                continue;
            }
            let (l, r) = (self.nodes[t as usize].left, self.nodes[t as usize].right);
            stack.push(l);
            stack.push(r);
            let member = std::mem::take(&mut self.nodes[t as usize].member);
            self.scores.remove(&member);
            self.free.push(t);
            removed += 1;
        }
        self.root = self.merge(left, right);
        self.after_removal();
        removed
    }

    /// Removes and returns the member with the lowest score.
    pub fn pop_first(&mut self) -> Option<(Bytes, f64)> {
        let (m, s) = self.first().map(|(m, s)| (m.clone(), s))?;
        self.remove(&m);
        Some((m, s))
    }

    /// Removes and returns the member with the highest score.
    pub fn pop_last(&mut self) -> Option<(Bytes, f64)> {
        let (m, s) = self.last().map(|(m, s)| (m.clone(), s))?;
        self.remove(&m);
        Some((m, s))
    }

    // --------------------------------------------------------------------------------------
    // The treap.
    // --------------------------------------------------------------------------------------

    /// The score as this encoding stores it: a listpack turns -0 into the integer 0.
    fn stored_score(&self, score: f64) -> f64 {
        if self.listpack && score == 0.0 {
            0.0
        } else {
            score
        }
    }

    fn size(&self, t: u32) -> usize {
        if t == NIL {
            0
        } else {
            self.nodes[t as usize].size as usize
        }
    }

    fn update_size(&mut self, t: u32) {
        let n = &self.nodes[t as usize];
        let size = 1 + self.size(n.left) + self.size(n.right);
        self.nodes[t as usize].size = size as u32;
    }

    fn next_prio(&mut self) -> u32 {
        // xorshift64*: fast, and good enough to keep the tree balanced.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32) as u32
    }

    fn alloc(&mut self, member: Bytes, score: f64) -> u32 {
        let prio = self.next_prio();
        let node = Node { member, score, prio, left: NIL, right: NIL, size: 1 };
        match self.free.pop() {
            Some(t) => {
                self.nodes[t as usize] = node;
                t
            }
            None => {
                // A u32 index allows four billion members, far beyond what fits in memory.
                let t = u32::try_from(self.nodes.len()).expect("sorted set arena index fits in u32");
                self.nodes.push(node);
                t
            }
        }
    }

    fn free_node(&mut self, t: u32) {
        self.nodes[t as usize].member = Bytes::new();
        self.free.push(t);
    }

    fn node_at_rank(&self, rank: usize) -> Option<u32> {
        let mut t = self.root;
        let mut k = rank;
        while t != NIL {
            let n = &self.nodes[t as usize];
            let ls = self.size(n.left);
            match k.cmp(&ls) {
                Ordering::Less => t = n.left,
                Ordering::Equal => return Some(t),
                Ordering::Greater => {
                    k -= ls + 1;
                    t = n.right;
                }
            }
        }
        None
    }

    /// Inserts the detached node `n` into the tree rooted at `t`; returns the new root.
    fn insert_node(&mut self, t: u32, n: u32) -> u32 {
        if t == NIL {
            return n;
        }
        if self.nodes[n as usize].prio > self.nodes[t as usize].prio {
            let (score, member) = (self.nodes[n as usize].score, self.nodes[n as usize].member.clone());
            let (l, r) = self.split_key(t, score, &member);
            let node = &mut self.nodes[n as usize];
            node.left = l;
            node.right = r;
            self.update_size(n);
            return n;
        }
        let (ns, nm) = (self.nodes[n as usize].score, self.nodes[n as usize].member.clone());
        let tn = &self.nodes[t as usize];
        if cmp_key(ns, &nm, tn.score, &tn.member) == Ordering::Less {
            let l = self.insert_node(tn.left, n);
            self.nodes[t as usize].left = l;
        } else {
            let r = self.insert_node(tn.right, n);
            self.nodes[t as usize].right = r;
        }
        self.update_size(t);
        t
    }

    /// Unlinks the node with key (score, member) from the tree rooted at `t`. Returns the new
    /// root and the unlinked node (NIL if absent).
    fn detach(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        match cmp_key(score, member, n.score, &n.member) {
            Ordering::Less => {
                let (l, found) = self.detach(n.left, score, member);
                self.nodes[t as usize].left = l;
                self.update_size(t);
                (t, found)
            }
            Ordering::Greater => {
                let (r, found) = self.detach(n.right, score, member);
                self.nodes[t as usize].right = r;
                self.update_size(t);
                (t, found)
            }
            Ordering::Equal => {
                let (l, r) = (n.left, n.right);
                (self.merge(l, r), t)
            }
        }
    }

    /// Splits into (keys < (score, member), keys >= (score, member)).
    fn split_key(&mut self, t: u32, score: f64, member: &[u8]) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        if cmp_key(n.score, &n.member, score, member) == Ordering::Less {
            let (a, b) = self.split_key(n.right, score, member);
            self.nodes[t as usize].right = a;
            self.update_size(t);
            (t, b)
        } else {
            let (a, b) = self.split_key(n.left, score, member);
            self.nodes[t as usize].left = b;
            self.update_size(t);
            (a, t)
        }
    }

    /// Splits into (the first `k` nodes, the rest).
    fn split_rank(&mut self, t: u32, k: usize) -> (u32, u32) {
        if t == NIL {
            return (NIL, NIL);
        }
        let n = &self.nodes[t as usize];
        let ls = self.size(n.left);
        if k <= ls {
            let (a, b) = self.split_rank(n.left, k);
            self.nodes[t as usize].left = b;
            self.update_size(t);
            (a, t)
        } else {
            let (a, b) = self.split_rank(n.right, k - ls - 1);
            self.nodes[t as usize].right = a;
            self.update_size(t);
            (t, b)
        }
    }

    /// Joins two trees where every key of `a` is below every key of `b`.
    fn merge(&mut self, a: u32, b: u32) -> u32 {
        if a == NIL {
            return b;
        }
        if b == NIL {
            return a;
        }
        if self.nodes[a as usize].prio > self.nodes[b as usize].prio {
            let r = self.merge(self.nodes[a as usize].right, b);
            self.nodes[a as usize].right = r;
            self.update_size(a);
            a
        } else {
            let l = self.merge(a, self.nodes[b as usize].left);
            self.nodes[b as usize].left = l;
            self.update_size(b);
            b
        }
    }

    /// Releases memory after removals: all of it when the set is empty, the free slots when
    /// they dominate the arena.
    fn after_removal(&mut self) {
        if self.scores.is_empty() {
            self.nodes = Vec::new();
            self.free = Vec::new();
            self.root = NIL;
            self.scores = HashMap::default();
            return;
        }
        if self.free.len() >= COMPACT_FREE_SLOTS_MIN && self.free.len() * 2 > self.nodes.len() {
            self.compact();
        }
    }

    /// Rebuilds the arena without free slots. The tree keeps its shape: the nodes, in order and
    /// with their priorities, determine it (a Cartesian tree), built here in one pass.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.nodes);
        let mut order = Vec::with_capacity(self.scores.len());
        let mut stack = Vec::new();
        let mut t = self.root;
        loop {
            while t != NIL {
                stack.push(t);
                t = old[t as usize].left;
            }
            let Some(top) = stack.pop() else { break };
            order.push(top);
            t = old[top as usize].right;
        }
        let mut old = old;
        let mut nodes: Vec<Node> = Vec::with_capacity(order.len());
        // `spine` holds the right spine of the tree built so far (priorities decreasing).
        let mut spine: Vec<u32> = Vec::new();
        for (i, &o) in order.iter().enumerate() {
            let src = &mut old[o as usize];
            let i = i as u32;
            nodes.push(Node {
                member: std::mem::take(&mut src.member),
                score: src.score,
                prio: src.prio,
                left: NIL,
                right: NIL,
                size: 1,
            });
            let mut last = NIL;
            while let Some(&top) = spine.last() {
                if nodes[top as usize].prio < nodes[i as usize].prio {
                    last = top;
                    spine.pop();
                } else {
                    break;
                }
            }
            nodes[i as usize].left = last;
            if let Some(&top) = spine.last() {
                nodes[top as usize].right = i;
            }
            spine.push(i);
        }
        self.nodes = nodes;
        self.free = Vec::new();
        self.root = spine.first().copied().unwrap_or(NIL);
        // Sizes, children before parents: a post-order walk.
        let mut post = Vec::with_capacity(self.nodes.len());
        let mut stack = vec![self.root];
        while let Some(t) = stack.pop() {
            if t == NIL {
                continue;
            }
            post.push(t);
            stack.push(self.nodes[t as usize].left);
            stack.push(self.nodes[t as usize].right);
        }
        for &t in post.iter().rev() {
            self.update_size(t);
        }
        self.scores.shrink_to_fit();
    }
}

/// An in-order walk over a rank range, forwards or backwards.
pub struct Iter<'a> {
    set: &'a ZSet,
    stack: Vec<u32>,
    rev: bool,
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Bytes, f64);

    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        let t = self.stack.pop()?;
        self.remaining -= 1;
        let nodes = &self.set.nodes;
        let n = &nodes[t as usize];
        // The next node is the extreme of the subtree on the far side of `n`.
        let mut c = if self.rev { n.left } else { n.right };
        while c != NIL {
            self.stack.push(c);
            c = if self.rev { nodes[c as usize].right } else { nodes[c as usize].left };
        }
        Some((&n.member, n.score))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    fn collect(it: Iter<'_>) -> Vec<(Vec<u8>, f64)> {
        it.map(|(m, s)| (m.to_vec(), s)).collect()
    }

    /// Checks every structural invariant: sizes, search order, heap order, map agreement.
    fn check(z: &ZSet) {
        fn walk(z: &ZSet, t: u32, out: &mut Vec<u32>) -> usize {
            if t == NIL {
                return 0;
            }
            let n = &z.nodes[t as usize];
            for c in [n.left, n.right] {
                if c != NIL {
                    assert!(z.nodes[c as usize].prio <= n.prio, "heap order");
                }
            }
            let l = walk(z, n.left, out);
            out.push(t);
            let r = walk(z, n.right, out);
            assert_eq!(n.size as usize, l + r + 1, "subtree size");
            l + r + 1
        }
        let mut order = Vec::new();
        let total = walk(z, z.root, &mut order);
        assert_eq!(total, z.len());
        for w in order.windows(2) {
            let (a, c) = (&z.nodes[w[0] as usize], &z.nodes[w[1] as usize]);
            assert_eq!(cmp_key(a.score, &a.member, c.score, &c.member), Ordering::Less);
        }
        for &t in &order {
            let n = &z.nodes[t as usize];
            assert_eq!(z.scores.get(&n.member).copied().map(f64::to_bits), Some(n.score.to_bits()));
        }
    }

    #[test]
    fn basic_order_rank_and_ranges() {
        let mut z = ZSet::new();
        for (s, m) in [(3.0, "alice"), (1.0, "bob"), (3.0, "carol"), (7.0, "dave")] {
            assert_eq!(z.insert(m.as_bytes(), s), None);
        }
        check(&z);
        assert_eq!(z.rank(b"carol"), Some(2));
        assert_eq!(z.rev_rank(b"carol"), Some(1));
        assert_eq!(z.rank(b"nobody"), None);
        assert_eq!(z.get_by_rank(0).map(|(m, s)| (m.clone(), s)), Some((b("bob"), 1.0)));
        assert_eq!(collect(z.range(1..3, false)), vec![(b"alice".to_vec(), 3.0), (b"carol".to_vec(), 3.0)]);
        assert_eq!(collect(z.range(1..3, true)), vec![(b"carol".to_vec(), 3.0), (b"alice".to_vec(), 3.0)]);
        assert_eq!(z.first_rank_with_score(3.0, false), 1);
        assert_eq!(z.first_rank_with_score(3.0, true), 3);
        assert_eq!(z.rank_range_by_score(&ScoreRange::inclusive(2.0, 7.0)), 1..4);
        let excl = ScoreRange { min: 3.0, max: 7.0, min_exclusive: true, max_exclusive: true };
        assert_eq!(z.rank_range_by_score(&excl), 3..3);
        assert!(z.rank_range_by_score(&ScoreRange::inclusive(5.0, 1.0)).is_empty());
        // Updating moves the member.
        assert_eq!(z.insert(b"bob", 10.0), Some(1.0));
        check(&z);
        assert_eq!(z.rank(b"bob"), Some(3));
        assert_eq!(z.pop_first().map(|(m, _)| m), Some(b("alice")));
        assert_eq!(z.pop_last(), Some((b("bob"), 10.0)));
        assert_eq!(z.len(), 2);
        check(&z);
    }

    #[test]
    fn lex_ranges() {
        let mut z = ZSet::new();
        for m in ["a", "b", "c", "d", "e"] {
            z.insert(m.as_bytes(), 0.0);
        }
        let r = LexRange { min: LexBound::Exclusive(b("a")), max: LexBound::Inclusive(b("c")) };
        assert_eq!(z.rank_range_by_lex(&r), 1..3);
        let all = LexRange { min: LexBound::NegInf, max: LexBound::PosInf };
        assert_eq!(z.rank_range_by_lex(&all), 0..5);
        let none = LexRange { min: LexBound::PosInf, max: LexBound::NegInf };
        assert_eq!(z.rank_range_by_lex(&none), 5..5);
        assert_eq!(z.first_rank_with_member(b"c", false), 2);
        assert_eq!(z.first_rank_with_member(b"c", true), 3);
    }

    #[test]
    fn add_flags_follow_zadd() {
        let mut z = ZSet::new();
        let f = AddFlags::default();
        assert_eq!(z.add(b"a", 1.0, f), AddOutcome::Added(1.0));
        assert_eq!(z.add(b"a", 1.0, f), AddOutcome::Unchanged(1.0));
        assert_eq!(z.add(b"a", 2.0, AddFlags { nx: true, ..f }), AddOutcome::Skipped);
        assert_eq!(z.add(b"b", 2.0, AddFlags { xx: true, ..f }), AddOutcome::Skipped);
        assert_eq!(z.add(b"a", 0.5, AddFlags { gt: true, ..f }), AddOutcome::Skipped);
        assert_eq!(z.add(b"a", 5.0, AddFlags { gt: true, ..f }), AddOutcome::Updated(5.0));
        assert_eq!(z.add(b"a", 2.0, AddFlags { incr: true, ..f }), AddOutcome::Updated(7.0));
        assert_eq!(z.add(b"a", f64::NEG_INFINITY, f), AddOutcome::Updated(f64::NEG_INFINITY));
        assert_eq!(z.add(b"a", f64::INFINITY, AddFlags { incr: true, ..f }), AddOutcome::NotANumber);
        assert_eq!(z.add(b"a", f64::NAN, f), AddOutcome::NotANumber);
        assert_eq!(z.score(b"a"), Some(f64::NEG_INFINITY));
        assert!(!z.contains(b"b"));
    }

    #[test]
    fn listpack_encoding_and_negative_zero() {
        let mut z = ZSet::new();
        z.insert(b"a", -0.0);
        assert!(z.is_listpack());
        assert!(z.score(b"a").is_some_and(|s| s.is_sign_positive()));
        z.insert(&[b'x'; 65], 1.0);
        assert!(!z.is_listpack());
        z.insert(b"b", -0.0);
        assert!(z.score(b"b").is_some_and(|s| s.is_sign_negative()));
        z.remove(&[b'x'; 65]);
        assert!(!z.is_listpack(), "Redis does not convert back on removal");
        z.convert_to_listpack_if_fits();
        assert!(z.is_listpack());
        assert!(z.score(b"b").is_some_and(|s| s.is_sign_positive()));
        let mut big = ZSet::new();
        for i in 0..=encoding::zset_max_entries() {
            big.insert(i.to_string().as_bytes(), i as f64);
        }
        assert!(!big.is_listpack());
        assert_eq!(big.max_member_len(), 3);
    }

    #[test]
    fn remove_range_and_compaction() {
        let mut z = ZSet::new();
        for i in 0..5000 {
            z.insert(format!("m{i:05}").as_bytes(), i as f64);
        }
        assert_eq!(z.remove_range(10..4990), 4980);
        check(&z);
        assert!(z.free.is_empty(), "compacted");
        assert_eq!(z.len(), 20);
        assert_eq!(z.rank(b"m04990"), Some(10));
        assert_eq!(z.remove_range(5..100), 15);
        assert_eq!(z.remove_range(0..5), 5);
        assert!(z.is_empty());
        assert!(z.nodes.is_empty());
        assert_eq!(z.remove_range(0..5), 0);
        assert!(z.pop_first().is_none());
    }

    /// Random operations against a naive sorted vector.
    #[test]
    fn randomized_against_sorted_vec() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for round in 0..20 {
            let mut z = ZSet::new();
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            let key_space = if round % 2 == 0 { 50 } else { 2000 };
            for step in 0..3000 {
                let m = format!("k{}", rng.gen_range(0..key_space)).into_bytes();
                let score = match rng.gen_range(0..10) {
                    0 => 0.0,
                    1 => -0.0,
                    2 => f64::INFINITY,
                    _ => rng.gen_range(-20..20) as f64 / 2.0,
                };
                match rng.gen_range(0..10) {
                    0..=4 => {
                        let old = model.iter().position(|(_, x)| *x == m);
                        let prev = old.map(|i| model[i].0);
                        assert_eq!(z.insert(&m, score).map(f64::to_bits), prev.map(f64::to_bits));
                        // A listpack stores -0 as 0 (the flag after the insert is the one that
                        // applied to it).
                        let score = if z.is_listpack() && score == 0.0 { 0.0 } else { score };
                        if let Some(i) = old {
                            if model[i].0 != score {
                                model.remove(i);
                                model.push((score, m.clone()));
                            }
                        } else {
                            model.push((score, m.clone()));
                        }
                    }
                    5 | 6 => {
                        let old = model.iter().position(|(_, x)| *x == m);
                        assert_eq!(z.remove(&m).is_some(), old.is_some());
                        if let Some(i) = old {
                            model.remove(i);
                        }
                    }
                    7 => {
                        let a = rng.gen_range(0..=model.len() + 2);
                        let c = rng.gen_range(0..=model.len() + 2);
                        let (lo, hi) = (a.min(c), a.max(c));
                        let hi_m = hi.min(model.len());
                        let lo_m = lo.min(hi_m);
                        model.sort_by(|x, y| cmp_key(x.0, &x.1, y.0, &y.1));
                        model.drain(lo_m..hi_m);
                        assert_eq!(z.remove_range(lo..hi), hi_m - lo_m);
                    }
                    8 => {
                        model.sort_by(|x, y| cmp_key(x.0, &x.1, y.0, &y.1));
                        if rng.gen_bool(0.5) {
                            let got = z.pop_first().map(|(m, s)| (s, m.to_vec()));
                            let want = if model.is_empty() { None } else { Some(model.remove(0)) };
                            assert_eq!(got, want);
                        } else {
                            assert_eq!(z.pop_last().map(|(m, s)| (s, m.to_vec())), model.pop());
                        }
                    }
                    _ => {}
                }
                model.sort_by(|x, y| cmp_key(x.0, &x.1, y.0, &y.1));
                assert_eq!(z.len(), model.len());
                if step % 97 == 0 {
                    check(&z);
                }
                // Queries.
                if !model.is_empty() {
                    let r = rng.gen_range(0..model.len());
                    let (s, m) = &model[r];
                    assert_eq!(z.rank(m), Some(r));
                    assert_eq!(z.get_by_rank(r).map(|(mm, ss)| (ss, mm.to_vec())), Some((*s, m.clone())));
                    let lo = rng.gen_range(0..=model.len());
                    let hi = rng.gen_range(lo..=model.len());
                    let fwd: Vec<(f64, Vec<u8>)> = z.range(lo..hi, false).map(|(m, s)| (s, m.to_vec())).collect();
                    assert_eq!(fwd, model[lo..hi].to_vec());
                    let back: Vec<(f64, Vec<u8>)> = z.range(lo..hi, true).map(|(m, s)| (s, m.to_vec())).collect();
                    let mut want = model[lo..hi].to_vec();
                    want.reverse();
                    assert_eq!(back, want);
                    let bound = rng.gen_range(-22..22) as f64 / 2.0;
                    let ex = rng.gen_bool(0.5);
                    let want = model.iter().take_while(|(s, _)| if ex { *s <= bound } else { *s < bound }).count();
                    assert_eq!(z.first_rank_with_score(bound, ex), want);
                    let range = ScoreRange { min: bound, max: bound + 3.0, min_exclusive: ex, max_exclusive: !ex };
                    let want: Vec<usize> = (0..model.len())
                        .filter(|&i| range.above_min(model[i].0) && range.below_max(model[i].0))
                        .collect();
                    let got = z.rank_range_by_score(&range);
                    assert_eq!(got.clone().collect::<Vec<_>>(), want);
                }
            }
            check(&z);
        }
    }
}
