//! Kafka's framing, request and response headers, version negotiation and dispatch.
//!
//! ```text
//!  request:  int32 size │ api_key i16 │ api_version i16 │ correlation_id i32 │ client_id (i16 string)
//!                       │ [tagged fields, header v2] │ body
//!  response: int32 size │ correlation_id i32 │ [tagged fields, header v1] │ body
//! ```
//!
//! Requests on one connection are answered in order, one at a time; a Fetch that long-polls
//! holds the connection's later requests back, as a Kafka broker's per-connection queue does.
//! Produce with acks=0 gets no response at all. ApiVersions always answers with the v0 response
//! header, whatever its version (KIP-511); at a version terrarium does not serve, it answers in
//! the v0 layout with UNSUPPORTED_VERSION and its own range, so the client retries lower. Any
//! other request at an unsupported version, or with an unknown API key, closes the connection,
//! as Kafka does.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use std::collections::BTreeMap;

use kafka_protocol::protocol::StrBytes;

use super::{code, group, Broker};
use crate::limits::{KAFKA_FETCH_WAIT_MS_MAX, KAFKA_REQUEST_BYTES_MAX};

/// The versions terrarium serves: `(api key, min, max)`. Ranges start at 0 where clients need to
/// see old versions advertised (librdkafka before 2.11 enables features only then); a request
/// below what the message encoder supports closes the connection. Fetch stops at 12 (13+ names
/// topics by id); nothing is advertised that is not served.
pub const SUPPORTED: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 0, 9),
    (ApiKey::Fetch, 0, 12),
    (ApiKey::ListOffsets, 0, 7),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::OffsetCommit, 0, 8),
    (ApiKey::OffsetFetch, 0, 7),
    (ApiKey::FindCoordinator, 0, 3),
    (ApiKey::JoinGroup, 0, 7),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 4),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ListGroups, 0, 4),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 0, 7),
    (ApiKey::DeleteTopics, 0, 6),
    (ApiKey::InitProducerId, 0, 4),
    (ApiKey::DescribeConfigs, 0, 4),
    (ApiKey::CreatePartitions, 0, 3),
];

fn served(key: ApiKey, version: i16) -> bool {
    let r = key.valid_versions();
    SUPPORTED.iter().any(|(k, lo, hi)| *k == key && (*lo..=*hi).contains(&version))
        && (r.min..=r.max).contains(&version)
}

fn api_versions_body(error: i16) -> ApiVersionsResponse {
    let mut r = ApiVersionsResponse::default();
    r.error_code = error;
    for (k, lo, hi) in SUPPORTED {
        let mut v = ApiVersion::default();
        v.api_key = *k as i16;
        v.min_version = *lo;
        v.max_version = *hi;
        r.api_keys.push(v);
    }
    r
}

/// Accepts Kafka connections until shutdown.
pub async fn accept(broker: Arc<Broker>, listener: TcpListener, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let broker = broker.clone();
                let shutdown = shutdown.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve(broker, stream, shutdown).await {
                        tracing::debug!("kafka connection closed: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("kafka accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Serves one connection: a request, its response, the next request.
pub async fn serve(
    broker: Arc<Broker>,
    mut stream: TcpStream,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().map(|a| format!("/{}", a.ip())).unwrap_or_default();
    loop {
        let mut size = [0u8; 4];
        tokio::select! {
            r = stream.read_exact(&mut size) => { r?; }
            _ = shutdown.changed() => return Ok(()),
        }
        let size = i32::from_be_bytes(size);
        // Checked before anything is allocated: a hostile size costs nothing.
        if size < 8 || size as usize > KAFKA_REQUEST_BYTES_MAX {
            return Err(std::io::Error::other(format!("request size {size} out of bounds")));
        }
        let mut frame = vec![0u8; size as usize];
        stream.read_exact(&mut frame).await?;
        match handle(&broker, Bytes::from(frame), &peer).await {
            Ok(Some(reply)) => stream.write_all(&reply).await?,
            Ok(None) => {}
            Err(why) => return Err(std::io::Error::other(why)),
        }
    }
}

/// Decodes one request and produces its framed response (`None`: no response, acks=0). `Err`
/// closes the connection.
pub async fn handle(broker: &Broker, mut frame: Bytes, peer: &str) -> Result<Option<Bytes>, String> {
    let api_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let key = ApiKey::try_from(api_key).map_err(|_| format!("unknown api key {api_key}"))?;
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    if key == ApiKey::ApiVersions && !served(key, version) {
        // KIP-511: not parsed; answered in the v0 layout with our range.
        return Ok(Some(respond(correlation_id, 0, &api_versions_body(code::UNSUPPORTED_VERSION), 0)?));
    }
    if !served(key, version) {
        return Err(format!("{key:?} v{version} is not served"));
    }
    let header = RequestHeader::decode(&mut frame, key.request_header_version(version)).map_err(|e| e.to_string())?;
    let header_version = key.response_header_version(version);
    let bad = |e: anyhow::Error| format!("{key:?} v{version}: {e}");
    let reply = match key {
        ApiKey::ApiVersions => {
            ApiVersionsRequest::decode(&mut frame, version).map_err(bad)?;
            respond(correlation_id, header_version, &api_versions_body(code::NONE), version)?
        }
        ApiKey::Metadata => {
            let req = MetadataRequest::decode(&mut frame, version).map_err(bad)?;
            respond(correlation_id, header_version, &broker.metadata(req, version), version)?
        }
        ApiKey::Produce => {
            let req = ProduceRequest::decode(&mut frame, version).map_err(bad)?;
            let acks = req.acks;
            let resp = broker.produce(req);
            if acks == 0 {
                return Ok(None);
            }
            respond(correlation_id, header_version, &resp, version)?
        }
        ApiKey::Fetch => {
            let req = FetchRequest::decode(&mut frame, version).map_err(bad)?;
            let resp = fetch(broker, &req).await;
            respond(correlation_id, header_version, &resp, version)?
        }
        ApiKey::ListOffsets => {
            let req = ListOffsetsRequest::decode(&mut frame, version).map_err(bad)?;
            respond(correlation_id, header_version, &broker.list_offsets(req, version), version)?
        }
        ApiKey::CreateTopics => {
            let req = CreateTopicsRequest::decode(&mut frame, version).map_err(bad)?;
            respond(correlation_id, header_version, &broker.create_topics(req), version)?
        }
        ApiKey::InitProducerId => {
            InitProducerIdRequest::decode(&mut frame, version).map_err(bad)?;
            let (id, epoch) = broker.init_producer_id();
            let mut r = InitProducerIdResponse::default();
            r.producer_id = ProducerId(id);
            r.producer_epoch = epoch;
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::FindCoordinator => {
            let req = FindCoordinatorRequest::decode(&mut frame, version).map_err(bad)?;
            let _ = req;
            let mut r = FindCoordinatorResponse::default();
            r.node_id = BrokerId(super::NODE_ID);
            r.host = StrBytes::from_string(broker.config.advertised_host.clone());
            r.port = broker.config.advertised_port as i32;
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::JoinGroup => {
            let req = JoinGroupRequest::decode(&mut frame, version).map_err(bad)?;
            let client_id = header.client_id.as_ref().map(|c| c.to_string()).unwrap_or_default();
            let rx = broker.groups.lock().expect("groups").join(
                group::JoinRequest {
                    group: req.group_id.0.to_string(),
                    member_id: req.member_id.to_string(),
                    client_id,
                    client_host: peer.to_string(),
                    session_timeout_ms: req.session_timeout_ms,
                    // v0 has no rebalance timeout: it is the session timeout.
                    rebalance_timeout_ms: if version >= 1 { req.rebalance_timeout_ms } else { req.session_timeout_ms },
                    protocol_type: req.protocol_type.to_string(),
                    protocols: req.protocols.iter().map(|p| (p.name.to_string(), p.metadata.clone())).collect(),
                    require_known_member_id: version >= 4,
                },
                now_ms(),
            );
            let res = rx.await.unwrap_or_else(|_| group::JoinResult {
                error: group::code::UNKNOWN_MEMBER_ID,
                generation: -1,
                ..Default::default()
            });
            let mut r = JoinGroupResponse::default();
            r.error_code = res.error;
            r.generation_id = res.generation;
            if version >= 7 {
                r.protocol_type = res.protocol_type.map(StrBytes::from_string);
            }
            r.protocol_name = Some(StrBytes::from_string(res.protocol.unwrap_or_default()));
            r.leader = StrBytes::from_string(res.leader);
            r.member_id = StrBytes::from_string(res.member_id);
            r.members = res
                .members
                .into_iter()
                .map(|(id, meta)| {
                    let mut m = join_group_response::JoinGroupResponseMember::default();
                    m.member_id = StrBytes::from_string(id);
                    m.metadata = meta;
                    m
                })
                .collect();
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::SyncGroup => {
            let req = SyncGroupRequest::decode(&mut frame, version).map_err(bad)?;
            let assignments = req.assignments.iter().map(|a| (a.member_id.to_string(), a.assignment.clone())).collect();
            let rx = broker.groups.lock().expect("groups").sync(
                &req.group_id.0,
                req.generation_id,
                &req.member_id,
                assignments,
                now_ms(),
            );
            let res = rx.await.unwrap_or_else(|_| group::SyncResult {
                error: group::code::REBALANCE_IN_PROGRESS,
                ..Default::default()
            });
            let mut r = SyncGroupResponse::default();
            r.error_code = res.error;
            r.assignment = res.assignment;
            if version >= 5 {
                r.protocol_type = res.protocol_type.map(StrBytes::from_string);
                r.protocol_name = res.protocol.map(StrBytes::from_string);
            }
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::Heartbeat => {
            let req = HeartbeatRequest::decode(&mut frame, version).map_err(bad)?;
            let mut r = HeartbeatResponse::default();
            r.error_code = broker.groups.lock().expect("groups").heartbeat(
                &req.group_id.0,
                req.generation_id,
                &req.member_id,
                now_ms(),
            );
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::LeaveGroup => {
            let req = LeaveGroupRequest::decode(&mut frame, version).map_err(bad)?;
            let mut r = LeaveGroupResponse::default();
            let mut g = broker.groups.lock().expect("groups");
            if version >= 3 {
                for m in &req.members {
                    let mut mr = leave_group_response::MemberResponse::default();
                    mr.member_id = m.member_id.clone();
                    mr.group_instance_id = m.group_instance_id.clone();
                    mr.error_code = g.leave(&req.group_id.0, &m.member_id, now_ms());
                    r.members.push(mr);
                }
            } else {
                r.error_code = g.leave(&req.group_id.0, &req.member_id, now_ms());
            }
            drop(g);
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::OffsetCommit => {
            let req = OffsetCommitRequest::decode(&mut frame, version).map_err(bad)?;
            let gen = if version >= 1 { req.generation_id_or_member_epoch } else { -1 };
            let err = broker.groups.lock().expect("groups").check_commit(&req.group_id.0, gen, &req.member_id);
            let mut items = Vec::new();
            let mut r = OffsetCommitResponse::default();
            for t in &req.topics {
                let mut tr = offset_commit_response::OffsetCommitResponseTopic::default();
                tr.name = t.name.clone();
                for p in &t.partitions {
                    let mut pr = offset_commit_response::OffsetCommitResponsePartition::default();
                    pr.partition_index = p.partition_index;
                    pr.error_code = if err != 0 {
                        err
                    } else if broker
                        .topic(&t.name.0)
                        .is_none_or(|x| p.partition_index < 0 || p.partition_index as usize >= x.partitions.len())
                    {
                        code::UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        items.push((
                            req.group_id.0.to_string(),
                            t.name.0.to_string(),
                            p.partition_index,
                            p.committed_offset,
                            p.committed_metadata.as_ref().map(|m| m.to_string()).unwrap_or_default(),
                        ));
                        0
                    };
                    tr.partitions.push(pr);
                }
                r.topics.push(tr);
            }
            if let Err(e) = broker.offsets.lock().expect("offsets").commit(&items) {
                tracing::error!("offset commit failed: {e}");
                for tr in r.topics.iter_mut() {
                    for pr in tr.partitions.iter_mut() {
                        pr.error_code = code::COORDINATOR_NOT_AVAILABLE;
                    }
                }
            }
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::OffsetFetch => {
            let req = OffsetFetchRequest::decode(&mut frame, version).map_err(bad)?;
            let store = broker.offsets.lock().expect("offsets");
            let group_id = req.group_id.0.to_string();
            let wanted: Vec<(String, Vec<i32>)> = match &req.topics {
                Some(ts) => ts.iter().map(|t| (t.name.0.to_string(), t.partition_indexes.clone())).collect(),
                // v2+: null means every partition the group has committed.
                None => {
                    let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
                    for (t, p, _, _) in store.of_group(&group_id) {
                        by_topic.entry(t).or_default().push(p);
                    }
                    by_topic.into_iter().collect()
                }
            };
            let mut r = OffsetFetchResponse::default();
            for (t, parts) in wanted {
                let mut tr = offset_fetch_response::OffsetFetchResponseTopic::default();
                tr.name = TopicName(StrBytes::from_string(t.clone()));
                for p in parts {
                    let mut pr = offset_fetch_response::OffsetFetchResponsePartition::default();
                    pr.partition_index = p;
                    match store.get(&group_id, &t, p) {
                        Some((o, m)) => {
                            pr.committed_offset = *o;
                            pr.metadata = Some(StrBytes::from_string(m.clone()));
                        }
                        None => {
                            pr.committed_offset = -1;
                            pr.metadata = Some(StrBytes::from_static_str(""));
                        }
                    }
                    tr.partitions.push(pr);
                }
                r.topics.push(tr);
            }
            drop(store);
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::DescribeGroups => {
            let req = DescribeGroupsRequest::decode(&mut frame, version).map_err(bad)?;
            let g = broker.groups.lock().expect("groups");
            let mut r = DescribeGroupsResponse::default();
            for id in &req.groups {
                let mut d = describe_groups_response::DescribedGroup::default();
                d.group_id = id.clone();
                match g.groups.get(&id.0.to_string()) {
                    None => d.group_state = StrBytes::from_static_str("Dead"),
                    Some(grp) => {
                        d.group_state = StrBytes::from_static_str(grp.state.name());
                        d.protocol_type = StrBytes::from_string(grp.protocol_type.clone().unwrap_or_default());
                        d.protocol_data = StrBytes::from_string(grp.protocol.clone().unwrap_or_default());
                        for m in &grp.members {
                            let mut dm = describe_groups_response::DescribedGroupMember::default();
                            dm.member_id = StrBytes::from_string(m.id.clone());
                            dm.client_id = StrBytes::from_string(m.client_id.clone());
                            dm.client_host = StrBytes::from_string(m.client_host.clone());
                            let p = grp.protocol.clone().unwrap_or_default();
                            dm.member_metadata =
                                m.protocols.iter().find(|(n, _)| *n == p).map(|(_, b)| b.clone()).unwrap_or_default();
                            dm.member_assignment = m.assignment.clone();
                            d.members.push(dm);
                        }
                    }
                }
                r.groups.push(d);
            }
            drop(g);
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::ListGroups => {
            ListGroupsRequest::decode(&mut frame, version).map_err(bad)?;
            let g = broker.groups.lock().expect("groups");
            let mut r = ListGroupsResponse::default();
            for (id, grp) in &g.groups {
                let mut l = list_groups_response::ListedGroup::default();
                l.group_id = GroupId(StrBytes::from_string(id.clone()));
                l.protocol_type = StrBytes::from_string(grp.protocol_type.clone().unwrap_or_default());
                if version >= 4 {
                    l.group_state = StrBytes::from_static_str(grp.state.name());
                }
                r.groups.push(l);
            }
            drop(g);
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::DeleteTopics => {
            let req = DeleteTopicsRequest::decode(&mut frame, version).map_err(bad)?;
            // v6 names topics in `topics`; earlier versions in `topic_names`.
            let names: Vec<TopicName> = if version >= 6 {
                req.topics.iter().filter_map(|t| t.name.clone()).collect()
            } else {
                req.topic_names.clone()
            };
            let mut r = DeleteTopicsResponse::default();
            for n in names {
                let mut d = delete_topics_response::DeletableTopicResult::default();
                d.name = Some(n.clone());
                if let Err(c) = broker.delete_topic(&n.0) {
                    d.error_code = c;
                    if version >= 5 {
                        d.error_message =
                            Some(StrBytes::from_static_str("This server does not host this topic-partition."));
                    }
                }
                r.responses.push(d);
            }
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::CreatePartitions => {
            let req = CreatePartitionsRequest::decode(&mut frame, version).map_err(bad)?;
            let mut r = CreatePartitionsResponse::default();
            for t in &req.topics {
                let mut res = create_partitions_response::CreatePartitionsTopicResult::default();
                res.name = t.name.clone();
                if let Err((c, msg)) = broker.create_partitions(&t.name.0, t.count, req.validate_only) {
                    res.error_code = c;
                    res.error_message = Some(StrBytes::from_string(msg));
                }
                r.results.push(res);
            }
            respond(correlation_id, header_version, &r, version)?
        }
        ApiKey::DescribeConfigs => {
            let req = DescribeConfigsRequest::decode(&mut frame, version).map_err(bad)?;
            let mut r = DescribeConfigsResponse::default();
            for res in &req.resources {
                let mut out = describe_configs_response::DescribeConfigsResult::default();
                out.resource_type = res.resource_type;
                out.resource_name = res.resource_name.clone();
                match broker.describe_configs(res.resource_type, &res.resource_name) {
                    Err(c) => out.error_code = c,
                    Ok(configs) => {
                        for (name, value) in configs {
                            if res.configuration_keys.as_ref().is_some_and(|keys| !keys.iter().any(|k| &**k == name)) {
                                continue;
                            }
                            let mut c = describe_configs_response::DescribeConfigsResourceResult::default();
                            c.name = StrBytes::from_static_str(name);
                            c.value = Some(StrBytes::from_string(value));
                            if version >= 1 {
                                // 5 = DEFAULT_CONFIG: nothing here was set explicitly.
                                c.config_source = 5;
                            }
                            out.configs.push(c);
                        }
                    }
                }
                r.results.push(out);
            }
            respond(correlation_id, header_version, &r, version)?
        }
        _ => return Err(format!("{key:?} is not served")),
    };
    Ok(Some(reply))
}

/// Fetch with long polling: answer as soon as `min_bytes` are available or `max_wait_ms` passes.
async fn fetch(broker: &Broker, req: &FetchRequest) -> FetchResponse {
    let wait = Duration::from_millis(req.max_wait_ms.clamp(0, KAFKA_FETCH_WAIT_MS_MAX) as u64);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let (resp, total, parts) = broker.fetch_once(req);
        if total >= req.min_bytes.max(1) as usize || tokio::time::Instant::now() >= deadline || parts.is_empty() {
            return resp;
        }
        // Wait for an append. The notified future is created before the data is looked at
        // again, so an append in between is not missed.
        let appended = broker.appended.notified();
        tokio::pin!(appended);
        appended.as_mut().enable();
        let (_, total, _) = broker.fetch_once(req);
        if total >= req.min_bytes.max(1) as usize {
            continue;
        }
        tokio::select! {
            _ = appended => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Frames a response: size, header (v0: correlation id; v1: plus tagged fields), body.
fn respond<M: Encodable>(correlation_id: i32, header_version: i16, body: &M, version: i16) -> Result<Bytes, String> {
    let mut out = BytesMut::with_capacity(64);
    out.put_i32(0);
    let mut h = ResponseHeader::default();
    h.correlation_id = correlation_id;
    h.encode(&mut out, header_version).map_err(|e| e.to_string())?;
    body.encode(&mut out, version).map_err(|e| e.to_string())?;
    let len = (out.len() - 4) as i32;
    out[0..4].copy_from_slice(&len.to_be_bytes());
    Ok(out.freeze())
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// The broker's clock: expires silent group members, completes due rebalances, and now and then
/// applies retention.
pub async fn tick_groups(broker: Arc<Broker>, shared: Arc<crate::server::Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut tick = tokio::time::interval(Duration::from_millis(crate::limits::KAFKA_GROUP_TICK_MS));
    let mut last_retention = now_ms();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let now = now_ms();
        broker.groups.lock().expect("groups").tick(now);
        if now - last_retention >= crate::limits::KAFKA_RETENTION_CHECK_MS {
            last_retention = now;
            broker.apply_retention(now);
        }
    }
}
