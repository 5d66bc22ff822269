//! The 12-byte yamux frame header (hashicorp/yamux protocol version 0).
//!
//! Pure encoding and decoding; no I/O. Everything is big-endian.
use super::error::ProtocolError;

/// The only protocol version hashicorp/yamux speaks.
pub const PROTO_VERSION: u8 = 0;
/// Size of every frame header.
pub const HEADER_LEN: usize = 12;
/// The window both sides assume for every new stream before any WindowUpdate.
pub const INITIAL_WINDOW: u32 = 256 * 1024;

/// Frame flags (bit set in the 16-bit flags field).
pub mod flags {
    /// Opens a stream.
    pub const SYN: u16 = 1;
    /// Accepts a stream (or answers a ping).
    pub const ACK: u16 = 2;
    /// Half-close: the sender will send no more data on this stream.
    pub const FIN: u16 = 4;
    /// Abort the stream.
    pub const RST: u16 = 8;
}

/// GoAway codes.
pub mod goaway {
    /// Normal termination: no new streams.
    pub const NORMAL: u32 = 0;
    /// The sender saw a protocol error.
    pub const PROTOCOL_ERROR: u32 = 1;
    /// The sender had an internal error.
    pub const INTERNAL_ERROR: u32 = 2;
}

/// The four frame types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// Payload of `length` bytes follows.
    Data,
    /// `length` is a window delta.
    WindowUpdate,
    /// `length` is an opaque ping value; stream id 0.
    Ping,
    /// `length` is a GoAway code; stream id 0.
    GoAway,
}

impl FrameType {
    fn code(self) -> u8 {
        match self {
            FrameType::Data => 0,
            FrameType::WindowUpdate => 1,
            FrameType::Ping => 2,
            FrameType::GoAway => 3,
        }
    }

    fn from_code(code: u8) -> Result<Self, ProtocolError> {
        Ok(match code {
            0 => FrameType::Data,
            1 => FrameType::WindowUpdate,
            2 => FrameType::Ping,
            3 => FrameType::GoAway,
            other => return Err(ProtocolError::UnknownFrameType(other)),
        })
    }
}

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Frame type.
    pub ty: FrameType,
    /// Flags (see [`flags`]); unknown bits are kept and ignored, as Go does.
    pub flags: u16,
    /// Stream id; 0 for session frames.
    pub stream_id: u32,
    /// Payload length, window delta, ping value or GoAway code, depending on `ty`.
    pub length: u32,
}

impl Header {
    /// A header of the given parts.
    pub fn new(ty: FrameType, flags: u16, stream_id: u32, length: u32) -> Self {
        Header {
            ty,
            flags,
            stream_id,
            length,
        }
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// The 12 wire bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let [f0, f1] = self.flags.to_be_bytes();
        let [s0, s1, s2, s3] = self.stream_id.to_be_bytes();
        let [l0, l1, l2, l3] = self.length.to_be_bytes();
        [
            PROTO_VERSION,
            self.ty.code(),
            f0,
            f1,
            s0,
            s1,
            s2,
            s3,
            l0,
            l1,
            l2,
            l3,
        ]
    }

    /// Parses 12 wire bytes; rejects other protocol versions and unknown types.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<Self, ProtocolError> {
        let [v, t, f0, f1, s0, s1, s2, s3, l0, l1, l2, l3] = *b;
        if v != PROTO_VERSION {
            return Err(ProtocolError::UnsupportedVersion(v));
        }
        Ok(Header {
            ty: FrameType::from_code(t)?,
            flags: u16::from_be_bytes([f0, f1]),
            stream_id: u32::from_be_bytes([s0, s1, s2, s3]),
            length: u32::from_be_bytes([l0, l1, l2, l3]),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_the_observed_open_frame() {
        let h = Header::new(FrameType::WindowUpdate, flags::SYN, 1, 0);
        assert_eq!(h.encode(), [0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
        let d = Header::new(FrameType::Data, 0, 1, 0x28);
        assert_eq!(d.encode(), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x28]);
    }

    #[test]
    fn roundtrips() {
        for ty in [
            FrameType::Data,
            FrameType::WindowUpdate,
            FrameType::Ping,
            FrameType::GoAway,
        ] {
            let h = Header::new(ty, 0xabcd, 0xdead_beef, 0x0102_0304);
            assert_eq!(Header::decode(&h.encode()), Ok(h));
        }
    }

    #[test]
    fn rejects_bad_version_and_type() {
        assert_eq!(
            Header::decode(&[1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
            Err(ProtocolError::UnsupportedVersion(1))
        );
        assert_eq!(
            Header::decode(&[0, 4, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]),
            Err(ProtocolError::UnknownFrameType(4))
        );
    }
}
