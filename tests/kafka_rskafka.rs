//! rskafka 0.6 against the broker: it creates a topic through the controller, produces with
//! Produce v3–7, fetches with exactly Fetch v4 (the oldest version terrarium serves, and the
//! one whose response lacks `log_start_offset`), and asks ListOffsets for both ends.

mod common;

use std::collections::BTreeMap;

use rskafka::client::partition::{Compression, OffsetAt, UnknownTopicHandling};
use rskafka::client::ClientBuilder;
use rskafka::record::Record;

#[test]
fn rskafka_creates_produces_fetches_and_lists_offsets() {
    let (_t, port) = common::spawn_terrarium(&["--ephemeral"], "Kafka");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async move {
        let client = ClientBuilder::new(vec![format!("127.0.0.1:{port}")]).build().await.expect("connect");
        client.controller_client().unwrap().create_topic("wal", 2, 1, 5_000).await.expect("create_topic");
        let topics = client.list_topics().await.unwrap();
        assert!(topics.iter().any(|t| t.name == "wal" && t.partitions.len() == 2));
        let p = client.partition_client("wal", 1, UnknownTopicHandling::Retry).await.unwrap();
        let record = |i: usize| Record {
            key: Some(format!("k{i}").into_bytes()),
            value: Some(vec![b'x'; 100 + i]),
            headers: BTreeMap::from([("n".to_string(), i.to_string().into_bytes())]),
            timestamp: chrono::Utc::now(),
        };
        let first = p.produce((0..10).map(record).collect(), Compression::NoCompression).await.unwrap();
        assert_eq!(first, (0..10).collect::<Vec<i64>>());
        let second = p.produce((10..15).map(record).collect(), Compression::NoCompression).await.unwrap();
        assert_eq!(second, (10..15).collect::<Vec<i64>>());
        assert_eq!(p.get_offset(OffsetAt::Earliest).await.unwrap(), 0);
        assert_eq!(p.get_offset(OffsetAt::Latest).await.unwrap(), 15);
        // Fetch from the middle of the first batch: rskafka drops the records before offset 3.
        let (records, hwm) = p.fetch_records(3, 1..1_000_000, 100).await.unwrap();
        assert_eq!(hwm, 15);
        let offsets: Vec<i64> = records.iter().map(|r| r.offset).collect();
        assert_eq!(offsets, (3..15).collect::<Vec<i64>>());
        assert_eq!(records[0].record.headers["n"], b"3".to_vec());
        assert_eq!(records[0].record.value.as_ref().map(|v| v.len()), Some(103));
        // Past the end: OFFSET_OUT_OF_RANGE, as Kafka answers.
        let err = p.fetch_records(16, 1..1000, 10).await.unwrap_err();
        assert!(format!("{err}").contains("OffsetOutOfRange"), "{err}");
    });
}
