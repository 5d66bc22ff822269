//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), as
//! client-go sends them for built-in kinds: the magic `k8s\0`, then a `runtime.Unknown` envelope
//! {typeMeta {apiVersion, kind}, raw, contentEncoding, contentType} whose `raw` is the object.
//!
//! Decoded into the JSON the rest of the API works on, for the kinds a Go builder writes:
//! `Secret` (with its `ObjectMeta`) and `DeleteOptions`. Anything else is refused with a
//! 415-style error naming the kind, like a server that cannot decode it.

use serde_json::{json, Map, Value};

const MAGIC: &[u8] = b"k8s\0";

/// A protobuf decoding failure, rendered as the API server's 400 message.
#[derive(Debug, thiserror::Error)]
#[error("error decoding protobuf body: {0}")]
pub struct ProtoError(String);

fn err(what: impl Into<String>) -> ProtoError {
    ProtoError(what.into())
}

/// One field of a message: number and value (varint or bytes).
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ProtoError> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| err("truncated varint"))?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(err("varint longer than 10 bytes"))
    }

    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, ProtoError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        let field = match wire {
            0 => Field::Varint(self.varint()?),
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| err("length overflow"))?;
                if len > self.buf.len() {
                    return Err(err(format!("field {num}: length {len} past the end")));
                }
                let (b, rest) = self.buf.split_at(len);
                self.buf = rest;
                Field::Bytes(b)
            }
            1 => {
                self.skip(8)?;
                Field::Varint(0)
            }
            5 => {
                self.skip(4)?;
                Field::Varint(0)
            }
            w => return Err(err(format!("field {num}: unsupported wire type {w}"))),
        };
        Ok(Some((num, field)))
    }

    fn skip(&mut self, n: usize) -> Result<(), ProtoError> {
        if n > self.buf.len() {
            return Err(err("truncated fixed-width field"));
        }
        self.buf = &self.buf[n..];
        Ok(())
    }
}

fn fields(buf: &[u8]) -> Result<Vec<(u64, Field<'_>)>, ProtoError> {
    let mut r = Reader { buf };
    let mut out = Vec::new();
    while let Some(f) = r.next()? {
        out.push(f);
    }
    Ok(out)
}

fn text(b: &[u8], what: &str) -> Result<String, ProtoError> {
    String::from_utf8(b.to_vec()).map_err(|_| err(format!("{what} is not UTF-8")))
}

/// A `map<string, V>` entry: key = 1, value = 2.
fn map_entry(b: &[u8]) -> Result<(String, &[u8]), ProtoError> {
    let (mut k, mut v) = (String::new(), &b[..0]);
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => k = text(x, "map key")?,
            (2, Field::Bytes(x)) => v = x,
            _ => {}
        }
    }
    Ok((k, v))
}

fn string_map(entries: &[&[u8]]) -> Result<Value, ProtoError> {
    let mut m = Map::new();
    for e in entries {
        let (k, v) = map_entry(e)?;
        m.insert(k, Value::String(text(v, "map value")?));
    }
    Ok(Value::Object(m))
}

/// `ObjectMeta`: the fields a client sets on create.
fn object_meta(b: &[u8]) -> Result<Value, ProtoError> {
    let mut m = Map::new();
    let (mut labels, mut annotations, mut finalizers) = (Vec::new(), Vec::new(), Vec::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => _ = m.insert("name".into(), json!(text(x, "name")?)),
            (2, Field::Bytes(x)) => {
                _ = m.insert("generateName".into(), json!(text(x, "generateName")?))
            }
            (3, Field::Bytes(x)) => _ = m.insert("namespace".into(), json!(text(x, "namespace")?)),
            (6, Field::Bytes(x)) => {
                _ = m.insert("resourceVersion".into(), json!(text(x, "resourceVersion")?))
            }
            (11, Field::Bytes(x)) => labels.push(x),
            (12, Field::Bytes(x)) => annotations.push(x),
            (14, Field::Bytes(x)) => finalizers.push(json!(text(x, "finalizer")?)),
            _ => {}
        }
    }
    if !labels.is_empty() {
        m.insert("labels".into(), string_map(&labels)?);
    }
    if !annotations.is_empty() {
        m.insert("annotations".into(), string_map(&annotations)?);
    }
    if !finalizers.is_empty() {
        m.insert("finalizers".into(), Value::Array(finalizers));
    }
    Ok(Value::Object(m))
}

fn secret(b: &[u8]) -> Result<Value, ProtoError> {
    use base64::Engine as _;
    let mut obj = Map::new();
    obj.insert("apiVersion".into(), json!("v1"));
    obj.insert("kind".into(), json!("Secret"));
    let (mut data, mut string_data) = (Map::new(), Vec::new());
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(x)) => _ = obj.insert("metadata".into(), object_meta(x)?),
            (2, Field::Bytes(x)) => {
                let (k, v) = map_entry(x)?;
                let enc = base64::engine::general_purpose::STANDARD.encode(v);
                data.insert(k, Value::String(enc));
            }
            (3, Field::Bytes(x)) => _ = obj.insert("type".into(), json!(text(x, "type")?)),
            (4, Field::Bytes(x)) => string_data.push(x),
            (5, Field::Varint(v)) => _ = obj.insert("immutable".into(), json!(v != 0)),
            _ => {}
        }
    }
    if !data.is_empty() {
        obj.insert("data".into(), Value::Object(data));
    }
    if !string_data.is_empty() {
        obj.insert("stringData".into(), string_map(&string_data)?);
    }
    Ok(Value::Object(obj))
}

fn delete_options(b: &[u8]) -> Result<Value, ProtoError> {
    let mut obj = Map::new();
    obj.insert("kind".into(), json!("DeleteOptions"));
    obj.insert("apiVersion".into(), json!("v1"));
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Varint(v)) => _ = obj.insert("gracePeriodSeconds".into(), json!(v as i64)),
            (4, Field::Bytes(x)) => {
                _ = obj.insert(
                    "propagationPolicy".into(),
                    json!(text(x, "propagationPolicy")?),
                )
            }
            _ => {}
        }
    }
    Ok(Value::Object(obj))
}

/// Decodes a protobuf request body into JSON.
pub fn decode(body: &[u8]) -> Result<Value, ProtoError> {
    let rest = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| err("missing the k8s\\0 prefix"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &rest[..0]);
    for (n, f) in fields(rest)? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (tn, tf) in fields(tm)? {
                    match (tn, tf) {
                        (1, Field::Bytes(x)) => api_version = text(x, "apiVersion")?,
                        (2, Field::Bytes(x)) => kind = text(x, "kind")?,
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(x)) => raw = x,
            _ => {}
        }
    }
    match (api_version.as_str(), kind.as_str()) {
        ("v1", "Secret") => secret(raw),
        (_, "DeleteOptions") => delete_options(raw),
        _ => Err(err(format!(
            "{api_version} {kind} in protobuf is not supported here; send it as JSON"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![((num << 3) | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    fn entry(k: &str, v: &[u8]) -> Vec<u8> {
        [field(1, k.as_bytes()), field(2, v)].concat()
    }

    #[test]
    fn decodes_a_secret_as_client_go_writes_it() {
        let meta = [
            field(1, b"source-abc"),
            field(3, b"demo"),
            field(11, &entry("source-selector", b"source-abc")),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(4, &entry("user-data", b"#cloud-config\n")),
            field(3, b"Opaque"),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &secret)].concat();
        let v = decode(&body).unwrap();
        assert_eq!(v["metadata"]["name"], "source-abc");
        assert_eq!(v["metadata"]["namespace"], "demo");
        assert_eq!(v["metadata"]["labels"]["source-selector"], "source-abc");
        assert_eq!(v["stringData"]["user-data"], "#cloud-config\n");
        assert_eq!(v["type"], "Opaque");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        // Truncated varints, lengths past the end, no magic, an unknown kind: each is an error.
        for body in [
            &b""[..],
            b"k8s\0",
            b"k8s\0\x0a\xff",
            b"k8s\0\x12\x05ab",
            b"xyz",
        ] {
            assert!(decode(body).is_err(), "{body:?}");
        }
    }
}
