//! Go `encoding/gob`: the small encoder a builder needs (ConfigSpec, `CommandFinished`) and a
//! generic, incremental decoder for tests and tooling.
//!
//! Wire format summary (protocol notes §5): a stream is a sequence of messages
//! `uint(len) payload`; a payload starts with `int(typeId)`, negative for a type definition
//! (followed by a `wireType` value) and positive for a value. Go's encoder flushes a message
//! in the middle of an interface value whenever it needs to define a new type; the decoder
//! here follows Go's `decodeTypeSequence` so that such split values decode.
//!
//! Our encoder does not split: it sends every type definition as its own message first and
//! then one value message, which Go's decoder accepts (`decodeTypeSequence(false)` reads
//! any number of definition messages before the value).
use std::collections::HashMap;
use thiserror::Error;

/// First type id available to user types; lower ids are Go's predefined types.
pub const FIRST_USER_TYPE_ID: i64 = 65;

/// Predefined type ids of Go's gob.
pub mod ids {
    pub const BOOL: i64 = 1;
    pub const INT: i64 = 2;
    pub const UINT: i64 = 3;
    pub const FLOAT: i64 = 4;
    pub const BYTES: i64 = 5;
    pub const STRING: i64 = 6;
    pub const COMPLEX: i64 = 7;
    pub const INTERFACE: i64 = 8;
}

/// Deepest value nesting the decoder follows (structs, maps, slices, interfaces).
pub const MAX_DEPTH: usize = 100;

/// Largest message the decoder accepts; Go refuses 1 GiB and more on 32-bit systems.
pub const MAX_MESSAGE: u64 = 1 << 30;

// ---------------------------------------------------------------------------------------------
// Primitive encoders

/// Gob unsigned integer: one byte below 0x80, else a negated byte count and big-endian bytes.
pub fn write_uint(out: &mut Vec<u8>, v: u64) {
    if v < 0x80 {
        out.extend_from_slice(&v.to_be_bytes()[7..]);
        return;
    }
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let sig = bytes.get(skip..).unwrap_or_default();
    // 1..=8 significant bytes, so the negated count is 0xff..=0xf8.
    out.push(0u8.wrapping_sub(sig.len().to_le_bytes()[0]));
    out.extend_from_slice(sig);
}

/// Gob signed integer: zig-zag folded into a uint.
pub fn write_int(out: &mut Vec<u8>, v: i64) {
    let u = if v < 0 {
        ((!v as u64) << 1) | 1
    } else {
        (v as u64) << 1
    };
    write_uint(out, u);
}

/// Gob string / byte slice: length then bytes.
pub fn write_bytes(out: &mut Vec<u8>, b: &[u8]) {
    write_uint(out, b.len() as u64);
    out.extend_from_slice(b);
}

pub fn write_string(out: &mut Vec<u8>, s: &str) {
    write_bytes(out, s.as_bytes());
}

/// Appends `payload` as one length-prefixed message.
pub fn write_message(out: &mut Vec<u8>, payload: &[u8]) {
    write_bytes(out, payload);
}

// ---------------------------------------------------------------------------------------------
// Type definitions

/// A gob `wireType`: the definition of one user type, as sent on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireType {
    Array {
        name: String,
        elem: i64,
        len: i64,
    },
    Slice {
        name: String,
        elem: i64,
    },
    Struct {
        name: String,
        fields: Vec<(String, i64)>,
    },
    Map {
        name: String,
        key: i64,
        elem: i64,
    },
    /// A type with its own `GobEncode` (e.g. `cty.Type`): the value is opaque bytes.
    GobEncoder {
        name: String,
    },
    BinaryMarshaler {
        name: String,
    },
    TextMarshaler {
        name: String,
    },
}

impl WireType {
    pub fn name(&self) -> &str {
        match self {
            WireType::Array { name, .. }
            | WireType::Slice { name, .. }
            | WireType::Struct { name, .. }
            | WireType::Map { name, .. }
            | WireType::GobEncoder { name }
            | WireType::BinaryMarshaler { name }
            | WireType::TextMarshaler { name } => name,
        }
    }

    /// Whether a top-level or interface value of this type is a struct; everything else
    /// carries Go's "singleton field" `00` prefix.
    fn is_struct(&self) -> bool {
        matches!(self, WireType::Struct { .. })
    }
}

/// Writes struct fields in gob form: index deltas, zero values skipped, `00` terminator.
struct StructWriter<'a> {
    out: &'a mut Vec<u8>,
    last: i64,
}

impl<'a> StructWriter<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        StructWriter { out, last: -1 }
    }
    fn field(&mut self, index: i64) -> &mut Vec<u8> {
        write_uint(self.out, (index - self.last) as u64);
        self.last = index;
        self.out
    }
    fn string(&mut self, index: i64, s: &str) {
        if !s.is_empty() {
            write_string(self.field(index), s);
        }
    }
    fn int(&mut self, index: i64, v: i64) {
        if v != 0 {
            write_int(self.field(index), v);
        }
    }
    fn end(self) {
        self.out.push(0);
    }
}

fn write_common_type(out: &mut Vec<u8>, name: &str, id: i64) {
    let mut s = StructWriter::new(out);
    s.string(0, name);
    s.int(1, id);
    s.end();
}

/// The payload of a type-definition message: `int(-id)` then the `wireType` value.
pub fn type_definition(id: i64, wt: &WireType) -> Vec<u8> {
    let mut out = Vec::new();
    write_int(&mut out, -id);
    let mut w = StructWriter::new(&mut out);
    match wt {
        WireType::Array { name, elem, len } => {
            let o = w.field(0);
            let mut a = StructWriter::new(o);
            write_common_type(a.field(0), name, id);
            a.int(1, *elem);
            a.int(2, *len);
            a.end();
        }
        WireType::Slice { name, elem } => {
            let o = w.field(1);
            let mut a = StructWriter::new(o);
            write_common_type(a.field(0), name, id);
            a.int(1, *elem);
            a.end();
        }
        WireType::Struct { name, fields } => {
            let o = w.field(2);
            let mut a = StructWriter::new(o);
            write_common_type(a.field(0), name, id);
            if !fields.is_empty() {
                let f = a.field(1);
                write_uint(f, fields.len() as u64);
                for (fname, fid) in fields {
                    let mut ft = StructWriter::new(f);
                    ft.string(0, fname);
                    ft.int(1, *fid);
                    ft.end();
                }
            }
            a.end();
        }
        WireType::Map { name, key, elem } => {
            let o = w.field(3);
            let mut a = StructWriter::new(o);
            write_common_type(a.field(0), name, id);
            a.int(1, *key);
            a.int(2, *elem);
            a.end();
        }
        WireType::GobEncoder { name }
        | WireType::BinaryMarshaler { name }
        | WireType::TextMarshaler { name } => {
            let index = match wt {
                WireType::GobEncoder { .. } => 4,
                WireType::BinaryMarshaler { .. } => 5,
                _ => 6,
            };
            let o = w.field(index);
            let mut a = StructWriter::new(o);
            write_common_type(a.field(0), name, id);
            a.end();
        }
    }
    w.end();
    out
}

/// Builds one gob stream: type definitions first (one message each), then value messages.
#[derive(Debug, Default)]
pub struct StreamEncoder {
    out: Vec<u8>,
    next_id: i64,
}

impl StreamEncoder {
    pub fn new() -> Self {
        StreamEncoder {
            out: Vec::new(),
            next_id: FIRST_USER_TYPE_ID,
        }
    }

    /// Allocates the next type id without defining it yet (for types that refer to
    /// each other).
    pub fn reserve_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// Sends the definition of a type under an id from [`reserve_id`](Self::reserve_id).
    pub fn define_as(&mut self, id: i64, wt: &WireType) {
        write_message(&mut self.out, &type_definition(id, wt));
    }

    /// Allocates an id and sends the definition.
    pub fn define(&mut self, wt: &WireType) -> i64 {
        let id = self.reserve_id();
        self.define_as(id, wt);
        id
    }

    /// Sends a top-level value of type `id`; `body` is its encoding *without* the
    /// singleton prefix, which is added here for non-struct types.
    pub fn value(&mut self, id: i64, is_struct: bool, body: &[u8]) {
        let mut payload = Vec::with_capacity(body.len() + 4);
        write_int(&mut payload, id);
        if !is_struct {
            payload.push(0);
        }
        payload.extend_from_slice(body);
        write_message(&mut self.out, &payload);
    }

    pub fn finish(self) -> Vec<u8> {
        self.out
    }
}

/// Appends an interface value: registered `name`, concrete type id, byte count, value
/// (with the singleton prefix for non-struct concrete types). The definitions of the
/// concrete type must already be on the stream.
pub fn write_interface(out: &mut Vec<u8>, name: &str, id: i64, is_struct: bool, body: &[u8]) {
    write_string(out, name);
    write_int(out, id);
    let extra = usize::from(!is_struct);
    write_uint(out, (body.len() + extra) as u64);
    if !is_struct {
        out.push(0);
    }
    out.extend_from_slice(body);
}

/// Appends a nil interface value.
pub fn write_nil_interface(out: &mut Vec<u8>) {
    write_uint(out, 0);
}

/// The gob stream a builder's `Communicator.Start` response stream carries when the
/// remote command exits: `CommandFinished{ExitStatus int}` (type id 65).
pub fn encode_command_finished(status: i64) -> Vec<u8> {
    let mut enc = StreamEncoder::new();
    let id = enc.define(&WireType::Struct {
        name: "CommandFinished".into(),
        fields: vec![("ExitStatus".into(), ids::INT)],
    });
    let mut body = Vec::new();
    let mut s = StructWriter::new(&mut body);
    s.int(0, status);
    s.end();
    enc.value(id, true, &body);
    enc.finish()
}

/// A struct-body builder for callers composing their own values.
pub struct StructBody {
    buf: Vec<u8>,
    last: i64,
}

impl Default for StructBody {
    fn default() -> Self {
        Self::new()
    }
}

impl StructBody {
    pub fn new() -> Self {
        StructBody {
            buf: Vec::new(),
            last: -1,
        }
    }
    /// Starts field `index` (fields must come in increasing order) and returns the buffer
    /// to write its value into. Callers skip zero-valued fields, as Go does.
    pub fn field(&mut self, index: i64) -> &mut Vec<u8> {
        write_uint(&mut self.buf, (index - self.last) as u64);
        self.last = index;
        &mut self.buf
    }
    pub fn string(&mut self, index: i64, s: &str) {
        if !s.is_empty() {
            write_string(self.field(index), s);
        }
    }
    pub fn int(&mut self, index: i64, v: i64) {
        if v != 0 {
            write_int(self.field(index), v);
        }
    }
    pub fn uint(&mut self, index: i64, v: u64) {
        if v != 0 {
            write_uint(self.field(index), v);
        }
    }
    pub fn bool(&mut self, index: i64, v: bool) {
        if v {
            write_uint(self.field(index), 1);
        }
    }
    pub fn bytes(&mut self, index: i64, b: &[u8]) {
        if !b.is_empty() {
            write_bytes(self.field(index), b);
        }
    }
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0);
        self.buf
    }
}

// ---------------------------------------------------------------------------------------------
// Decoder

/// A decoded gob value. Struct fields keep wire order; names come from the type definitions.
#[derive(Debug, Clone, PartialEq)]
pub enum GobValue {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Complex(f64, f64),
    Bytes(Vec<u8>),
    /// Go strings are byte strings; invalid UTF-8 is replaced.
    String(String),
    /// A nil interface value.
    NilInterface,
    Interface {
        name: String,
        value: Box<GobValue>,
    },
    Struct {
        type_name: String,
        fields: Vec<(String, GobValue)>,
    },
    Slice(Vec<GobValue>),
    Array(Vec<GobValue>),
    Map(Vec<(GobValue, GobValue)>),
    /// Opaque `GobEncode`/`MarshalBinary`/`MarshalText` output of a type with its own codec.
    Encoded {
        type_name: String,
        bytes: Vec<u8>,
    },
}

impl GobValue {
    /// Struct field by name (absent fields were zero on the sending side).
    pub fn field(&self, name: &str) -> Option<&GobValue> {
        match self {
            GobValue::Struct { fields, .. } => {
                fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
            }
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GobValue::String(s) => Some(s),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GobError {
    /// The input ends before the value is complete; more bytes may complete it.
    #[error("gob decode: input ends inside a message (need more bytes)")]
    Incomplete,
    /// The bytes can never form a valid gob stream.
    #[error("gob decode: invalid input at stream byte {offset}: {reason}")]
    Invalid { offset: usize, reason: String },
}

/// Incremental gob stream decoder. Feed bytes with [`push`](Self::push) as they arrive and
/// call [`next_value`](Self::next_value) until it returns `Ok(None)` (needs more bytes).
#[derive(Debug, Default)]
pub struct Decoder {
    buf: Vec<u8>,
    /// Stream offset of `buf[0]` (bytes before it were consumed and dropped).
    base: usize,
    /// Committed state: where the next value starts.
    state: Position,
    types: HashMap<i64, WireType>,
}

/// Cursor over the stream: `msg_pos..msg_end` is what is left of the current message,
/// `next` is where the next message's length prefix starts. Offsets index `Decoder::buf`.
#[derive(Debug, Default, Clone, Copy)]
struct Position {
    msg_pos: usize,
    msg_end: usize,
    next: usize,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// True when every pushed byte belongs to a decoded value or definition.
    pub fn is_drained(&self) -> bool {
        self.state.msg_pos >= self.state.msg_end && self.state.next >= self.buf.len()
    }

    /// Type definitions received so far.
    pub fn types(&self) -> &HashMap<i64, WireType> {
        &self.types
    }

    /// Decodes the next top-level value. `Ok(None)`: not enough bytes yet (nothing is
    /// consumed; push more and call again). Type definitions are only committed together
    /// with the value that follows them.
    pub fn next_value(&mut self) -> Result<Option<GobValue>, GobError> {
        let mut cur = Cursor {
            buf: &self.buf,
            base: self.base,
            pos: self.state,
            types: self.types.clone(),
        };
        match cur.top_level() {
            Ok(v) => {
                let new_state = cur.pos;
                self.types = cur.types;
                self.state = new_state;
                self.compact();
                Ok(Some(v))
            }
            Err(GobError::Incomplete) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Drops fully consumed bytes so a long-lived decoder does not grow without bound.
    fn compact(&mut self) {
        if self.state.msg_pos < self.state.msg_end {
            return;
        }
        let cut = self.state.next.min(self.buf.len());
        self.buf.drain(..cut);
        self.base += cut;
        self.state = Position::default();
    }
}

/// Decodes a complete stream: every value in it. Trailing partial data is an error.
pub fn decode_all(data: &[u8]) -> Result<Vec<GobValue>, GobError> {
    let mut d = Decoder::new();
    d.push(data);
    let mut out = Vec::new();
    while !d.is_drained() {
        match d.next_value()? {
            Some(v) => out.push(v),
            None => return Err(GobError::Incomplete),
        }
    }
    Ok(out)
}

struct Cursor<'a> {
    buf: &'a [u8],
    base: usize,
    pos: Position,
    types: HashMap<i64, WireType>,
}

impl<'a> Cursor<'a> {
    fn invalid(&self, reason: impl Into<String>) -> GobError {
        GobError::Invalid {
            offset: self.base + self.pos.msg_pos,
            reason: reason.into(),
        }
    }

    fn msg_left(&self) -> usize {
        self.pos.msg_end.saturating_sub(self.pos.msg_pos)
    }

    /// Reads `n` bytes of the current message; running past its end is malformed input,
    /// not a short read, because the message length was already known.
    fn take(&mut self, n: usize) -> Result<&'a [u8], GobError> {
        if n > self.msg_left() {
            return Err(self.invalid(format!(
                "value needs {n} bytes but the message has {} left",
                self.msg_left()
            )));
        }
        let start = self.pos.msg_pos;
        self.pos.msg_pos += n;
        self.buf
            .get(start..start + n)
            .ok_or_else(|| GobError::Invalid {
                offset: self.base + start,
                reason: "message extends past buffer".into(),
            })
    }

    fn uint(&mut self) -> Result<u64, GobError> {
        let first = self.take(1)?.first().copied().unwrap_or_default();
        let offset = self.base + self.pos.msg_pos;
        parse_uint_tail(first, |n| self.take(n).map(<[u8]>::to_vec)).map_err(|e| match e {
            GobError::Invalid { reason, .. } => GobError::Invalid { offset, reason },
            other => other,
        })
    }

    fn int(&mut self) -> Result<i64, GobError> {
        let u = self.uint()?;
        Ok(unzigzag(u))
    }

    fn len(&mut self) -> Result<usize, GobError> {
        let n = self.uint()?;
        usize::try_from(n).map_err(|_| self.invalid("length does not fit in memory"))
    }

    fn raw_bytes(&mut self) -> Result<Vec<u8>, GobError> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }

    fn string(&mut self) -> Result<String, GobError> {
        let b = self.raw_bytes()?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Starts the next message (Go's `recvMessage`). Short input here is `Incomplete`.
    fn recv(&mut self) -> Result<(), GobError> {
        let start = self.pos.next;
        let first = *self.buf.get(start).ok_or(GobError::Incomplete)?;
        let mut p = start + 1;
        let len = parse_uint_tail(first, |n| {
            let s = self.buf.get(p..p + n).ok_or(GobError::Incomplete)?;
            p += n;
            Ok(s.to_vec())
        })
        .map_err(|e| match e {
            GobError::Invalid { reason, .. } => GobError::Invalid {
                offset: self.base + start,
                reason,
            },
            other => other,
        })?;
        if len == 0 || len >= MAX_MESSAGE {
            return Err(GobError::Invalid {
                offset: self.base + start,
                reason: format!("bad message length {len}"),
            });
        }
        let len = usize::try_from(len).map_err(|_| GobError::Invalid {
            offset: self.base + start,
            reason: "message length does not fit in memory".into(),
        })?;
        let end = p.checked_add(len).ok_or(GobError::Incomplete)?;
        if end > self.buf.len() {
            return Err(GobError::Incomplete);
        }
        self.pos = Position {
            msg_pos: p,
            msg_end: end,
            next: end,
        };
        Ok(())
    }

    /// Go's `decodeTypeSequence`: reads type definitions until a value's type id.
    fn type_sequence(&mut self, in_interface: bool) -> Result<i64, GobError> {
        loop {
            if self.msg_left() == 0 {
                self.recv()?;
            }
            let id = self.int()?;
            if id >= 0 {
                return Ok(id);
            }
            let def_id = id
                .checked_neg()
                .ok_or_else(|| self.invalid("type id out of range"))?;
            self.recv_type(def_id)?;
            if self.msg_left() > 0 {
                if !in_interface {
                    return Err(self.invalid("extra data after a type definition"));
                }
                // An interface's delimited value continues in this message: skip its count.
                self.uint()?;
            }
        }
    }

    fn recv_type(&mut self, id: i64) -> Result<(), GobError> {
        if id < FIRST_USER_TYPE_ID {
            return Err(self.invalid(format!("definition of predefined type id {id}")));
        }
        if self.types.contains_key(&id) {
            return Err(self.invalid(format!("duplicate definition of type id {id}")));
        }
        let wt = self.wire_type()?;
        self.types.insert(id, wt);
        Ok(())
    }

    /// Reads struct fields generically: calls `f(index)` for each present field.
    fn fields(
        &mut self,
        max: i64,
        mut f: impl FnMut(&mut Self, i64) -> Result<(), GobError>,
    ) -> Result<(), GobError> {
        let mut index: i64 = -1;
        loop {
            let delta = self.uint()?;
            if delta == 0 {
                return Ok(());
            }
            index = i64::try_from(delta)
                .ok()
                .and_then(|d| index.checked_add(d))
                .filter(|i| *i < max)
                .ok_or_else(|| self.invalid(format!("field delta {delta} out of range")))?;
            f(self, index)?;
        }
    }

    fn common_type(&mut self) -> Result<(String, i64), GobError> {
        let mut name = String::new();
        let mut id = 0;
        self.fields(2, |c, i| {
            match i {
                0 => name = c.string()?,
                _ => id = c.int()?,
            }
            Ok(())
        })?;
        Ok((name, id))
    }

    fn wire_type(&mut self) -> Result<WireType, GobError> {
        let mut result: Option<WireType> = None;
        self.fields(7, |c, which| {
            let mut name = String::new();
            let (mut a, mut b) = (0i64, 0i64);
            let mut fields = Vec::new();
            let max = match which {
                0 => 3,
                1 => 2,
                2 => 2,
                3 => 3,
                _ => 1,
            };
            c.fields(max, |c, i| {
                match (which, i) {
                    (_, 0) => name = c.common_type()?.0,
                    (2, 1) => {
                        let n = c.len()?;
                        // Each fieldType takes at least one byte.
                        if n > c.msg_left() {
                            return Err(c.invalid(format!("{n} fields announced")));
                        }
                        for _ in 0..n {
                            let mut fname = String::new();
                            let mut fid = 0;
                            c.fields(2, |c, j| {
                                match j {
                                    0 => fname = c.string()?,
                                    _ => fid = c.int()?,
                                }
                                Ok(())
                            })?;
                            fields.push((fname, fid));
                        }
                    }
                    (_, 1) => a = c.int()?,
                    (_, _) => b = c.int()?,
                }
                Ok(())
            })?;
            result = Some(match which {
                0 => WireType::Array {
                    name,
                    elem: a,
                    len: b,
                },
                1 => WireType::Slice { name, elem: a },
                2 => WireType::Struct { name, fields },
                3 => WireType::Map {
                    name,
                    key: a,
                    elem: b,
                },
                4 => WireType::GobEncoder { name },
                5 => WireType::BinaryMarshaler { name },
                _ => WireType::TextMarshaler { name },
            });
            Ok(())
        })?;
        result.ok_or_else(|| self.invalid("empty wireType"))
    }

    fn is_struct(&self, id: i64) -> bool {
        self.types.get(&id).is_some_and(WireType::is_struct)
    }

    fn top_level(&mut self) -> Result<GobValue, GobError> {
        let id = self.type_sequence(false)?;
        if !self.is_struct(id) {
            self.singleton()?;
        }
        self.value(id, 0)
    }

    fn singleton(&mut self) -> Result<(), GobError> {
        match self.uint()? {
            0 => Ok(()),
            d => Err(self.invalid(format!("expected singleton field 0, got delta {d}"))),
        }
    }

    fn value(&mut self, id: i64, depth: usize) -> Result<GobValue, GobError> {
        if depth > MAX_DEPTH {
            return Err(self.invalid(format!("nesting deeper than {MAX_DEPTH}")));
        }
        Ok(match id {
            ids::BOOL => match self.uint()? {
                0 => GobValue::Bool(false),
                1 => GobValue::Bool(true),
                v => return Err(self.invalid(format!("bad bool {v}"))),
            },
            ids::INT => GobValue::Int(self.int()?),
            ids::UINT => GobValue::Uint(self.uint()?),
            ids::FLOAT => GobValue::Float(float_from_uint(self.uint()?)),
            ids::COMPLEX => {
                let re = float_from_uint(self.uint()?);
                GobValue::Complex(re, float_from_uint(self.uint()?))
            }
            ids::BYTES => GobValue::Bytes(self.raw_bytes()?),
            ids::STRING => GobValue::String(self.string()?),
            ids::INTERFACE => self.interface(depth)?,
            _ => {
                let wt = self
                    .types
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| self.invalid(format!("undefined type id {id}")))?;
                self.user_value(wt, depth)?
            }
        })
    }

    fn user_value(&mut self, wt: WireType, depth: usize) -> Result<GobValue, GobError> {
        Ok(match wt {
            WireType::Struct { name, fields } => {
                let mut out = Vec::new();
                let max = i64::try_from(fields.len()).unwrap_or(i64::MAX);
                self.fields(max, |c, i| {
                    let (fname, fid) = usize::try_from(i)
                        .ok()
                        .and_then(|i| fields.get(i))
                        .cloned()
                        .ok_or_else(|| c.invalid("field index out of range"))?;
                    let v = c.value(fid, depth + 1)?;
                    out.push((fname, v));
                    Ok(())
                })?;
                GobValue::Struct {
                    type_name: name,
                    fields: out,
                }
            }
            WireType::Slice { elem, .. } => GobValue::Slice(self.elements(elem, depth)?),
            WireType::Array { elem, len, .. } => {
                let items = self.elements(elem, depth)?;
                if i64::try_from(items.len()).ok() != Some(len) {
                    return Err(self.invalid(format!(
                        "array of length {len} holds {} elements",
                        items.len()
                    )));
                }
                GobValue::Array(items)
            }
            WireType::Map { key, elem, .. } => {
                let n = self.len()?;
                let mut entries = Vec::with_capacity(n.min(self.msg_left() / 2));
                for _ in 0..n {
                    let k = self.value(key, depth + 1)?;
                    let v = self.value(elem, depth + 1)?;
                    entries.push((k, v));
                }
                GobValue::Map(entries)
            }
            WireType::GobEncoder { name }
            | WireType::BinaryMarshaler { name }
            | WireType::TextMarshaler { name } => GobValue::Encoded {
                type_name: name,
                bytes: self.raw_bytes()?,
            },
        })
    }

    fn elements(&mut self, elem: i64, depth: usize) -> Result<Vec<GobValue>, GobError> {
        let n = self.len()?;
        // Every element takes at least one byte of this message.
        let mut items = Vec::with_capacity(n.min(self.msg_left()));
        for _ in 0..n {
            items.push(self.value(elem, depth + 1)?);
        }
        Ok(items)
    }

    /// Go's `decodeInterface`: name, type sequence (which may pull in new messages),
    /// byte count (ignored, as Go does), then the concrete value.
    fn interface(&mut self, depth: usize) -> Result<GobValue, GobError> {
        let name = self.string()?;
        if name.is_empty() {
            return Ok(GobValue::NilInterface);
        }
        let id = self.type_sequence(true)?;
        self.uint()?;
        if !self.is_struct(id) {
            self.singleton()?;
        }
        let value = self.value(id, depth + 1)?;
        Ok(GobValue::Interface {
            name,
            value: Box::new(value),
        })
    }
}

fn unzigzag(u: u64) -> i64 {
    if u & 1 == 1 {
        !((u >> 1) as i64)
    } else {
        (u >> 1) as i64
    }
}

fn float_from_uint(u: u64) -> f64 {
    f64::from_bits(u.swap_bytes())
}

/// Finishes a gob uint whose first byte is `first`; `more(n)` supplies the next n bytes.
fn parse_uint_tail(
    first: u8,
    mut more: impl FnMut(usize) -> Result<Vec<u8>, GobError>,
) -> Result<u64, GobError> {
    if first < 0x80 {
        return Ok(u64::from(first));
    }
    let n = usize::from(0u8.wrapping_sub(first));
    if n > 8 {
        return Err(GobError::Invalid {
            offset: 0,
            reason: format!("uint byte count {n} exceeds 8"),
        });
    }
    let bytes = more(n)?;
    Ok(bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uint(v: u64) -> Vec<u8> {
        let mut o = Vec::new();
        write_uint(&mut o, v);
        o
    }
    fn int(v: i64) -> Vec<u8> {
        let mut o = Vec::new();
        write_int(&mut o, v);
        o
    }

    #[test]
    fn primitive_encodings() {
        assert_eq!(uint(0), [0]);
        assert_eq!(uint(0x7f), [0x7f]);
        assert_eq!(uint(0x80), [0xff, 0x80]);
        assert_eq!(uint(12467), [0xfe, 0x30, 0xb3]);
        assert_eq!(
            uint(u64::MAX),
            [0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(int(-65), [0xff, 0x81]);
        assert_eq!(int(65), [0xff, 0x82]);
        assert_eq!(int(1), [0x02]);
        assert_eq!(int(-1), [0x01]);
        assert_eq!(int(i64::MIN)[0], 0xf8);
        for v in [0, 1, -1, 63, -64, 64, i64::MAX, i64::MIN] {
            assert_eq!(
                unzigzag(u64::from_be_bytes({
                    let b = int(v);
                    let mut full = [0u8; 8];
                    let tail = if b.len() == 1 { &b[..] } else { &b[1..] };
                    full[8 - tail.len()..].copy_from_slice(tail);
                    full
                })),
                v
            );
        }
        // 1.0 → bits 0x3ff0_0000_0000_0000, byte-reversed → 0xf03f → fe f0 3f.
        assert_eq!(uint(1.0f64.to_bits().swap_bytes()), [0xfe, 0xf0, 0x3f]);
        assert_eq!(float_from_uint(0xf03f), 1.0);
    }

    #[test]
    fn command_finished_matches_go_modulo_type_id() {
        // Captured from Packer 1.6.6 (type id 72), exit status 0.
        let mut captured = vec![0x2c, 0xff, 0x8f, 0x03, 0x01, 0x01, 0x0f];
        captured.extend_from_slice(b"CommandFinished");
        captured.extend_from_slice(&[0x01, 0xff, 0x90, 0x00, 0x01, 0x01, 0x01, 0x0a]);
        captured.extend_from_slice(b"ExitStatus");
        captured.extend_from_slice(&[0x01, 0x04, 0x00, 0x00, 0x00, 0x03, 0xff, 0x90, 0x00]);
        let ours = encode_command_finished(0);
        let mut expect = captured.clone();
        // ids: -72 → ff 8f becomes -65 → ff 81; 72 → ff 90 becomes 65 → ff 82.
        for w in expect
            .windows(2)
            .enumerate()
            .filter_map(|(i, w)| (w == [0xff, 0x8f] || w == [0xff, 0x90]).then_some(i))
            .collect::<Vec<_>>()
        {
            expect[w + 1] = if expect[w + 1] == 0x8f { 0x81 } else { 0x82 };
        }
        assert_eq!(ours, expect);
        // The protocol notes show `04 ff90 01 02 00` for status 1, but that payload is 5
        // bytes long, so the message length must be 05.
        let tail = &encode_command_finished(1)[45..];
        assert_eq!(tail, [0x05, 0xff, 0x82, 0x01, 0x02, 0x00]);
        // Go's own bytes decode with our decoder.
        let v = decode_all(&captured).unwrap();
        assert_eq!(
            v,
            vec![GobValue::Struct {
                type_name: "CommandFinished".into(),
                fields: vec![]
            }]
        );
        let v = decode_all(&encode_command_finished(-7)).unwrap();
        assert_eq!(v[0].field("ExitStatus"), Some(&GobValue::Int(-7)));
    }

    #[test]
    fn incremental_feeding() {
        let stream = [encode_command_finished(3), encode_command_finished(4)].concat();
        // The second stream redefines id 65, which is invalid on one stream; use one
        // stream with two values instead.
        let mut enc = StreamEncoder::new();
        let id = enc.define(&WireType::Struct {
            name: "S".into(),
            fields: vec![("A".into(), ids::STRING)],
        });
        let mut b = StructBody::new();
        b.string(0, "hello");
        enc.value(id, true, &b.finish());
        let mut b = StructBody::new();
        b.string(0, "world");
        enc.value(id, true, &b.finish());
        let data = enc.finish();
        let mut d = Decoder::new();
        let mut got = Vec::new();
        for byte in &data {
            d.push(&[*byte]);
            while let Some(v) = d.next_value().unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].field("A").and_then(GobValue::as_str), Some("world"));
        assert!(d.is_drained());
        // Redefinition of a type id on one stream is malformed.
        assert!(matches!(decode_all(&stream), Err(GobError::Invalid { .. })));
    }

    #[test]
    fn deep_nesting_is_rejected_without_overflow() {
        // type 65 = []65 (a slice of itself), nested far deeper than MAX_DEPTH.
        let mut enc = StreamEncoder::new();
        let id = enc.reserve_id();
        enc.define_as(
            id,
            &WireType::Slice {
                name: "S".into(),
                elem: id,
            },
        );
        let mut body = vec![1u8; 5000];
        body.push(0);
        enc.value(id, false, &body);
        assert!(matches!(
            decode_all(&enc.finish()),
            Err(GobError::Invalid { reason, .. }) if reason.contains("nesting")
        ));
        // Nested interfaces: []interface{} whose elements are that slice again.
        let mut enc = StreamEncoder::new();
        let id = enc.define(&WireType::Slice {
            name: "I".into(),
            elem: ids::INTERFACE,
        });
        let mut body = Vec::new();
        for _ in 0..1000 {
            write_uint(&mut body, 1);
            write_string(&mut body, "x");
            write_int(&mut body, id);
            write_uint(&mut body, 0);
            body.push(0);
        }
        write_uint(&mut body, 0);
        enc.value(id, false, &body);
        assert!(matches!(
            decode_all(&enc.finish()),
            Err(GobError::Invalid { reason, .. }) if reason.contains("nesting")
        ));
    }

    #[test]
    fn truncated_and_garbage() {
        let data = encode_command_finished(9);
        for cut in 1..data.len() {
            assert_eq!(
                decode_all(&data[..cut]),
                Err(GobError::Incomplete),
                "cut {cut}"
            );
        }
        // A message length that overstates the content is incomplete; one whose content
        // is shorter than the value needs is invalid.
        assert!(matches!(
            decode_all(&[0x02, 0xff, 0x82]),
            Err(GobError::Invalid { .. })
        ));
        assert!(matches!(
            decode_all(&[0x01, 0x07]),
            Err(GobError::Invalid { .. })
        ));
        assert!(matches!(decode_all(&[0x00]), Err(GobError::Invalid { .. })));
        assert!(matches!(decode_all(&[0x80]), Err(GobError::Invalid { .. })));
    }
}
