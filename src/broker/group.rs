//! The group coordinator: Kafka's classic consumer-group protocol as a state machine.
//!
//! ```text
//!            first JoinGroup                       every known member joined
//!   Empty ───────────────────▶ PreparingRebalance ─────────────────────────▶ CompletingRebalance
//!     ▲   (initial delay lets      │  ▲    (or the rebalance timeout passed:      │
//!     │    more members arrive)    │  │     the stragglers are removed)           │ the leader's
//!     │                            │  │ a member joins, leaves or                 │ SyncGroup
//!     │ last member gone           │  │ misses its session timeout                ▼
//!     └────────────────────────────┴──┴─────────────────────────────────────── Stable
//! ```
//!
//! * JoinGroup (v4+) with an empty member id is answered at once with MEMBER_ID_REQUIRED and a
//!   fresh id; the client joins again with it. A join is then parked until the round completes:
//!   generation + 1, the protocol chosen by vote among those every member supports, the leader
//!   (the first member) gets every member's metadata, the others an empty list.
//! * SyncGroup from followers is parked until the leader sends the assignments; then every
//!   member gets its own bytes and the group is Stable. The broker never reads those bytes.
//! * Heartbeat answers REBALANCE_IN_PROGRESS while a rebalance is being prepared, which is how
//!   members learn they must join again; a stale generation gets ILLEGAL_GENERATION, an unknown
//!   member UNKNOWN_MEMBER_ID.
//! * Time is a parameter: [`Coordinator::tick`] expires members whose session timed out and
//!   completes rounds whose deadline passed, so the state machine is tested without sleeping.
//!
//! Committed offsets are kept apart from membership, in [`OffsetStore`]: a durable log of
//! commits (Kafka's `__consumer_offsets`), replayed at start-up.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use bytes::Bytes;
use tokio::sync::oneshot;

pub mod code {
    pub const NONE: i16 = 0;
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
    pub const INVALID_GROUP_ID: i16 = 24;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const INVALID_SESSION_TIMEOUT: i16 = 26;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const GROUP_ID_NOT_FOUND: i16 = 69;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
}

/// Kafka's `group.min.session.timeout.ms` and `group.max.session.timeout.ms`.
pub const SESSION_TIMEOUT_MS_MIN: i32 = 6_000;
pub const SESSION_TIMEOUT_MS_MAX: i32 = 1_800_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Empty,
    PreparingRebalance,
    CompletingRebalance,
    Stable,
}

impl State {
    /// The name DescribeGroups and ListGroups report.
    pub fn name(self) -> &'static str {
        match self {
            State::Empty => "Empty",
            State::PreparingRebalance => "PreparingRebalance",
            State::CompletingRebalance => "CompletingRebalance",
            State::Stable => "Stable",
        }
    }
}

/// What a parked (or immediate) JoinGroup gets.
#[derive(Debug, Clone, Default)]
pub struct JoinResult {
    pub error: i16,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: String,
    pub member_id: String,
    /// Only for the leader: every member's id and metadata for the chosen protocol.
    pub members: Vec<(String, Bytes)>,
}

#[derive(Debug, Clone, Default)]
pub struct SyncResult {
    pub error: i16,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub assignment: Bytes,
}

pub struct Member {
    pub id: String,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// The protocols it supports, in its order of preference, with its metadata for each.
    pub protocols: Vec<(String, Bytes)>,
    pub assignment: Bytes,
    last_seen_ms: i64,
    joined: Option<oneshot::Sender<JoinResult>>,
    syncing: Option<oneshot::Sender<SyncResult>>,
}

pub struct Group {
    pub state: State,
    pub generation: i32,
    pub protocol_type: Option<String>,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// In join order: the first is the leader when a new one must be picked.
    pub members: Vec<Member>,
    /// Ids handed out with MEMBER_ID_REQUIRED, not yet used, and when they expire.
    pending: HashMap<String, i64>,
    /// When the round being prepared completes even if some members have not joined.
    deadline_ms: i64,
}

impl Group {
    fn new() -> Group {
        Group {
            state: State::Empty,
            generation: 0,
            protocol_type: None,
            protocol: None,
            leader: None,
            members: Vec::new(),
            pending: HashMap::new(),
            deadline_ms: 0,
        }
    }

    fn member(&mut self, id: &str) -> Option<&mut Member> {
        self.members.iter_mut().find(|m| m.id == id)
    }

    fn rebalance_timeout_ms(&self) -> i64 {
        self.members.iter().map(|m| m.rebalance_timeout_ms as i64).max().unwrap_or(0)
    }
}

/// Everything a JoinGroup carries that the coordinator needs.
pub struct JoinRequest {
    pub group: String,
    pub member_id: String,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    pub protocol_type: String,
    pub protocols: Vec<(String, Bytes)>,
    /// v4+: an empty member id is answered with MEMBER_ID_REQUIRED.
    pub require_known_member_id: bool,
}

pub struct Coordinator {
    pub groups: BTreeMap<String, Group>,
    /// `group.initial.rebalance.delay.ms`: how long the first round of an empty group waits for
    /// more members before completing.
    pub initial_rebalance_delay_ms: i64,
    next_member: u64,
}

impl Coordinator {
    pub fn new(initial_rebalance_delay_ms: i64) -> Coordinator {
        Coordinator { groups: BTreeMap::new(), initial_rebalance_delay_ms, next_member: 0 }
    }

    /// JoinGroup. Returns a receiver that yields the result when the round completes (at once for
    /// errors and MEMBER_ID_REQUIRED).
    pub fn join(&mut self, req: JoinRequest, now_ms: i64) -> oneshot::Receiver<JoinResult> {
        let (tx, rx) = oneshot::channel();
        let fail = |tx: oneshot::Sender<JoinResult>, error: i16, member_id: &str| {
            let _ =
                tx.send(JoinResult { error, generation: -1, member_id: member_id.to_string(), ..Default::default() });
        };
        if req.group.is_empty() {
            fail(tx, code::INVALID_GROUP_ID, &req.member_id);
            return rx;
        }
        if !(SESSION_TIMEOUT_MS_MIN..=SESSION_TIMEOUT_MS_MAX).contains(&req.session_timeout_ms) {
            fail(tx, code::INVALID_SESSION_TIMEOUT, &req.member_id);
            return rx;
        }
        let group = self.groups.entry(req.group.clone()).or_insert_with(Group::new);
        // Every member must speak the group's protocol type and share a protocol with the rest.
        let consistent = req.protocol_type.is_empty() == false
            && !req.protocols.is_empty()
            && (group.members.is_empty()
                || (group.protocol_type.as_deref() == Some(req.protocol_type.as_str())
                    && req.protocols.iter().any(|(p, _)| {
                        group
                            .members
                            .iter()
                            .filter(|m| m.id != req.member_id)
                            .all(|m| m.protocols.iter().any(|(q, _)| q == p))
                    })));
        if !consistent {
            fail(tx, code::INCONSISTENT_GROUP_PROTOCOL, &req.member_id);
            return rx;
        }
        let mut member_id = req.member_id.clone();
        if member_id.is_empty() {
            self.next_member += 1;
            member_id = format!("{}-{:08x}-{}", req.client_id, rand::random::<u32>(), self.next_member);
            if req.require_known_member_id {
                group.pending.insert(member_id.clone(), now_ms + req.session_timeout_ms as i64);
                fail(tx, code::MEMBER_ID_REQUIRED, &member_id);
                return rx;
            }
        } else if group.member(&member_id).is_none() && group.pending.remove(&member_id).is_none() {
            fail(tx, code::UNKNOWN_MEMBER_ID, &member_id);
            return rx;
        }
        group.pending.remove(&member_id);
        if group.members.is_empty() {
            group.protocol_type = Some(req.protocol_type.clone());
        }
        let existing = group.member(&member_id).is_some();
        let changed = match group.member(&member_id) {
            Some(m) => {
                let changed = m.protocols != req.protocols;
                m.protocols = req.protocols;
                m.session_timeout_ms = req.session_timeout_ms;
                m.rebalance_timeout_ms = req.rebalance_timeout_ms;
                m.last_seen_ms = now_ms;
                m.joined = Some(tx);
                changed
            }
            None => {
                group.members.push(Member {
                    id: member_id.clone(),
                    client_id: req.client_id,
                    client_host: req.client_host,
                    session_timeout_ms: req.session_timeout_ms,
                    rebalance_timeout_ms: req.rebalance_timeout_ms,
                    protocols: req.protocols,
                    assignment: Bytes::new(),
                    last_seen_ms: now_ms,
                    joined: Some(tx),
                    syncing: None,
                });
                true
            }
        };
        match group.state {
            State::Empty => {
                group.state = State::PreparingRebalance;
                group.deadline_ms = now_ms + self.initial_rebalance_delay_ms;
                tracing::info!(group = %req.group, member = %member_id, "first member joined; rebalance in {} ms", self.initial_rebalance_delay_ms);
            }
            State::PreparingRebalance => {}
            State::Stable | State::CompletingRebalance => {
                // A known member joining again with the same protocols in CompletingRebalance or
                // Stable just gets the current generation back (Kafka does the same).
                if existing && !changed && group.state == State::Stable {
                    let leader = group.leader.clone().unwrap_or_default();
                    let result = JoinResult {
                        error: code::NONE,
                        generation: group.generation,
                        protocol_type: group.protocol_type.clone(),
                        protocol: group.protocol.clone(),
                        leader: leader.clone(),
                        member_id: member_id.clone(),
                        members: if leader == member_id { member_list(group) } else { Vec::new() },
                    };
                    if let Some(tx) = group.member(&member_id).and_then(|m| m.joined.take()) {
                        let _ = tx.send(result);
                    }
                    return rx;
                }
                start_rebalance(group, &req.group, now_ms, "member joined");
            }
        }
        try_complete_join(group, &req.group, now_ms);
        rx
    }

    /// SyncGroup. The leader's call carries the assignments; the others wait for it.
    pub fn sync(
        &mut self,
        group_id: &str,
        generation: i32,
        member_id: &str,
        assignments: Vec<(String, Bytes)>,
        now_ms: i64,
    ) -> oneshot::Receiver<SyncResult> {
        let (tx, rx) = oneshot::channel();
        let fail = |tx: oneshot::Sender<SyncResult>, error: i16| {
            let _ = tx.send(SyncResult { error, ..Default::default() });
        };
        let Some(group) = self.groups.get_mut(group_id) else {
            fail(tx, code::UNKNOWN_MEMBER_ID);
            return rx;
        };
        let Some(m) = group.member(member_id) else {
            fail(tx, code::UNKNOWN_MEMBER_ID);
            return rx;
        };
        m.last_seen_ms = now_ms;
        if generation != group.generation {
            fail(tx, code::ILLEGAL_GENERATION);
            return rx;
        }
        match group.state {
            State::Empty | State::PreparingRebalance => fail(tx, code::REBALANCE_IN_PROGRESS),
            State::Stable => {
                let a = group.member(member_id).map(|m| m.assignment.clone()).unwrap_or_default();
                let _ = tx.send(SyncResult {
                    error: code::NONE,
                    protocol_type: group.protocol_type.clone(),
                    protocol: group.protocol.clone(),
                    assignment: a,
                });
            }
            State::CompletingRebalance => {
                if let Some(m) = group.member(member_id) {
                    m.syncing = Some(tx);
                }
                if group.leader.as_deref() == Some(member_id) {
                    for m in group.members.iter_mut() {
                        m.assignment =
                            assignments.iter().find(|(id, _)| *id == m.id).map(|(_, a)| a.clone()).unwrap_or_default();
                    }
                    group.state = State::Stable;
                    tracing::info!(
                        group = group_id,
                        generation = group.generation,
                        "stable with {} member(s)",
                        group.members.len()
                    );
                    let (pt, p) = (group.protocol_type.clone(), group.protocol.clone());
                    for m in group.members.iter_mut() {
                        if let Some(tx) = m.syncing.take() {
                            let _ = tx.send(SyncResult {
                                error: code::NONE,
                                protocol_type: pt.clone(),
                                protocol: p.clone(),
                                assignment: m.assignment.clone(),
                            });
                        }
                    }
                }
            }
        }
        rx
    }

    /// Heartbeat.
    pub fn heartbeat(&mut self, group_id: &str, generation: i32, member_id: &str, now_ms: i64) -> i16 {
        let Some(group) = self.groups.get_mut(group_id) else { return code::UNKNOWN_MEMBER_ID };
        let state = group.state;
        let current = group.generation;
        let Some(m) = group.member(member_id) else { return code::UNKNOWN_MEMBER_ID };
        m.last_seen_ms = now_ms;
        if generation != current {
            return code::ILLEGAL_GENERATION;
        }
        match state {
            State::PreparingRebalance => code::REBALANCE_IN_PROGRESS,
            _ => code::NONE,
        }
    }

    /// LeaveGroup for one member; the rest rebalance.
    pub fn leave(&mut self, group_id: &str, member_id: &str, now_ms: i64) -> i16 {
        let Some(group) = self.groups.get_mut(group_id) else { return code::UNKNOWN_MEMBER_ID };
        if group.pending.remove(member_id).is_some() {
            return code::NONE;
        }
        let Some(i) = group.members.iter().position(|m| m.id == member_id) else { return code::UNKNOWN_MEMBER_ID };
        let m = group.members.remove(i);
        tracing::info!(group = group_id, member = %m.id, "member left");
        if let Some(tx) = m.joined {
            let _ = tx.send(JoinResult { error: code::UNKNOWN_MEMBER_ID, generation: -1, ..Default::default() });
        }
        member_gone(group, group_id, now_ms);
        code::NONE
    }

    /// Advances time: members silent past their session timeout are removed, unused member ids
    /// expire, and rounds whose deadline passed complete.
    pub fn tick(&mut self, now_ms: i64) {
        for (id, group) in self.groups.iter_mut() {
            group.pending.retain(|_, until| *until > now_ms);
            // A member parked in JoinGroup is waiting for us, not silent.
            let expired: Vec<String> = group
                .members
                .iter()
                .filter(|m| m.joined.is_none() && now_ms - m.last_seen_ms > m.session_timeout_ms as i64)
                .map(|m| m.id.clone())
                .collect();
            for mid in expired {
                tracing::info!(group = %id, member = %mid, "session timed out");
                if let Some(i) = group.members.iter().position(|m| m.id == mid) {
                    group.members.remove(i);
                }
                member_gone(group, id, now_ms);
            }
            if group.state == State::PreparingRebalance {
                try_complete_join(group, id, now_ms);
            }
        }
    }

    /// Whether the group has members (commits must then come from a member of the generation).
    pub fn check_commit(&mut self, group_id: &str, generation: i32, member_id: &str) -> i16 {
        match self.groups.get_mut(group_id) {
            None => code::NONE,
            Some(g) if g.members.is_empty() => {
                if generation < 0 {
                    code::NONE
                } else {
                    code::ILLEGAL_GENERATION
                }
            }
            Some(g) => {
                if generation < 0 && member_id.is_empty() {
                    return code::ILLEGAL_GENERATION;
                }
                let current = g.generation;
                let state = g.state;
                if g.member(member_id).is_none() {
                    return code::UNKNOWN_MEMBER_ID;
                }
                if generation != current {
                    return code::ILLEGAL_GENERATION;
                }
                if state == State::PreparingRebalance {
                    return code::REBALANCE_IN_PROGRESS;
                }
                code::NONE
            }
        }
    }
}

fn member_list(group: &Group) -> Vec<(String, Bytes)> {
    let p = group.protocol.clone().unwrap_or_default();
    group
        .members
        .iter()
        .map(|m| (m.id.clone(), m.protocols.iter().find(|(n, _)| *n == p).map(|(_, b)| b.clone()).unwrap_or_default()))
        .collect()
}

fn start_rebalance(group: &mut Group, id: &str, now_ms: i64, why: &str) {
    tracing::info!(group = id, "rebalance: {why}");
    group.state = State::PreparingRebalance;
    group.deadline_ms = now_ms + group.rebalance_timeout_ms();
    // Members parked in SyncGroup of the old round learn that it is over.
    for m in group.members.iter_mut() {
        if let Some(tx) = m.syncing.take() {
            let _ = tx.send(SyncResult { error: code::REBALANCE_IN_PROGRESS, ..Default::default() });
        }
    }
}

fn member_gone(group: &mut Group, id: &str, now_ms: i64) {
    if group.members.is_empty() {
        group.state = State::Empty;
        group.leader = None;
        group.protocol = None;
        group.generation += 1;
        return;
    }
    if group.leader.as_deref().is_some_and(|l| !group.members.iter().any(|m| m.id == l)) {
        group.leader = None;
    }
    match group.state {
        State::PreparingRebalance => try_complete_join(group, id, now_ms),
        _ => start_rebalance(group, id, now_ms, "member left"),
    }
}

/// Completes the round if every member has joined (a new group waits out its initial delay
/// first, so that members starting together land in one generation), or once its deadline has
/// passed, dropping the members that did not join.
fn try_complete_join(group: &mut Group, id: &str, now_ms: i64) {
    let all_joined = group.members.iter().all(|m| m.joined.is_some());
    let new_group = group.leader.is_none() && group.protocol.is_none();
    let due = now_ms >= group.deadline_ms;
    if !(due || (all_joined && !new_group)) {
        return;
    }
    group.members.retain(|m| m.joined.is_some());
    if group.members.is_empty() {
        group.state = State::Empty;
        return;
    }
    // A leader that did not rejoin is gone; the first member that did takes over.
    if group.leader.as_deref().is_some_and(|l| !group.members.iter().any(|m| m.id == l)) {
        group.leader = None;
    }
    group.generation += 1;
    // The vote: each member votes for its most preferred protocol among those all support.
    let candidates: Vec<String> = group.members[0]
        .protocols
        .iter()
        .map(|(p, _)| p.clone())
        .filter(|p| group.members.iter().all(|m| m.protocols.iter().any(|(q, _)| q == p)))
        .collect();
    let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
    for m in &group.members {
        if let Some((p, _)) = m.protocols.iter().find(|(p, _)| candidates.contains(p)) {
            *votes.entry(p.as_str()).or_default() += 1;
        }
    }
    let best = candidates
        .iter()
        .max_by_key(|c| {
            (votes.get(c.as_str()).copied().unwrap_or(0), std::cmp::Reverse(candidates.iter().position(|x| x == *c)))
        })
        .cloned();
    group.protocol = best;
    if group.leader.is_none() {
        group.leader = Some(group.members[0].id.clone());
    }
    group.state = State::CompletingRebalance;
    let leader = group.leader.clone().unwrap_or_default();
    let members = member_list(group);
    tracing::info!(group = id, generation = group.generation, leader = %leader, "joined: {} member(s), protocol {:?}", group.members.len(), group.protocol);
    for m in group.members.iter_mut() {
        m.last_seen_ms = now_ms;
        if let Some(tx) = m.joined.take() {
            let _ = tx.send(JoinResult {
                error: code::NONE,
                generation: group.generation,
                protocol_type: group.protocol_type.clone(),
                protocol: group.protocol.clone(),
                leader: leader.clone(),
                member_id: m.id.clone(),
                members: if m.id == leader { members.clone() } else { Vec::new() },
            });
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Committed offsets
// ------------------------------------------------------------------------------------------------

/// Committed offsets, as Kafka keeps them in `__consumer_offsets`: an append-only log of
/// commits, the last one per (group, topic, partition) winning, replayed at start-up.
///
/// ```text
///  record = len u32 │ crc32c u32 │ group (u16 len) │ topic (u16 len) │ partition i32 │ offset i64
///                                │ metadata (u16 len)
/// ```
///
/// A commit is acknowledged after its record is fsynced. A torn last record is ignored at replay
/// and cut off.
pub struct OffsetStore {
    file: Option<File>,
    pub offsets: BTreeMap<(String, String, i32), (i64, String)>,
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

impl OffsetStore {
    pub fn in_memory() -> OffsetStore {
        OffsetStore { file: None, offsets: BTreeMap::new() }
    }

    pub fn open(path: &Path) -> std::io::Result<OffsetStore> {
        let data = std::fs::read(path).unwrap_or_default();
        let mut offsets = BTreeMap::new();
        let mut pos = 0usize;
        while pos + 8 <= data.len() {
            let len = u32::from_be_bytes(data[pos..pos + 4].try_into().expect("4")) as usize;
            let crc = u32::from_be_bytes(data[pos + 4..pos + 8].try_into().expect("4"));
            let Some(body) = data.get(pos + 8..pos + 8 + len) else { break };
            if crc32c::crc32c(body) != crc {
                break;
            }
            let Some(rec) = parse_record(body) else { break };
            offsets.insert((rec.0, rec.1, rec.2), (rec.3, rec.4));
            pos += 8 + len;
        }
        let file = OpenOptions::new().create(true).read(true).append(true).open(path)?;
        if pos < data.len() {
            file.set_len(pos as u64)?;
        }
        Ok(OffsetStore { file: Some(file), offsets })
    }

    /// Records commits durably, then applies them.
    pub fn commit(&mut self, items: &[(String, String, i32, i64, String)]) -> std::io::Result<()> {
        if let Some(f) = &mut self.file {
            let mut out = Vec::new();
            for (g, t, p, o, m) in items {
                let mut body = Vec::new();
                put_str(&mut body, g);
                put_str(&mut body, t);
                body.extend_from_slice(&p.to_be_bytes());
                body.extend_from_slice(&o.to_be_bytes());
                put_str(&mut body, m);
                out.extend_from_slice(&(body.len() as u32).to_be_bytes());
                out.extend_from_slice(&crc32c::crc32c(&body).to_be_bytes());
                out.extend_from_slice(&body);
            }
            f.write_all(&out)?;
            f.sync_data()?;
        }
        for (g, t, p, o, m) in items {
            self.offsets.insert((g.clone(), t.clone(), *p), (*o, m.clone()));
        }
        Ok(())
    }

    pub fn get(&self, group: &str, topic: &str, partition: i32) -> Option<&(i64, String)> {
        self.offsets.get(&(group.to_string(), topic.to_string(), partition))
    }

    /// Every committed (topic, partition) of a group.
    pub fn of_group(&self, group: &str) -> Vec<(String, i32, i64, String)> {
        self.offsets
            .iter()
            .filter(|((g, _, _), _)| g == group)
            .map(|((_, t, p), (o, m))| (t.clone(), *p, *o, m.clone()))
            .collect()
    }
}

fn parse_record(b: &[u8]) -> Option<(String, String, i32, i64, String)> {
    let mut pos = 0;
    let mut s = || -> Option<String> {
        let n = u16::from_be_bytes(b.get(pos..pos + 2)?.try_into().ok()?) as usize;
        let v = String::from_utf8(b.get(pos + 2..pos + 2 + n)?.to_vec()).ok()?;
        pos += 2 + n;
        Some(v)
    };
    let g = s()?;
    let t = s()?;
    let p = i32::from_be_bytes(b.get(pos..pos + 4)?.try_into().ok()?);
    let o = i64::from_be_bytes(b.get(pos + 4..pos + 12)?.try_into().ok()?);
    pos += 12;
    let n = u16::from_be_bytes(b.get(pos..pos + 2)?.try_into().ok()?) as usize;
    let m = String::from_utf8(b.get(pos + 2..pos + 2 + n)?.to_vec()).ok()?;
    Some((g, t, p, o, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(c: &mut Coordinator, member: &str, now: i64) -> oneshot::Receiver<JoinResult> {
        c.join(
            JoinRequest {
                group: "g".into(),
                member_id: member.into(),
                client_id: "client".into(),
                client_host: "/127.0.0.1".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 20_000,
                protocol_type: "consumer".into(),
                protocols: vec![("range".into(), Bytes::from_static(b"meta")), ("roundrobin".into(), Bytes::new())],
                require_known_member_id: true,
            },
            now,
        )
    }

    fn done<T>(rx: &mut oneshot::Receiver<T>) -> Option<T> {
        rx.try_recv().ok()
    }

    /// Joins with an empty id (MEMBER_ID_REQUIRED) and again with the id it got.
    fn new_member(c: &mut Coordinator, now: i64) -> (String, oneshot::Receiver<JoinResult>) {
        let first = done(&mut join(c, "", now)).expect("immediate");
        assert_eq!(first.error, code::MEMBER_ID_REQUIRED);
        let rx = join(c, &first.member_id, now);
        (first.member_id, rx)
    }

    #[test]
    fn two_members_join_sync_and_rebalance_when_one_leaves_or_goes_silent() {
        let mut c = Coordinator::new(3_000);
        let (a, mut ja) = new_member(&mut c, 0);
        assert!(done(&mut ja).is_none(), "parked during the initial delay");
        let (b, mut jb) = new_member(&mut c, 1_000);
        c.tick(2_999);
        assert!(done(&mut ja).is_none());
        c.tick(3_000);
        let ra = done(&mut ja).expect("round complete");
        let rb = done(&mut jb).expect("round complete");
        assert_eq!((ra.generation, rb.generation), (1, 1));
        assert_eq!(ra.leader, a, "the first member leads");
        assert_eq!(ra.protocol.as_deref(), Some("range"), "the vote");
        assert_eq!(ra.members.len(), 2, "only the leader sees the members");
        assert!(rb.members.is_empty());
        assert_eq!(c.groups["g"].state, State::CompletingRebalance);
        // The follower's SyncGroup waits for the leader's.
        let mut sb = c.sync("g", 1, &b, vec![], 3_100);
        assert!(done(&mut sb).is_none());
        let mut sa = c.sync(
            "g",
            1,
            &a,
            vec![(a.clone(), Bytes::from_static(b"A")), (b.clone(), Bytes::from_static(b"B"))],
            3_200,
        );
        assert_eq!(done(&mut sa).unwrap().assignment, Bytes::from_static(b"A"));
        assert_eq!(done(&mut sb).unwrap().assignment, Bytes::from_static(b"B"));
        assert_eq!(c.groups["g"].state, State::Stable);
        assert_eq!(c.heartbeat("g", 1, &a, 4_000), code::NONE);
        assert_eq!(c.heartbeat("g", 0, &a, 4_000), code::ILLEGAL_GENERATION);
        assert_eq!(c.heartbeat("g", 1, "nobody", 4_000), code::UNKNOWN_MEMBER_ID);
        // b leaves: a is told to rejoin by its next heartbeat, and the new round has only a.
        assert_eq!(c.leave("g", &b, 5_000), code::NONE);
        assert_eq!(c.heartbeat("g", 1, &a, 5_100), code::REBALANCE_IN_PROGRESS);
        let mut ja = join(&mut c, &a, 5_200);
        let r = done(&mut ja).expect("everyone left has joined");
        assert_eq!((r.generation, r.members.len()), (2, 1));
        let mut sa = c.sync("g", 2, &a, vec![(a.clone(), Bytes::from_static(b"ALL"))], 5_300);
        assert_eq!(done(&mut sa).unwrap().assignment, Bytes::from_static(b"ALL"));
        // a goes silent past its session timeout: the group empties.
        c.tick(5_300 + 10_001);
        assert_eq!(c.groups["g"].state, State::Empty);
        assert!(c.groups["g"].members.is_empty());
    }

    #[test]
    fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_deadline() {
        let mut c = Coordinator::new(0);
        let (a, mut ja) = new_member(&mut c, 0);
        c.tick(0);
        assert!(done(&mut ja).is_some());
        let _ = c.sync("g", 1, &a, vec![], 1);
        let (b, mut jb) = new_member(&mut c, 100);
        assert_eq!(c.groups["g"].state, State::PreparingRebalance);
        // a keeps heartbeating but never rejoins: after the rebalance timeout (20 s) it is out.
        for t in [5_000, 10_000, 15_000] {
            assert_eq!(c.heartbeat("g", 1, &a, t), code::REBALANCE_IN_PROGRESS);
            c.tick(t);
        }
        c.tick(19_000);
        assert!(done(&mut jb).is_none());
        c.tick(20_101);
        let r = done(&mut jb).unwrap();
        assert_eq!((r.generation, r.leader.clone(), r.members.len()), (2, b.clone(), 1));
        assert_eq!(c.heartbeat("g", 2, &a, 20_200), code::UNKNOWN_MEMBER_ID);
    }

    #[test]
    fn errors_are_kafkas() {
        let mut c = Coordinator::new(0);
        assert_eq!(done(&mut join(&mut c, "ghost", 0)).unwrap().error, code::UNKNOWN_MEMBER_ID);
        let mut bad = join(&mut c, "", 0);
        let r = done(&mut bad).unwrap();
        assert_eq!(r.error, code::MEMBER_ID_REQUIRED);
        let mut other = c.join(
            JoinRequest {
                group: "g".into(),
                member_id: String::new(),
                client_id: "x".into(),
                client_host: String::new(),
                session_timeout_ms: 1,
                rebalance_timeout_ms: 1,
                protocol_type: "consumer".into(),
                protocols: vec![("range".into(), Bytes::new())],
                require_known_member_id: true,
            },
            0,
        );
        assert_eq!(done(&mut other).unwrap().error, code::INVALID_SESSION_TIMEOUT);
        assert_eq!(c.check_commit("nogroup", -1, ""), code::NONE, "a simple consumer may commit");
    }

    #[test]
    fn committed_offsets_survive_a_restart_and_a_torn_record() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("offsets");
        {
            let mut s = OffsetStore::open(&p).unwrap();
            s.commit(&[("g".into(), "t".into(), 0, 5, "".into()), ("g".into(), "t".into(), 1, 7, "m".into())]).unwrap();
            s.commit(&[("g".into(), "t".into(), 0, 9, "".into())]).unwrap();
        }
        OpenOptions::new().append(true).open(&p).unwrap().write_all(&[0, 0, 0, 40, 1, 2]).unwrap();
        let s = OffsetStore::open(&p).unwrap();
        assert_eq!(s.get("g", "t", 0), Some(&(9, String::new())));
        assert_eq!(s.get("g", "t", 1), Some(&(7, "m".into())));
        assert_eq!(s.of_group("g").len(), 2);
    }
}
