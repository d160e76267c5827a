//! The Kafka-wire broker: topics of partitioned, append-only logs.
//!
//! # Life of a produce with acks=all
//!
//! ```text
//!  socket ─▶ wire::serve: 4-byte size (checked against KAFKA_REQUEST_BYTES_MAX before reading)
//!         ─▶ request header (api key, version, correlation id) ─▶ kafka-protocol decodes the body
//!         ─▶ Broker::produce
//!              for each partition: batch::inspect (CRC-32C, lengths, count = last delta + 1,
//!                                  magic 2, not a control batch, one batch per partition)
//!                                  log::Log::append: base offset := log end offset, written to
//!                                  the active segment file as received
//!              acks=all: Log::sync (fsync) before answering
//!              wake the fetchers long-polling those partitions
//!         ─▶ ProduceResponse (base offset per partition) ─▶ socket, in request order
//! ```
//!
//! One broker (node 1) leads every partition, so the high watermark is the log end offset:
//! there are no followers to wait for. Record batches are never decoded here; the message
//! encoding of requests and responses is the `kafka-protocol` crate's.
//!
//! Modules: [`batch`] (the record-batch header), [`log`] (segments, recovery), [`wire`] (framing,
//! headers, versions, dispatch).

pub mod batch;
pub mod group;
pub mod log;
pub mod wire;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;

use self::log::Log;

/// Kafka's error codes used here.
pub mod code {
    pub const NONE: i16 = 0;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const MESSAGE_TOO_LARGE: i16 = 10;
    pub const INVALID_TOPIC_EXCEPTION: i16 = 17;
    pub const INVALID_REQUIRED_ACKS: i16 = 21;
    pub const UNSUPPORTED_VERSION: i16 = 35;
    pub const TOPIC_ALREADY_EXISTS: i16 = 36;
    pub const INVALID_PARTITIONS: i16 = 37;
    pub const INVALID_REPLICATION_FACTOR: i16 = 38;
    pub const KAFKA_STORAGE_ERROR: i16 = 56;
    pub const INVALID_RECORD: i16 = 87;
    pub const OUT_OF_ORDER_SEQUENCE_NUMBER: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const COORDINATOR_NOT_AVAILABLE: i16 = 15;
    pub const INVALID_REQUEST: i16 = 42;
}

/// The broker's node id; it is also the controller and every partition's leader.
pub const NODE_ID: i32 = 1;
/// The leader epoch reported in Metadata and written into stored batches. -1 ("unknown")
/// rather than 0: librdkafka then skips OffsetForLeaderEpoch validation of its positions, an
/// API that would mean nothing on a broker that is never re-elected.
pub const LEADER_EPOCH: i32 = -1;

/// What an idempotent producer last wrote to one partition.
#[derive(Debug, Clone, Default)]
pub struct ProducerState {
    pub epoch: i16,
    /// (first sequence, last sequence, base offset) of the last batches, newest last (Kafka keeps 5).
    pub recent: std::collections::VecDeque<(i32, i32, i64)>,
}

/// How many recent batches per producer and partition are remembered for duplicate detection
/// (Kafka's `max.in.flight.requests.per.connection` limit for idempotence).
pub const PRODUCER_BATCHES_REMEMBERED_COUNT: usize = 5;

pub struct BrokerConfig {
    /// Where partition directories live; `None` keeps logs in memory (`--ephemeral`).
    pub data_dir: Option<PathBuf>,
    /// `num.partitions`: partitions of an auto-created topic.
    pub num_partitions: i32,
    /// `log.segment.bytes`: a segment rolls when the next batch would make it bigger.
    pub segment_bytes: u64,
    pub advertised_host: String,
    pub advertised_port: u16,
    /// `group.initial.rebalance.delay.ms`.
    pub initial_rebalance_delay_ms: i64,
    /// `log.retention.ms` and `log.retention.bytes` (-1: no limit).
    pub retention_ms: i64,
    pub retention_bytes: i64,
}

pub struct Partition {
    pub log: Mutex<Log>,
    /// Group commit for acks=all: how many appends the last fsync covered. Producers that need
    /// durability queue on this lock; the one holding it fsyncs everything appended so far, so
    /// the producers queued behind it usually find their appends already covered and skip their
    /// own fsync. The log itself stays unlocked during the fsync, so appends continue.
    pub durable_appends: Mutex<u64>,
}

impl Partition {
    pub fn new(log: Log) -> Partition {
        Partition { log: Mutex::new(log), durable_appends: Mutex::new(0) }
    }

    /// Returns once every append up to `upto` (a count from `Log::appends`) is on disk.
    pub fn make_durable(&self, upto: u64) -> std::io::Result<()> {
        let mut durable = self.durable_appends.lock().expect("durable");
        if *durable >= upto {
            return Ok(());
        }
        let (covered, file) = self.log.lock().expect("log").sync_handle()?;
        if let Some(f) = file {
            f.sync_data()?;
        }
        *durable = covered;
        Ok(())
    }
}

pub struct Topic {
    pub id: uuid::Uuid,
    pub partitions: Vec<Arc<Partition>>,
}

pub struct Broker {
    pub config: BrokerConfig,
    /// Consumer groups (membership, generations, assignments); see [`group`].
    pub groups: Mutex<group::Coordinator>,
    /// Committed offsets, durable (Kafka's `__consumer_offsets`).
    pub offsets: Mutex<group::OffsetStore>,
    /// The next producer id InitProducerId hands out.
    next_producer_id: std::sync::atomic::AtomicI64,
    /// Idempotent producers: per (producer id, topic, partition), the last sequences appended
    /// with their base offsets, to answer a retried batch with its first answer.
    sequences: Mutex<std::collections::HashMap<(i64, String, i32), ProducerState>>,
    /// Woken after every append anywhere: fetches waiting for data look again. (One signal for
    /// the whole broker rather than one per partition: a waiting fetch may watch many
    /// partitions, and a spurious wake-up only costs it one more look.)
    pub appended: tokio::sync::Notify,
    topics: Mutex<BTreeMap<String, Arc<Topic>>>,
    cluster_id: String,
}

/// Kafka's rule for topic names: 1 to 249 characters of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn valid_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= crate::limits::KAFKA_TOPIC_NAME_BYTES_MAX
        && name != "."
        && name != ".."
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

impl Broker {
    /// Opens the broker, recovering every partition found under the data directory.
    pub fn open(config: BrokerConfig) -> std::io::Result<Broker> {
        let mut topics: BTreeMap<String, Vec<(i32, Log)>> = BTreeMap::new();
        if let Some(root) = &config.data_dir {
            std::fs::create_dir_all(root)?;
            for entry in std::fs::read_dir(root)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some((topic, p)) = name.rsplit_once('-') else { continue };
                let Ok(p) = p.parse::<i32>() else { continue };
                let log = Log::open(&entry.path(), config.segment_bytes)?;
                topics.entry(topic.to_string()).or_default().push((p, log));
            }
        }
        let mut map = BTreeMap::new();
        for (name, mut parts) in topics {
            parts.sort_by_key(|(p, _)| *p);
            // A topic's partitions are numbered 0..n; a gap means a damaged directory.
            if parts.iter().enumerate().any(|(i, (p, _))| *p != i as i32) {
                return Err(std::io::Error::other(format!("topic {name}: partition directories are not 0..n")));
            }
            let partitions = parts.into_iter().map(|(_, log)| Arc::new(Partition::new(log))).collect();
            map.insert(name, Arc::new(Topic { id: uuid::Uuid::from_bytes(rand::random()), partitions }));
        }
        let offsets = match &config.data_dir {
            Some(root) => group::OffsetStore::open(&root.join("__consumer_offsets.log"))?,
            None => group::OffsetStore::in_memory(),
        };
        Ok(Broker {
            groups: Mutex::new(group::Coordinator::new(config.initial_rebalance_delay_ms)),
            offsets: Mutex::new(offsets),
            next_producer_id: std::sync::atomic::AtomicI64::new(1000),
            sequences: Mutex::new(std::collections::HashMap::new()),
            config,
            appended: tokio::sync::Notify::new(),
            topics: Mutex::new(map),
            cluster_id: "terrarium-kafka-cluster".into(),
        })
    }

    pub fn topic(&self, name: &str) -> Option<Arc<Topic>> {
        self.topics.lock().expect("topics").get(name).cloned()
    }

    /// Creates a topic with `partitions` partitions; `Err` with Kafka's error code otherwise.
    pub fn create_topic(&self, name: &str, partitions: i32) -> Result<Arc<Topic>, i16> {
        if !valid_topic_name(name) {
            return Err(code::INVALID_TOPIC_EXCEPTION);
        }
        if partitions < 1 || partitions > crate::limits::KAFKA_PARTITIONS_COUNT_MAX {
            return Err(code::INVALID_PARTITIONS);
        }
        let mut topics = self.topics.lock().expect("topics");
        if topics.contains_key(name) {
            return Err(code::TOPIC_ALREADY_EXISTS);
        }
        let mut parts = Vec::with_capacity(partitions as usize);
        for p in 0..partitions {
            let log = match &self.config.data_dir {
                Some(root) => Log::open(&root.join(format!("{name}-{p}")), self.config.segment_bytes)
                    .map_err(|_| code::KAFKA_STORAGE_ERROR)?,
                None => Log::in_memory(self.config.segment_bytes),
            };
            parts.push(Arc::new(Partition::new(log)));
        }
        let t = Arc::new(Topic { id: uuid::Uuid::from_bytes(rand::random()), partitions: parts });
        topics.insert(name.to_string(), t.clone());
        tracing::info!("created topic {name} with {partitions} partition(s)");
        Ok(t)
    }

    fn partition(&self, topic: &str, p: i32) -> Option<Arc<Partition>> {
        let t = self.topic(topic)?;
        t.partitions.get(usize::try_from(p).ok()?).cloned()
    }

    fn broker_entry(&self) -> MetadataResponseBroker {
        let mut b = MetadataResponseBroker::default();
        b.node_id = BrokerId(NODE_ID);
        b.host = str_bytes(&self.config.advertised_host);
        b.port = self.config.advertised_port as i32;
        b
    }

    /// Metadata: every topic asked for (all of them for a null list, or an empty one in v0),
    /// creating unknown ones when the client allows it.
    pub fn metadata(&self, req: MetadataRequest, version: i16) -> MetadataResponse {
        let names: Vec<String> = match &req.topics {
            None => self.topics.lock().expect("topics").keys().cloned().collect(),
            Some(t) if t.is_empty() && version == 0 => self.topics.lock().expect("topics").keys().cloned().collect(),
            Some(t) => t.iter().filter_map(|t| t.name.as_ref().map(|n| n.0.to_string())).collect(),
        };
        let auto_create = version < 4 || req.allow_auto_topic_creation;
        let mut resp = MetadataResponse::default();
        resp.brokers = vec![self.broker_entry()];
        resp.cluster_id = Some(str_bytes(&self.cluster_id));
        // kafkajs' admin client refuses a controller that is not among the brokers.
        resp.controller_id = BrokerId(NODE_ID);
        for name in names {
            let mut t = MetadataResponseTopic::default();
            t.name = Some(TopicName(str_bytes(&name)));
            let topic = match self.topic(&name) {
                Some(x) => Some(x),
                None if auto_create && valid_topic_name(&name) => {
                    self.create_topic(&name, self.config.num_partitions).ok()
                }
                None => None,
            };
            match topic {
                Some(topic) => {
                    t.topic_id = topic.id;
                    for i in 0..topic.partitions.len() as i32 {
                        let mut p = MetadataResponsePartition::default();
                        p.partition_index = i;
                        p.leader_id = BrokerId(NODE_ID);
                        p.leader_epoch = LEADER_EPOCH;
                        p.replica_nodes = vec![BrokerId(NODE_ID)];
                        p.isr_nodes = vec![BrokerId(NODE_ID)];
                        t.partitions.push(p);
                    }
                }
                None => {
                    t.error_code = if valid_topic_name(&name) {
                        code::UNKNOWN_TOPIC_OR_PARTITION
                    } else {
                        code::INVALID_TOPIC_EXCEPTION
                    };
                }
            }
            resp.topics.push(t);
        }
        resp
    }

    /// Produce: validates each partition's batch, appends it, and with acks=all makes it durable
    /// before answering.
    pub fn produce(&self, req: ProduceRequest) -> ProduceResponse {
        let mut resp = ProduceResponse::default();
        let acks_ok = matches!(req.acks, -1..=1);
        // Partitions written with acks=all, and the append count each must see durable.
        let mut to_sync: Vec<(Arc<Partition>, u64)> = Vec::new();
        for td in req.topic_data {
            let mut tr = TopicProduceResponse::default();
            tr.name = td.name.clone();
            for pd in td.partition_data {
                let mut pr = PartitionProduceResponse::default();
                pr.index = pd.index;
                pr.base_offset = -1;
                pr.log_append_time_ms = -1;
                pr.log_start_offset = -1;
                let outcome = if !acks_ok {
                    Err(code::INVALID_REQUIRED_ACKS)
                } else {
                    match self.partition(&td.name.0, pd.index) {
                        None => Err(code::UNKNOWN_TOPIC_OR_PARTITION),
                        Some(part) => {
                            let r = self.append_checked(&td.name.0, pd.index, &part, pd.records.unwrap_or_default());
                            if r.is_ok() && req.acks == -1 {
                                let upto = part.log.lock().expect("log").appends();
                                match to_sync.iter_mut().find(|(p, _)| Arc::ptr_eq(p, &part)) {
                                    Some(entry) => entry.1 = upto,
                                    None => to_sync.push((part.clone(), upto)),
                                }
                            }
                            r.map(|(base, start)| (base, start, part))
                        }
                    }
                };
                match outcome {
                    Ok((base, start, part)) => {
                        pr.base_offset = base;
                        pr.log_start_offset = start;
                        let _ = part;
                        self.appended.notify_waiters();
                    }
                    Err(e) => pr.error_code = e,
                }
                tr.partition_responses.push(pr);
            }
            resp.responses.push(tr);
        }
        // acks=all: one fsync per partition touched, after all of this request's appends.
        for (part, upto) in to_sync {
            if let Err(e) = part.make_durable(upto) {
                tracing::error!("fsync failed: {e}");
                for tr in resp.responses.iter_mut() {
                    for pr in tr.partition_responses.iter_mut() {
                        pr.error_code = code::KAFKA_STORAGE_ERROR;
                    }
                }
            }
        }
        resp
    }

    /// One Fetch pass: what is available now for each partition, and how many bytes that is.
    pub fn fetch_once(&self, req: &FetchRequest) -> (FetchResponse, usize, Vec<Arc<Partition>>) {
        let mut resp = FetchResponse::default();
        let mut total = 0usize;
        let mut waiting = Vec::new();
        let max_total = if req.max_bytes > 0 { req.max_bytes as usize } else { usize::MAX };
        for ft in &req.topics {
            let mut tr = FetchableTopicResponse::default();
            tr.topic = ft.topic.clone();
            tr.topic_id = ft.topic_id;
            for fp in &ft.partitions {
                let mut pd = PartitionData::default();
                pd.partition_index = fp.partition;
                pd.high_watermark = -1;
                pd.last_stable_offset = -1;
                pd.log_start_offset = -1;
                pd.preferred_read_replica = BrokerId(-1);
                pd.aborted_transactions = None;
                match self.partition(&ft.topic.0, fp.partition) {
                    None => pd.error_code = code::UNKNOWN_TOPIC_OR_PARTITION,
                    Some(part) => {
                        let log = part.log.lock().expect("log");
                        let (start, end) = (log.start_offset(), log.next_offset());
                        pd.high_watermark = end;
                        pd.last_stable_offset = end;
                        pd.log_start_offset = start;
                        if fp.fetch_offset < start || fp.fetch_offset > end {
                            pd.error_code = code::OFFSET_OUT_OF_RANGE;
                        } else {
                            let room = (max_total.saturating_sub(total)).min(fp.partition_max_bytes.max(0) as usize);
                            // The first partition with data always gets at least one batch.
                            let limit = if total == 0 { room.max(1) } else { room };
                            match log.read(fp.fetch_offset, limit) {
                                Ok(b) if total > 0 && b.len() > room => pd.records = Some(Bytes::new()),
                                Ok(b) => {
                                    total += b.len();
                                    pd.records = Some(b);
                                }
                                Err(_) => pd.error_code = code::KAFKA_STORAGE_ERROR,
                            }
                        }
                        drop(log);
                        waiting.push(part);
                    }
                }
                if pd.records.is_none() {
                    pd.records = Some(Bytes::new());
                }
                tr.partitions.push(pd);
            }
            resp.responses.push(tr);
        }
        (resp, total, waiting)
    }

    /// ListOffsets: earliest (-2), latest (-1), or the first offset at or after a timestamp.
    pub fn list_offsets(&self, req: ListOffsetsRequest, version: i16) -> ListOffsetsResponse {
        let mut resp = ListOffsetsResponse::default();
        for t in req.topics {
            let mut tr = ListOffsetsTopicResponse::default();
            tr.name = t.name.clone();
            for p in t.partitions {
                let mut pr = ListOffsetsPartitionResponse::default();
                pr.partition_index = p.partition_index;
                pr.timestamp = -1;
                pr.offset = -1;
                match self.partition(&t.name.0, p.partition_index) {
                    None => pr.error_code = code::UNKNOWN_TOPIC_OR_PARTITION,
                    Some(part) => {
                        let log = part.log.lock().expect("log");
                        if version >= 4 {
                            pr.leader_epoch = LEADER_EPOCH;
                        }
                        match p.timestamp {
                            -2 => pr.offset = log.start_offset(),
                            -1 => pr.offset = log.next_offset(),
                            ts => {
                                if let Some((off, at)) = log.offset_for_timestamp(ts) {
                                    pr.offset = off;
                                    pr.timestamp = at;
                                }
                            }
                        }
                    }
                }
                tr.partitions.push(pr);
            }
            resp.topics.push(tr);
        }
        resp
    }

    /// Applies retention to every partition (see `Log::apply_retention`).
    pub fn apply_retention(&self, now_ms: i64) -> usize {
        let topics: Vec<Arc<Topic>> = self.topics.lock().expect("topics").values().cloned().collect();
        let mut deleted = 0;
        for t in topics {
            for p in &t.partitions {
                deleted += p.log.lock().expect("log").apply_retention(
                    now_ms,
                    self.config.retention_ms,
                    self.config.retention_bytes,
                );
            }
        }
        deleted
    }

    /// Deletes a topic and its files.
    pub fn delete_topic(&self, name: &str) -> Result<(), i16> {
        let removed = self.topics.lock().expect("topics").remove(name);
        let Some(topic) = removed else { return Err(code::UNKNOWN_TOPIC_OR_PARTITION) };
        if let Some(root) = &self.config.data_dir {
            for p in 0..topic.partitions.len() {
                // Readers holding the partition keep their open files until they finish.
                let _ = std::fs::remove_dir_all(root.join(format!("{name}-{p}")));
            }
        }
        tracing::info!("deleted topic {name}");
        Ok(())
    }

    /// CreatePartitions: grows a topic to `count` partitions.
    pub fn create_partitions(&self, name: &str, count: i32, validate_only: bool) -> Result<(), (i16, String)> {
        let mut topics = self.topics.lock().expect("topics");
        let Some(topic) = topics.get(name).cloned() else {
            return Err((code::UNKNOWN_TOPIC_OR_PARTITION, "This server does not host this topic-partition.".into()));
        };
        let have = topic.partitions.len() as i32;
        if count <= have {
            let msg = if count == have {
                format!("Topic already has {have} partitions.")
            } else {
                format!("Topic currently has {have} partitions, which is higher than the requested {count}.")
            };
            return Err((code::INVALID_PARTITIONS, msg));
        }
        if count > crate::limits::KAFKA_PARTITIONS_COUNT_MAX {
            return Err((
                code::INVALID_PARTITIONS,
                format!("The number of partitions must be at most {}.", crate::limits::KAFKA_PARTITIONS_COUNT_MAX),
            ));
        }
        if validate_only {
            return Ok(());
        }
        let mut parts = topic.partitions.clone();
        for p in have..count {
            let log = match &self.config.data_dir {
                Some(root) => Log::open(&root.join(format!("{name}-{p}")), self.config.segment_bytes)
                    .map_err(|e| (code::KAFKA_STORAGE_ERROR, e.to_string()))?,
                None => Log::in_memory(self.config.segment_bytes),
            };
            parts.push(Arc::new(Partition::new(log)));
        }
        topics.insert(name.to_string(), Arc::new(Topic { id: topic.id, partitions: parts }));
        tracing::info!("topic {name} now has {count} partitions");
        Ok(())
    }

    /// DescribeConfigs: a topic's (resource type 2) or the broker's (4) settings, all defaults.
    pub fn describe_configs(&self, resource_type: i8, name: &str) -> Result<Vec<(&'static str, String)>, i16> {
        match resource_type {
            2 => {
                if self.topic(name).is_none() {
                    return Err(code::UNKNOWN_TOPIC_OR_PARTITION);
                }
                Ok(vec![
                    ("cleanup.policy", "delete".into()),
                    ("compression.type", "producer".into()),
                    ("max.message.bytes", crate::limits::KAFKA_BATCH_BYTES_MAX.to_string()),
                    ("message.timestamp.type", "CreateTime".into()),
                    ("min.insync.replicas", "1".into()),
                    ("retention.bytes", self.config.retention_bytes.to_string()),
                    ("retention.ms", self.config.retention_ms.to_string()),
                    ("segment.bytes", self.config.segment_bytes.to_string()),
                ])
            }
            4 => Ok(vec![
                ("auto.create.topics.enable", "true".into()),
                ("broker.id", NODE_ID.to_string()),
                ("group.initial.rebalance.delay.ms", self.config.initial_rebalance_delay_ms.to_string()),
                ("log.retention.bytes", self.config.retention_bytes.to_string()),
                ("log.retention.ms", self.config.retention_ms.to_string()),
                ("log.segment.bytes", self.config.segment_bytes.to_string()),
                ("message.max.bytes", crate::limits::KAFKA_BATCH_BYTES_MAX.to_string()),
                ("num.partitions", self.config.num_partitions.to_string()),
            ]),
            _ => Err(code::INVALID_REQUEST),
        }
    }

    /// CreateTopics.
    pub fn create_topics(&self, req: CreateTopicsRequest) -> CreateTopicsResponse {
        let mut resp = CreateTopicsResponse::default();
        for t in req.topics {
            let mut r = CreatableTopicResult::default();
            r.name = t.name.clone();
            let parts = if t.num_partitions == -1 { self.config.num_partitions } else { t.num_partitions };
            r.num_partitions = parts;
            r.replication_factor = 1;
            let outcome = if t.replication_factor != -1 && t.replication_factor != 1 {
                Err((code::INVALID_REPLICATION_FACTOR, "Replication factor must be 1 on a single broker.".to_string()))
            } else if !valid_topic_name(&t.name.0) {
                Err((code::INVALID_TOPIC_EXCEPTION, format!("Topic name '{}' is illegal.", &*t.name.0)))
            } else if self.topic(&t.name.0).is_some() {
                Err((code::TOPIC_ALREADY_EXISTS, format!("Topic '{}' already exists.", &*t.name.0)))
            } else if parts < 1 {
                Err((code::INVALID_PARTITIONS, "Number of partitions must be larger than 0.".to_string()))
            } else if req.validate_only {
                Ok(())
            } else {
                self.create_topic(&t.name.0, parts)
                    .map(|_| ())
                    .map_err(|c| (c, "Topic could not be created.".to_string()))
            };
            match outcome {
                Ok(()) => {
                    if let Some(x) = self.topic(&t.name.0) {
                        r.topic_id = x.id;
                    }
                }
                Err((c, msg)) => {
                    r.error_code = c;
                    r.error_message = Some(StrBytes::from_string(msg));
                    r.num_partitions = -1;
                    r.replication_factor = -1;
                }
            }
            resp.topics.push(r);
        }
        resp
    }
}

impl Broker {
    /// InitProducerId: a fresh producer id at epoch 0 (no transactions).
    pub fn init_producer_id(&self) -> (i64, i16) {
        (self.next_producer_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed), 0)
    }

    /// Appends a batch, applying the idempotent producer's sequence rules when it carries a
    /// producer id: the next sequence is appended, a retry of one of the last batches gets its
    /// first answer again (nothing is written twice), anything else is OUT_OF_ORDER_SEQUENCE_NUMBER.
    fn append_checked(&self, topic: &str, p: i32, part: &Partition, records: Bytes) -> Result<(i64, i64), i16> {
        let Ok(info) = batch::inspect(&records) else { return append_one(part, records) };
        if info.producer_id < 0 {
            return append_one(part, records);
        }
        let key = (info.producer_id, topic.to_string(), p);
        let mut seqs = self.sequences.lock().expect("sequences");
        let state = seqs.entry(key).or_default();
        let first = info.base_sequence;
        let last = first.wrapping_add(info.last_offset_delta);
        if state.epoch != info.producer_epoch {
            if info.producer_epoch < state.epoch && !state.recent.is_empty() {
                return Err(code::INVALID_PRODUCER_EPOCH);
            }
            state.epoch = info.producer_epoch;
            state.recent.clear();
        }
        if let Some(&(_, _, base)) = state.recent.iter().find(|(f, l, _)| *f == first && *l == last) {
            let start = part.log.lock().expect("log").start_offset();
            return Ok((base, start));
        }
        let expected = state.recent.back().map(|(_, l, _)| l.wrapping_add(1)).unwrap_or(0);
        if first != expected && !(state.recent.is_empty() && first == 0) {
            return Err(code::OUT_OF_ORDER_SEQUENCE_NUMBER);
        }
        let (base, start) = append_one(part, records)?;
        state.recent.push_back((first, last, base));
        if state.recent.len() > PRODUCER_BATCHES_REMEMBERED_COUNT {
            state.recent.pop_front();
        }
        Ok((base, start))
    }
}

/// Validates and appends the one batch a partition got. Returns (base offset, log start offset).
fn append_one(part: &Partition, records: Bytes) -> Result<(i64, i64), i16> {
    if records.len() > crate::limits::KAFKA_BATCH_BYTES_MAX {
        return Err(code::MESSAGE_TOO_LARGE);
    }
    let info = batch::inspect(&records).map_err(|e| e.code())?;
    if info.size != records.len() {
        // Produce v3+ carries exactly one batch per partition.
        return Err(code::INVALID_RECORD);
    }
    if info.control {
        return Err(code::INVALID_RECORD);
    }
    let mut log = part.log.lock().expect("log");
    let base = log.append(records.to_vec(), &info, LEADER_EPOCH).map_err(|_| code::KAFKA_STORAGE_ERROR)?;
    Ok((base, log.start_offset()))
}
