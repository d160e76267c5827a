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

use super::{code, Broker};
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
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 0, 7),
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
        match handle(&broker, Bytes::from(frame)).await {
            Ok(Some(reply)) => stream.write_all(&reply).await?,
            Ok(None) => {}
            Err(why) => return Err(std::io::Error::other(why)),
        }
    }
}

/// Decodes one request and produces its framed response (`None`: no response, acks=0). `Err`
/// closes the connection.
pub async fn handle(broker: &Broker, mut frame: Bytes) -> Result<Option<Bytes>, String> {
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
        _ => return Err(format!("{key:?} is not served")),
    };
    let _ = header;
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
