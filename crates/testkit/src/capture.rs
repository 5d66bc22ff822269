//! Reads the byte captures of real Packer ⇄ plugin traffic
//! (`testdata/packer-1.6.6-captures/<dir>/{core2plugin,plugin2core}.bin` in the workspace).
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use packer_rpc::netrpc::codec::{
    parse_request_header, parse_response_header, RequestHeader, ResponseHeader,
};
use packer_wire::msgpack::{self, Value};

#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("read capture {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("capture {what}: {detail}")]
    Format { what: String, detail: String },
}

/// Where the captures live: the workspace's `testdata/packer-1.6.6-captures`;
/// `PACKER_CAPTURES` overrides.
pub fn captures_dir() -> PathBuf {
    std::env::var_os("PACKER_CAPTURES").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/packer-1.6.6-captures"),
        PathBuf::from,
    )
}

/// Concatenated Data-frame payloads per yamux stream id, in order, of one direction.
pub fn stream_bytes(bin: &[u8]) -> Result<BTreeMap<u32, Vec<u8>>, CaptureError> {
    let mut out: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
    let mut pos = 0usize;
    while pos < bin.len() {
        let h = bin.get(pos..pos + 12).ok_or_else(|| CaptureError::Format {
            what: "yamux".into(),
            detail: format!("truncated header at {pos}"),
        })?;
        let ty = h[1];
        let stream = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let len = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as usize;
        pos += 12;
        if ty == 0 {
            let data = bin
                .get(pos..pos + len)
                .ok_or_else(|| CaptureError::Format {
                    what: "yamux".into(),
                    detail: format!("truncated data frame at {pos}"),
                })?;
            out.entry(stream).or_default().extend_from_slice(data);
            pos += len;
        }
    }
    Ok(out)
}

/// Decodes back-to-back msgpack values.
pub fn values(mut bytes: &[u8]) -> Result<Vec<Value>, CaptureError> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (v, n) = msgpack::decode(bytes).map_err(|e| CaptureError::Format {
            what: "msgpack".into(),
            detail: format!("{e:?}"),
        })?;
        out.push(v);
        bytes = &bytes[n..];
    }
    Ok(out)
}

/// One captured build: the RPC traffic on the main (broker id 0) stream.
#[derive(Debug, Clone)]
pub struct MainStream {
    pub requests: Vec<(RequestHeader, Value)>,
    /// The exact bytes core sent for each request (header + body), for byte-exact replay.
    pub request_bytes: Vec<Vec<u8>>,
    pub responses: Vec<(ResponseHeader, Value)>,
}

fn pairs(vals: Vec<Value>, what: &str) -> Result<Vec<(Value, Value)>, CaptureError> {
    if !vals.len().is_multiple_of(2) {
        return Err(CaptureError::Format {
            what: what.into(),
            detail: "odd number of values".into(),
        });
    }
    let mut it = vals.into_iter();
    let mut out = Vec::new();
    while let (Some(h), Some(b)) = (it.next(), it.next()) {
        out.push((h, b));
    }
    Ok(out)
}

/// Reads yamux stream 1 (core's `Dial(0)`) of a capture dir, without the 4-byte broker ids.
pub fn main_stream(dir: &Path) -> Result<MainStream, CaptureError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| CaptureError::Read { path, source })
    };
    let c2p = stream_bytes(&read("core2plugin.bin")?)?;
    let p2c = stream_bytes(&read("plugin2core.bin")?)?;
    let fmt = |d: &str| CaptureError::Format {
        what: dir.display().to_string(),
        detail: d.into(),
    };
    let req = c2p
        .get(&1)
        .and_then(|b| b.get(4..))
        .ok_or_else(|| fmt("no core→plugin data on stream 1"))?;
    let resp = p2c
        .get(&1)
        .and_then(|b| b.get(4..))
        .ok_or_else(|| fmt("no plugin→core data on stream 1"))?;
    let mut request_bytes = Vec::new();
    let mut rest = req;
    while !rest.is_empty() {
        let mut len = 0;
        for _ in 0..2 {
            let (_, n) = msgpack::decode(&rest[len..]).map_err(|e| CaptureError::Format {
                what: "msgpack".into(),
                detail: format!("{e:?}"),
            })?;
            len += n;
        }
        request_bytes.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    let requests = pairs(values(req)?, "requests")?
        .into_iter()
        .map(|(h, b)| parse_request_header(&h).map(|h| (h, b)))
        .collect::<Result<_, _>>()
        .map_err(|e| fmt(&e.to_string()))?;
    let responses = pairs(values(resp)?, "responses")?
        .into_iter()
        .map(|(h, b)| parse_response_header(&h).map(|h| (h, b)))
        .collect::<Result<_, _>>()
        .map_err(|e| fmt(&e.to_string()))?;
    Ok(MainStream {
        requests,
        request_bytes,
        responses,
    })
}

/// The wire shape of a value: map keys (in order) and msgpack types, not the contents.
/// Integers are one kind (Go decodes any width into its field).
pub fn shape(v: &Value) -> String {
    match v {
        Value::Nil => "nil".into(),
        Value::Bool(_) => "bool".into(),
        Value::Int(_) | Value::Uint(_) => "int".into(),
        Value::F32(_) | Value::F64(_) => "float".into(),
        Value::Str(_) => "str".into(),
        Value::Bin(_) => "bin".into(),
        Value::Ext(t, _) => format!("ext{t}"),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(shape).collect();
            format!("[{}]", inner.join(","))
        }
        Value::Map(entries) => {
            let inner: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}:{}", key_text(k), shape(v)))
                .collect();
            format!("{{{}}}", inner.join(","))
        }
    }
}

fn key_text(k: &Value) -> String {
    match k {
        Value::Str(s) => s.clone(),
        other => shape(other),
    }
}
