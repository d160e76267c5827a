//! The Kafka-wire broker over real sockets: kcat (Debian's, librdkafka 2.0.2) producing and
//! consuming, compressed batches passing through, acknowledged messages surviving kill -9, and
//! malformed frames getting Kafka's error codes or a clean close.
//!
//! kcat is required under CI=true (.ci/run installs it); elsewhere its tests are skipped.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

fn kcat(port: u16, args: &[&str], stdin: &str) -> String {
    let mut child = Command::new("kcat")
        .arg("-b")
        .arg(format!("127.0.0.1:{port}"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "kcat {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn kcat_produces_and_consumes_with_keys_partitions_and_compression() {
    let Some(_) = common::tool("kcat") else { return };
    let (_t, port) = common::spawn_terrarium(&["--ephemeral", "--num-partitions", "3"], "Kafka");
    let meta = kcat(port, &["-L"], "");
    assert!(meta.contains("broker 1 at 127.0.0.1:"), "{meta}");
    let lines: String = (0..30).map(|i| format!("user{}:post {i}\n", i % 5)).collect();
    kcat(port, &["-P", "-t", "blog-published", "-K:", "-X", "acks=all"], &lines);
    let meta = kcat(port, &["-L", "-t", "blog-published"], "");
    assert!(meta.contains("with 3 partitions"), "auto-created with num.partitions: {meta}");
    let got = kcat(port, &["-C", "-t", "blog-published", "-e", "-q", "-f", "%p %o %k %s\n"], "");
    let mut rows: Vec<(String, i64, String, String)> = got
        .lines()
        .map(|l| {
            let w: Vec<&str> = l.splitn(4, ' ').collect();
            (w[0].to_string(), w[1].parse().unwrap(), w[2].to_string(), w[3].to_string())
        })
        .collect();
    assert_eq!(rows.len(), 30);
    // One key always lands in one partition, and offsets count up from 0 in each.
    for key in 0..5 {
        let parts: std::collections::BTreeSet<_> =
            rows.iter().filter(|r| r.2 == format!("user{key}")).map(|r| r.0.clone()).collect();
        assert_eq!(parts.len(), 1, "user{key} in one partition");
    }
    rows.sort();
    for p in ["0", "1", "2"] {
        let offs: Vec<i64> = rows.iter().filter(|r| r.0 == p).map(|r| r.1).collect();
        assert_eq!(offs, (0..offs.len() as i64).collect::<Vec<_>>());
    }
    // Compressed batches are stored and served as they came.
    for codec in ["gzip", "snappy", "lz4"] {
        let topic = format!("z-{codec}");
        let body: String = (1..=500).map(|i| format!("{i}\n")).collect();
        kcat(port, &["-P", "-t", &topic, "-p", "0", "-z", codec], &body);
        let got = kcat(port, &["-C", "-t", &topic, "-e", "-q"], "");
        let sum: i64 = got.lines().map(|l| l.parse::<i64>().unwrap()).sum();
        assert_eq!(sum, 500 * 501 / 2, "{codec}");
    }
    // Reading from the end of partition 0: the last three.
    let tail = kcat(port, &["-C", "-t", "z-gzip", "-p", "0", "-o", "-3", "-e", "-q"], "");
    assert_eq!(tail, "498\n499\n500\n");
}

#[test]
fn acknowledged_messages_survive_kill_9() {
    let Some(_) = common::tool("kcat") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let body: String = (1..=2000).map(|i| format!("{i}\n")).collect();
    {
        let (mut t, port) = common::spawn_terrarium(&["--data-dir", data], "Kafka");
        kcat(port, &["-P", "-t", "durable", "-X", "acks=all", "-z", "gzip"], &body);
        t.0.kill().unwrap(); // SIGKILL: no shutdown path runs
        t.0.wait().unwrap();
    }
    let (_t, port) = common::spawn_terrarium(&["--data-dir", data], "Kafka");
    let got = kcat(port, &["-C", "-t", "durable", "-e", "-q"], "");
    assert_eq!(got, body, "every acknowledged message, in order");
    // And the log goes on from where it was.
    kcat(port, &["-P", "-t", "durable"], "2001\n");
    let last = kcat(port, &["-C", "-t", "durable", "-o", "-1", "-e", "-q", "-f", "%o %s\n"], "");
    assert_eq!(last, "2000 2001\n");
}

// ------------------------------------------------------------------------------------------------
// Raw frames
// ------------------------------------------------------------------------------------------------

fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn request<M: Encodable>(key: ApiKey, version: i16, body: &M) -> Vec<u8> {
    let mut h = RequestHeader::default();
    h.request_api_key = key as i16;
    h.request_api_version = version;
    h.correlation_id = 7;
    h.client_id = Some(StrBytes::from_static_str("test"));
    let mut b = BytesMut::new();
    b.put_i32(0);
    h.encode(&mut b, key.request_header_version(version)).unwrap();
    body.encode(&mut b, version).unwrap();
    let n = (b.len() - 4) as i32;
    b[0..4].copy_from_slice(&n.to_be_bytes());
    b.to_vec()
}

/// Reads one response; `None` if the server closed the connection.
fn response(s: &mut TcpStream) -> Option<Bytes> {
    let mut size = [0u8; 4];
    s.read_exact(&mut size).ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(size) as usize];
    s.read_exact(&mut body).ok()?;
    Some(Bytes::from(body))
}

fn closed(s: &mut TcpStream) -> bool {
    let mut b = [0u8; 1];
    matches!(s.read(&mut b), Ok(0) | Err(_))
}

/// A one-record batch with a valid CRC.
fn batch(value: &[u8]) -> Vec<u8> {
    let mut rec = vec![0u8, 0, 0, 1]; // attributes, ts delta 0, offset delta 0, key null (-1 zigzag = 1)
    rec.push((value.len() * 2) as u8);
    rec.extend_from_slice(value);
    rec.push(0); // headers
    let mut b = vec![0u8; 61];
    b[16] = 2;
    b[43..51].copy_from_slice(&(-1i64).to_be_bytes());
    b[51..53].copy_from_slice(&(-1i16).to_be_bytes());
    b[53..57].copy_from_slice(&(-1i32).to_be_bytes());
    b[57..61].copy_from_slice(&1i32.to_be_bytes());
    b.push((rec.len() * 2) as u8);
    b.extend_from_slice(&rec);
    let len = (b.len() - 12) as i32;
    b[8..12].copy_from_slice(&len.to_be_bytes());
    let crc = crc32c::crc32c(&b[21..]);
    b[17..21].copy_from_slice(&crc.to_be_bytes());
    b
}

fn produce(records: Vec<u8>, acks: i16) -> ProduceRequest {
    let mut pd = PartitionProduceData::default();
    pd.index = 0;
    pd.records = Some(Bytes::from(records));
    let mut td = TopicProduceData::default();
    td.name = TopicName(StrBytes::from_static_str("raw"));
    td.partition_data = vec![pd];
    let mut req = ProduceRequest::default();
    req.acks = acks;
    req.timeout_ms = 1000;
    req.topic_data = vec![td];
    req
}

fn produce_error(s: &mut TcpStream, records: Vec<u8>) -> (i16, i64) {
    s.write_all(&request(ApiKey::Produce, 7, &produce(records, 1))).unwrap();
    let mut r = response(s).expect("a response");
    let _correlation = i32::from_be_bytes(r[0..4].try_into().unwrap());
    let _ = bytes::Buf::get_i32(&mut r);
    let resp = ProduceResponse::decode(&mut r, 7).unwrap();
    let p = &resp.responses[0].partition_responses[0];
    (p.error_code, p.base_offset)
}

#[test]
fn malformed_frames_get_kafka_errors_or_a_clean_close() {
    let (_t, port) = common::spawn_terrarium(&["--ephemeral"], "Kafka");
    // Create the topic through CreateTopics v4.
    let mut s = connect(port);
    let mut ct = create_topics_request::CreatableTopic::default();
    ct.name = TopicName(StrBytes::from_static_str("raw"));
    ct.num_partitions = 1;
    ct.replication_factor = 1;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![ct.clone()];
    s.write_all(&request(ApiKey::CreateTopics, 4, &req)).unwrap();
    let mut r = response(&mut s).unwrap();
    let _ = bytes::Buf::get_i32(&mut r);
    assert_eq!(CreateTopicsResponse::decode(&mut r, 4).unwrap().topics[0].error_code, 0);
    s.write_all(&request(ApiKey::CreateTopics, 4, &req)).unwrap();
    let mut r = response(&mut s).unwrap();
    let _ = bytes::Buf::get_i32(&mut r);
    assert_eq!(CreateTopicsResponse::decode(&mut r, 4).unwrap().topics[0].error_code, 36, "TOPIC_ALREADY_EXISTS");

    // Batches: good, corrupt CRC, truncated, two in one, old magic, acks=0 (no response).
    assert_eq!(produce_error(&mut s, batch(b"one")), (0, 0));
    let mut bad = batch(b"two");
    *bad.last_mut().unwrap() ^= 0xFF;
    assert_eq!(produce_error(&mut s, bad).0, 2, "CORRUPT_MESSAGE");
    let good = batch(b"three");
    assert_eq!(produce_error(&mut s, good[..good.len() - 3].to_vec()).0, 2, "truncated");
    let mut two = batch(b"a");
    two.extend_from_slice(&batch(b"b"));
    assert_eq!(produce_error(&mut s, two).0, 87, "INVALID_RECORD: one batch per partition");
    let mut old = batch(b"old");
    old[16] = 1;
    assert_eq!(produce_error(&mut s, old).0, 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT");
    s.write_all(&request(ApiKey::Produce, 7, &produce(batch(b"quiet"), 0))).unwrap();
    assert_eq!(produce_error(&mut s, batch(b"four")), (0, 2), "acks=0 got no response, but was stored");

    // ApiVersions at an unknown version: error 35 in the v0 layout, listing our range.
    let mut s = connect(port);
    s.write_all(&request(ApiKey::ApiVersions, 3, &ApiVersionsRequest::default())[..]).unwrap();
    let _ = response(&mut s).unwrap();
    let mut raw = request(ApiKey::ApiVersions, 0, &ApiVersionsRequest::default());
    raw[6..8].copy_from_slice(&99i16.to_be_bytes());
    s.write_all(&raw).unwrap();
    let mut r = response(&mut s).unwrap();
    let _ = bytes::Buf::get_i32(&mut r);
    let v = ApiVersionsResponse::decode(&mut r, 0).unwrap();
    assert_eq!(v.error_code, 35);
    assert!(v.api_keys.iter().any(|k| k.api_key == 18 && k.max_version == 4));

    // A frame size above the limit closes at once (nothing is allocated for it).
    let mut s = connect(port);
    s.write_all(&i32::MAX.to_be_bytes()).unwrap();
    assert!(closed(&mut s));
    // A negative size, an unknown API key, a version not served, a body cut short: all close.
    for frame in [
        (-5i32).to_be_bytes().to_vec(),
        [&10i32.to_be_bytes()[..], &[0x7F, 0x00, 0, 0, 0, 0, 0, 1, 0, 0]].concat(),
        request(ApiKey::Fetch, 13, &FetchRequest::default()),
        [&20i32.to_be_bytes()[..], &[0, 3, 0, 1, 0, 0, 0, 1, 0, 4, b't']].concat(),
    ] {
        let mut s = connect(port);
        s.write_all(&frame).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
        assert!(closed(&mut s), "{frame:?}");
    }
    // The broker is still serving.
    let mut s = connect(port);
    assert_eq!(produce_error(&mut s, batch(b"five")), (0, 3));
}

#[test]
fn kcat_consumer_groups_commit_resume_and_survive_a_restart() {
    let Some(_) = common::tool("kcat") else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let consume = |port: u16, group: &str| -> Vec<String> {
        let out = kcat(
            port,
            &["-G", group, "blog", "-X", "auto.offset.reset=earliest", "-e", "-q", "-f", "%p %o %k %s\n"],
            "",
        );
        let mut v: Vec<String> = out.lines().map(String::from).collect();
        v.sort();
        v
    };
    let posts =
        |from: usize, to: usize| -> String { (from..to).map(|i| format!("user{}:post {i}\n", i % 4)).collect() };
    {
        let (mut t, port) = common::spawn_terrarium(&["--data-dir", data, "--num-partitions", "3"], "Kafka");
        kcat(port, &["-P", "-t", "blog", "-K:", "-X", "acks=all"], &posts(0, 9));
        assert_eq!(consume(port, "indexer").len(), 9, "a new group reads from the start");
        kcat(port, &["-P", "-t", "blog", "-K:", "-X", "acks=all"], &posts(9, 11));
        let again = consume(port, "indexer");
        assert_eq!(again.len(), 2, "the group resumes from its committed offsets: {again:?}");
        assert!(again.iter().all(|l| l.ends_with("post 9") || l.ends_with("post 10")));
        assert_eq!(consume(port, "counter").len(), 11, "another group reads everything, independently");
        t.0.kill().unwrap();
        t.0.wait().unwrap();
    }
    let (_t, port) = common::spawn_terrarium(&["--data-dir", data], "Kafka");
    assert!(consume(port, "indexer").is_empty(), "committed offsets survive kill -9");
    kcat(port, &["-P", "-t", "blog", "-K:"], "user1:post 11\n");
    assert_eq!(consume(port, "indexer").len(), 1);
    assert_eq!(consume(port, "counter").len(), 1);
}

/// Sends one request and decodes its response (the header is v0 or v1 by the API's rules).
fn call<Req: Encodable, Resp: Decodable>(s: &mut TcpStream, key: ApiKey, version: i16, req: &Req) -> Resp {
    s.write_all(&request(key, version, req)).unwrap();
    let mut r = response(s).expect("a response");
    let h = ResponseHeader::decode(&mut r, key.response_header_version(version)).unwrap();
    assert_eq!(h.correlation_id, 7);
    Resp::decode(&mut r, version).unwrap()
}

#[test]
fn admin_apis_create_grow_describe_and_delete_topics() {
    let (_t, port) = common::spawn_terrarium(&["--ephemeral"], "Kafka");
    let mut s = connect(port);
    let mut ct = create_topics_request::CreatableTopic::default();
    ct.name = TopicName(StrBytes::from_static_str("admin"));
    ct.num_partitions = 1;
    ct.replication_factor = 3;
    let mut req = CreateTopicsRequest::default();
    req.topics = vec![ct.clone()];
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 5, &req);
    assert_eq!(r.topics[0].error_code, 38, "INVALID_REPLICATION_FACTOR on one broker");
    req.topics[0].replication_factor = -1;
    let r: CreateTopicsResponse = call(&mut s, ApiKey::CreateTopics, 5, &req);
    assert_eq!((r.topics[0].error_code, r.topics[0].num_partitions), (0, 1));

    let mut cp = create_partitions_request::CreatePartitionsTopic::default();
    cp.name = TopicName(StrBytes::from_static_str("admin"));
    cp.count = 3;
    let mut req = CreatePartitionsRequest::default();
    req.topics = vec![cp];
    let r: CreatePartitionsResponse = call(&mut s, ApiKey::CreatePartitions, 2, &req);
    assert_eq!(r.results[0].error_code, 0);
    req.topics[0].count = 2;
    let r: CreatePartitionsResponse = call(&mut s, ApiKey::CreatePartitions, 2, &req);
    assert_eq!(r.results[0].error_code, 37);
    assert_eq!(
        r.results[0].error_message.as_deref(),
        Some("Topic currently has 3 partitions, which is higher than the requested 2.")
    );

    let mut mreq = MetadataRequest::default();
    let mut mt = metadata_request::MetadataRequestTopic::default();
    mt.name = Some(TopicName(StrBytes::from_static_str("admin")));
    mreq.topics = Some(vec![mt]);
    let m: MetadataResponse = call(&mut s, ApiKey::Metadata, 9, &mreq);
    assert_eq!(m.topics[0].partitions.len(), 3);
    assert_eq!(m.controller_id, BrokerId(1));
    assert!(m.brokers.iter().any(|b| b.node_id == m.controller_id), "kafkajs needs the controller listed");

    let mut dc = describe_configs_request::DescribeConfigsResource::default();
    dc.resource_type = 2;
    dc.resource_name = StrBytes::from_static_str("admin");
    dc.configuration_keys = None; // null: every key
    let mut dreq = DescribeConfigsRequest::default();
    dreq.resources = vec![dc];
    let d: DescribeConfigsResponse = call(&mut s, ApiKey::DescribeConfigs, 2, &dreq);
    assert!(d.results[0].configs.iter().any(|c| &*c.name == "cleanup.policy" && c.value.as_deref() == Some("delete")));

    let mut del = DeleteTopicsRequest::default();
    del.topic_names = vec![TopicName(StrBytes::from_static_str("admin")), TopicName(StrBytes::from_static_str("nope"))];
    let r: DeleteTopicsResponse = call(&mut s, ApiKey::DeleteTopics, 4, &del);
    assert_eq!(r.responses.iter().map(|x| x.error_code).collect::<Vec<_>>(), vec![0, 3]);
    mreq.allow_auto_topic_creation = false;
    let m: MetadataResponse = call(&mut s, ApiKey::Metadata, 9, &mreq);
    assert_eq!(m.topics[0].error_code, 3, "gone, and not recreated when the client says so");
}
