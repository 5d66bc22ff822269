//! Go net/rpc framing with ugorji's msgpack `GoRpc` codec.
//!
//! There is no length prefix: a message is a header map followed by a body value, each a
//! complete msgpack value. Reading therefore means "decode when a whole value is buffered".
use bytes::{Buf, BytesMut};
use packer_wire::msgpack::{self, DecodeError, Value};
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::val;

/// Largest value we are willing to buffer before giving up on a peer. The biggest message
/// Packer sends is a Prepare with the whole template (kilobytes); this only stops garbage.
pub const MAX_MESSAGE: usize = 64 << 20;
const READ_CHUNK: usize = 64 << 10;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("read rpc message: {0}")]
    Io(#[from] std::io::Error),
    #[error("decode rpc message: {0}")]
    Decode(String),
    #[error("rpc message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    #[error("connection closed in the middle of an rpc message")]
    Truncated,
    #[error("bad rpc {what} header: {detail}")]
    BadHeader { what: &'static str, detail: String },
}

/// Go's `rpc.Request` (its unexported `next` field is never sent).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestHeader {
    pub service_method: String,
    pub seq: u64,
}

/// Go's `rpc.Response`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseHeader {
    pub service_method: String,
    pub seq: u64,
    pub error: String,
}

/// Appends a request: `{"ServiceMethod": m, "Seq": n}` then `body`.
pub fn encode_request(out: &mut Vec<u8>, service_method: &str, seq: u64, body: &Value) {
    let header = val::map([
        ("ServiceMethod", val::str(service_method)),
        ("Seq", Value::Uint(seq)),
    ]);
    msgpack::encode(&header, out);
    msgpack::encode(body, out);
}

/// Appends a response. With a non-empty `error` the body is replaced by an empty map, as
/// net/rpc does (it sends its `invalidRequest` struct{}).
pub fn encode_response(
    out: &mut Vec<u8>,
    service_method: &str,
    seq: u64,
    error: &str,
    body: &Value,
) {
    let header = val::map([
        ("ServiceMethod", val::str(service_method)),
        ("Seq", Value::Uint(seq)),
        ("Error", val::str(error)),
    ]);
    msgpack::encode(&header, out);
    if error.is_empty() {
        msgpack::encode(body, out);
    } else {
        msgpack::encode(&Value::Map(Vec::new()), out);
    }
}

fn parse_common(what: &'static str, h: &Value) -> Result<(String, u64), FrameError> {
    let bad = |detail: String| FrameError::BadHeader { what, detail };
    if !matches!(h, Value::Map(_)) {
        return Err(bad(format!("expected a map, got {}", val::kind(h))));
    }
    let method = val::field_string(h, "ServiceMethod")
        .ok_or_else(|| bad("ServiceMethod is not a string".into()))?;
    let seq = val::get(h, "Seq")
        .map_or(Some(0), val::as_u64)
        .ok_or_else(|| bad("Seq is not an unsigned integer".into()))?;
    Ok((method, seq))
}

pub fn parse_request_header(h: &Value) -> Result<RequestHeader, FrameError> {
    let (service_method, seq) = parse_common("request", h)?;
    Ok(RequestHeader {
        service_method,
        seq,
    })
}

pub fn parse_response_header(h: &Value) -> Result<ResponseHeader, FrameError> {
    let (service_method, seq) = parse_common("response", h)?;
    let error = val::field_string(h, "Error").ok_or_else(|| FrameError::BadHeader {
        what: "response",
        detail: "Error is not a string".into(),
    })?;
    Ok(ResponseHeader {
        service_method,
        seq,
        error,
    })
}

/// Reads whole msgpack values from a byte stream that delivers them in arbitrary pieces.
pub struct ValueReader<R> {
    io: R,
    buf: BytesMut,
}

impl<R: AsyncRead + Unpin> ValueReader<R> {
    pub fn new(io: R) -> Self {
        ValueReader {
            io,
            buf: BytesMut::with_capacity(READ_CHUNK),
        }
    }

    /// The next value; `Ok(None)` on a clean end of stream between values.
    pub async fn next_value(&mut self) -> Result<Option<Value>, FrameError> {
        loop {
            if !self.buf.is_empty() {
                match msgpack::decode(&self.buf) {
                    Ok((v, used)) => {
                        self.buf.advance(used);
                        return Ok(Some(v));
                    }
                    Err(DecodeError::Incomplete) => {
                        if self.buf.len() > MAX_MESSAGE {
                            return Err(FrameError::TooLarge);
                        }
                    }
                    Err(e) => return Err(FrameError::Decode(e.to_string())),
                }
            }
            self.buf.reserve(READ_CHUNK);
            let n = self.io.read_buf(&mut self.buf).await?;
            if n == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(FrameError::Truncated)
                };
            }
        }
    }

    /// A header and its body; `Ok(None)` on a clean end of stream before the header.
    async fn next_pair(&mut self) -> Result<Option<(Value, Value)>, FrameError> {
        let Some(header) = self.next_value().await? else {
            return Ok(None);
        };
        match self.next_value().await? {
            Some(body) => Ok(Some((header, body))),
            None => Err(FrameError::Truncated),
        }
    }

    pub async fn read_request(&mut self) -> Result<Option<(RequestHeader, Value)>, FrameError> {
        match self.next_pair().await? {
            None => Ok(None),
            Some((h, body)) => Ok(Some((parse_request_header(&h)?, body))),
        }
    }

    pub async fn read_response(&mut self) -> Result<Option<(ResponseHeader, Value)>, FrameError> {
        match self.next_pair().await? {
            None => Ok(None),
            Some((h, body)) => Ok(Some((parse_response_header(&h)?, body))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Builder.Run request and reply, copied from captures/out_hcl_packer-builder-null.
    const RUN_REQ: &str =
        "82 ad 53657276696365 4d6574686f64 ab 4275696c6465722e52756e a3 536571 02 01";
    const RUN_REPLY: &str =
        "83 ad 53657276696365 4d6574686f64 ab 4275696c6465722e52756e a3 536571 02 a5 4572726f72 a0 02";

    #[test]
    fn request_bytes_match_capture() {
        let mut out = Vec::new();
        encode_request(&mut out, "Builder.Run", 2, &Value::Uint(1));
        assert_eq!(out, hex(RUN_REQ));
    }

    #[test]
    fn response_bytes_match_capture() {
        let mut out = Vec::new();
        encode_response(&mut out, "Builder.Run", 2, "", &Value::Uint(2));
        assert_eq!(out, hex(RUN_REPLY));
    }

    #[test]
    fn error_response_has_empty_map_body() {
        // captures/out_err_run_packer-builder-null, Builder.Run reply.
        let mut out = Vec::new();
        encode_response(
            &mut out,
            "Builder.Run",
            2,
            "Timeout waiting for SSH.",
            &Value::Uint(7),
        );
        let mut want = hex("83 ad 53657276696365 4d6574686f64 ab 4275696c6465722e52756e a3 536571 02 a5 4572726f72 b8");
        want.extend_from_slice(b"Timeout waiting for SSH.");
        want.push(0x80);
        assert_eq!(out, want);
    }

    /// A reader that hands out one byte per read, to exercise reassembly.
    struct Trickle(Vec<u8>, usize);
    impl AsyncRead for Trickle {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if self.1 < self.0.len() && buf.remaining() > 0 {
                let b = self.0[self.1];
                buf.put_slice(&[b]);
                self.1 += 1;
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn reads_back_to_back_messages_split_anywhere() {
        let mut bytes = hex(RUN_REQ);
        bytes.extend(hex(RUN_REQ));
        let mut r = ValueReader::new(Trickle(bytes, 0));
        for _ in 0..2 {
            let (h, body) = r.read_request().await.unwrap().unwrap();
            assert_eq!(
                h,
                RequestHeader {
                    service_method: "Builder.Run".into(),
                    seq: 2
                }
            );
            assert_eq!(crate::val::as_u64(&body), Some(1));
        }
        assert!(r.read_request().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn truncated_message_is_an_error() {
        let bytes = hex(RUN_REPLY);
        let cut = bytes[..bytes.len() - 3].to_vec();
        let mut r = ValueReader::new(Trickle(cut, 0));
        assert!(matches!(
            r.read_response().await,
            Err(FrameError::Truncated)
        ));
        // Header complete, body missing.
        let cut = bytes[..bytes.len() - 1].to_vec();
        let mut r = ValueReader::new(&cut[..]);
        assert!(matches!(
            r.read_response().await,
            Err(FrameError::Truncated)
        ));
    }

    #[tokio::test]
    async fn response_header_parses_error() {
        let mut out = Vec::new();
        encode_response(&mut out, "X.Y", 9, "boom", &Value::Nil);
        let mut r = ValueReader::new(&out[..]);
        let (h, body) = r.read_response().await.unwrap().unwrap();
        assert_eq!(h.error, "boom");
        assert_eq!(h.seq, 9);
        assert_eq!(body, Value::Map(vec![]));
    }

    #[tokio::test]
    async fn garbage_is_rejected() {
        // 0xc1 is never used in msgpack.
        let bytes = [0xc1u8, 0, 0];
        let mut r = ValueReader::new(&bytes[..]);
        assert!(r.next_value().await.is_err());
    }
}
