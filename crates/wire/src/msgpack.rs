//! MessagePack values as Go's `ugorji/go/codec` MsgpackHandle{WriteExt:true} writes them.
//!
//! The encoder picks the same wire forms as the Go side (see the protocol notes §3.1):
//! strings as str (fixstr/str8/str16/str32), byte slices as bin, `Int` as fixint or the
//! smallest *signed* form that fits (`2222` → `d1 08 ae`), `Uint` as fixint or the smallest
//! unsigned form, floats in their own width, containers in fix/16/32 forms, extensions as
//! fixext when the length allows it. The decoder accepts every MessagePack form, so values
//! written by other encoders are read too.

use thiserror::Error;

/// A dynamic MessagePack value. `Str` and `Bin` are distinct (Go decodes str as string,
/// bin as []byte); `Int` is written with signed encodings, `Uint` with unsigned ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    F32(f32),
    F64(f64),
    Str(String),
    Bin(Vec<u8>),
    Array(Vec<Value>),
    /// Keys in wire order (Go writes struct fields in declaration order).
    Map(Vec<(Value, Value)>),
    /// Extension type (e.g. -1 = timestamp).
    Ext(i8, Vec<u8>),
}

/// Deepest container nesting the decoder follows. Go's own structures are a few levels
/// deep; the bound keeps hostile input from exhausting the stack.
pub const MAX_DEPTH: usize = 512;

/// Why a MessagePack value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The buffer ends inside a value; more bytes may complete it.
    #[error("msgpack decode: input ends inside a value (need more bytes)")]
    Incomplete,
    /// The bytes can never form a valid value, whatever follows.
    #[error("msgpack decode: invalid input at byte {offset}: {reason}")]
    Invalid { offset: usize, reason: String },
}

// ---------------------------------------------------------------------------------------------
// Encoder

/// Appends `v` to `out` in the wire form Go's ugorji codec (WriteExt:true) uses.
pub fn encode(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Bool(false) => out.push(0xc2),
        Value::Bool(true) => out.push(0xc3),
        Value::Int(i) => encode_int(*i, out),
        Value::Uint(u) => encode_uint(*u, out),
        Value::F32(f) => {
            out.push(0xca);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::F64(f) => {
            out.push(0xcb);
            out.extend_from_slice(&f.to_bits().to_be_bytes());
        }
        Value::Str(s) => {
            encode_str_header(s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Bin(b) => {
            encode_bin_header(b.len(), out);
            out.extend_from_slice(b);
        }
        Value::Array(items) => {
            encode_container_header(items.len(), 0x90, 0xdc, 0xdd, out);
            for it in items {
                encode(it, out);
            }
        }
        Value::Map(entries) => {
            encode_container_header(entries.len(), 0x80, 0xde, 0xdf, out);
            for (k, val) in entries {
                encode(k, out);
                encode(val, out);
            }
        }
        Value::Ext(ty, data) => {
            encode_ext_header(*ty, data.len(), out);
            out.extend_from_slice(data);
        }
    }
}

/// Convenience wrapper around [`encode`].
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    encode(v, &mut out);
    out
}

fn encode_int(i: i64, out: &mut Vec<u8>) {
    // ugorji: values above i8::MAX go straight to the signed 16/32/64 forms; only the
    // fixint ranges and i8 negatives use the one-byte forms.
    if i > i64::from(i8::MAX) {
        if let Ok(v) = i16::try_from(i) {
            out.push(0xd1);
            out.extend_from_slice(&v.to_be_bytes());
        } else if let Ok(v) = i32::try_from(i) {
            out.push(0xd2);
            out.extend_from_slice(&v.to_be_bytes());
        } else {
            out.push(0xd3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    } else if i >= -32 {
        // positive fixint 0..=127 or negative fixint -32..=-1: the byte is the value.
        out.push(i.to_be_bytes()[7]);
    } else if let Ok(v) = i8::try_from(i) {
        out.push(0xd0);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i16::try_from(i) {
        out.push(0xd1);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i32::try_from(i) {
        out.push(0xd2);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn encode_uint(u: u64, out: &mut Vec<u8>) {
    if let Ok(v) = u8::try_from(u) {
        if v <= 0x7f {
            out.push(v);
        } else {
            out.push(0xcc);
            out.push(v);
        }
    } else if let Ok(v) = u16::try_from(u) {
        out.push(0xcd);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(u) {
        out.push(0xce);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(0xcf);
        out.extend_from_slice(&u.to_be_bytes());
    }
}

/// Writes a length in the 8/16/32-bit form chosen by the caller's tag bytes.
fn push_len(len: usize, tags: [u8; 3], out: &mut Vec<u8>) {
    if let Ok(v) = u8::try_from(len) {
        out.push(tags[0]);
        out.push(v);
    } else if let Ok(v) = u16::try_from(len) {
        out.push(tags[1]);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        // Lengths beyond u32 cannot be represented in MessagePack at all; saturate rather
        // than panic (such buffers never occur in this protocol).
        out.push(tags[2]);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
}

/// The low 8 bits; callers have checked that `x` fits in the fix-form's bits.
fn low_byte(x: usize) -> u8 {
    (x & 0xff) as u8
}

fn encode_str_header(len: usize, out: &mut Vec<u8>) {
    if len < 32 {
        out.push(0xa0 | low_byte(len));
    } else {
        push_len(len, [0xd9, 0xda, 0xdb], out);
    }
}

fn encode_bin_header(len: usize, out: &mut Vec<u8>) {
    push_len(len, [0xc4, 0xc5, 0xc6], out);
}

fn encode_container_header(len: usize, fix: u8, tag16: u8, tag32: u8, out: &mut Vec<u8>) {
    if len < 16 {
        out.push(fix | low_byte(len));
    } else if let Ok(v) = u16::try_from(len) {
        out.push(tag16);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(tag32);
        out.extend_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_be_bytes());
    }
}

fn encode_ext_header(ty: i8, len: usize, out: &mut Vec<u8>) {
    let fixed = match len {
        1 => Some(0xd4),
        2 => Some(0xd5),
        4 => Some(0xd6),
        8 => Some(0xd7),
        16 => Some(0xd8),
        _ => None,
    };
    match fixed {
        Some(tag) => out.push(tag),
        None => push_len(len, [0xc7, 0xc8, 0xc9], out),
    }
    out.extend_from_slice(&ty.to_be_bytes());
}

// ---------------------------------------------------------------------------------------------
// Decoder

/// Decodes one value from the front of `buf`; returns it and the number of bytes it used.
/// Trailing bytes are left alone (RPC headers and bodies follow each other without framing).
pub fn decode(buf: &[u8]) -> Result<(Value, usize), DecodeError> {
    let mut r = Reader { buf, pos: 0 };
    let v = r.value()?;
    Ok((v, r.pos))
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn invalid(&self, offset: usize, reason: impl Into<String>) -> DecodeError {
        DecodeError::Invalid {
            offset,
            reason: reason.into(),
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Incomplete)?;
        let s = self.buf.get(self.pos..end).ok_or(DecodeError::Incomplete)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(u8::from_be_bytes(self.array()?))
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    fn len8(&mut self) -> Result<usize, DecodeError> {
        Ok(usize::from(self.u8()?))
    }
    fn len16(&mut self) -> Result<usize, DecodeError> {
        Ok(usize::from(self.u16()?))
    }
    fn len32(&mut self) -> Result<usize, DecodeError> {
        let v = self.u32()?;
        usize::try_from(v).map_err(|_| self.invalid(self.pos, "length does not fit in memory"))
    }
    /// The length of a str/bin/ext 8, 16 or 32 (`width` 0, 1, 2: the tag's offset in its
    /// family).
    fn sized_len(&mut self, width: u8) -> Result<usize, DecodeError> {
        match width {
            0 => self.len8(),
            1 => self.len16(),
            _ => self.len32(),
        }
    }

    fn str(&mut self, len: usize, start: usize) -> Result<Value, DecodeError> {
        let bytes = self.take(len)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Value::Str(s.to_owned())),
            Err(e) => Err(self.invalid(start, format!("str is not valid UTF-8: {e}"))),
        }
    }

    fn bin(&mut self, len: usize) -> Result<Value, DecodeError> {
        Ok(Value::Bin(self.take(len)?.to_vec()))
    }

    fn ext(&mut self, len: usize) -> Result<Value, DecodeError> {
        let ty = i8::from_be_bytes(self.array()?);
        Ok(Value::Ext(ty, self.take(len)?.to_vec()))
    }

    /// Reads one value without recursion: containers in progress live on an explicit
    /// stack, so hostile nesting cannot overflow the thread stack.
    fn value(&mut self) -> Result<Value, DecodeError> {
        let mut stack: Vec<Partial> = Vec::new();
        loop {
            let start = self.pos;
            let mut done = match self.item()? {
                Item::Scalar(v) => v,
                Item::Array(0) => Value::Array(Vec::new()),
                Item::Map(0) => Value::Map(Vec::new()),
                Item::Array(_) | Item::Map(_) if stack.len() + 1 >= MAX_DEPTH => {
                    return Err(self.invalid(start, format!("nesting deeper than {MAX_DEPTH}")));
                }
                Item::Array(len) => {
                    // Every element takes at least one byte: never reserve more than is left.
                    let cap = len.min(self.remaining());
                    stack.push(Partial::Array {
                        items: Vec::with_capacity(cap),
                        left: len,
                    });
                    continue;
                }
                Item::Map(len) => {
                    let cap = len.min(self.remaining() / 2);
                    stack.push(Partial::Map {
                        entries: Vec::with_capacity(cap),
                        key: None,
                        left: len,
                    });
                    continue;
                }
            };
            // Hand the finished value to its parent; close every parent it completes.
            loop {
                match stack.last_mut() {
                    None => return Ok(done),
                    Some(Partial::Array { items, left }) => {
                        items.push(done);
                        *left -= 1;
                        if *left > 0 {
                            break;
                        }
                    }
                    Some(Partial::Map { entries, key, left }) => match key.take() {
                        None => {
                            *key = Some(done);
                            break;
                        }
                        Some(k) => {
                            entries.push((k, done));
                            *left -= 1;
                            if *left > 0 {
                                break;
                            }
                        }
                    },
                }
                done = match stack.pop() {
                    Some(Partial::Array { items, .. }) => Value::Array(items),
                    Some(Partial::Map { entries, .. }) => Value::Map(entries),
                    // last_mut() just saw a frame, so pop() cannot come back empty.
                    None => return Err(self.invalid(start, "decoder stack underflow")),
                };
            }
        }
    }

    /// Reads a scalar, or the header of a container.
    fn item(&mut self) -> Result<Item, DecodeError> {
        let start = self.pos;
        let tag = self.u8()?;
        let v = match tag {
            0x00..=0x7f => Value::Int(i64::from(tag)),
            0x80..=0x8f => return Ok(Item::Map(usize::from(tag & 0x0f))),
            0x90..=0x9f => return Ok(Item::Array(usize::from(tag & 0x0f))),
            0xa0..=0xbf => self.str(usize::from(tag & 0x1f), start)?,
            0xc0 => Value::Nil,
            0xc1 => return Err(self.invalid(start, "reserved tag 0xc1")),
            0xc2 => Value::Bool(false),
            0xc3 => Value::Bool(true),
            0xc4..=0xc6 => {
                let n = self.sized_len(tag - 0xc4)?;
                self.bin(n)?
            }
            0xc7..=0xc9 => {
                let n = self.sized_len(tag - 0xc7)?;
                self.ext(n)?
            }
            0xca => Value::F32(f32::from_bits(self.u32()?)),
            0xcb => Value::F64(f64::from_bits(u64::from_be_bytes(self.array()?))),
            0xcc => Value::Uint(u64::from(self.u8()?)),
            0xcd => Value::Uint(u64::from(self.u16()?)),
            0xce => Value::Uint(u64::from(self.u32()?)),
            0xcf => Value::Uint(u64::from_be_bytes(self.array()?)),
            0xd0 => Value::Int(i64::from(i8::from_be_bytes(self.array()?))),
            0xd1 => Value::Int(i64::from(i16::from_be_bytes(self.array()?))),
            0xd2 => Value::Int(i64::from(i32::from_be_bytes(self.array()?))),
            0xd3 => Value::Int(i64::from_be_bytes(self.array()?)),
            0xd4 => self.ext(1)?,
            0xd5 => self.ext(2)?,
            0xd6 => self.ext(4)?,
            0xd7 => self.ext(8)?,
            0xd8 => self.ext(16)?,
            0xd9..=0xdb => {
                let n = self.sized_len(tag - 0xd9)?;
                self.str(n, start)?
            }
            0xdc => return Ok(Item::Array(self.len16()?)),
            0xdd => return Ok(Item::Array(self.len32()?)),
            0xde => return Ok(Item::Map(self.len16()?)),
            0xdf => return Ok(Item::Map(self.len32()?)),
            0xe0..=0xff => Value::Int(i64::from(i8::from_be_bytes([tag]))),
        };
        Ok(Item::Scalar(v))
    }
}

enum Item {
    Scalar(Value),
    Array(usize),
    Map(usize),
}

enum Partial {
    Array {
        items: Vec<Value>,
        left: usize,
    },
    Map {
        entries: Vec<(Value, Value)>,
        key: Option<Value>,
        left: usize,
    },
}

// ---------------------------------------------------------------------------------------------
// Accessors and builders

impl Value {
    /// Map lookup by a str key (the first match in wire order). `None` for non-maps.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_str() == Some(key))
            .map(|(_, v)| v)
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Bin(b) => Some(b),
            _ => None,
        }
    }

    /// Integer value of an `Int`, or of a `Uint` that fits in i64.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Uint(u) => i64::try_from(*u).ok(),
            _ => None,
        }
    }

    /// Integer value of a `Uint`, or of a non-negative `Int`.
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Uint(u) => Some(*u),
            Value::Int(i) => u64::try_from(*i).ok(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Either float width, widened to f64.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::F32(f) => Some(f64::from(*f)),
            Value::F64(f) => Some(*f),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Value, Value)]> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// A map with str keys in the given order (how Go writes a struct).
    pub fn map_of(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::Str(k.to_owned()), v))
                .collect(),
        )
    }

    /// An array of str values (Go `[]string`).
    pub fn str_array<S: AsRef<str>>(items: &[S]) -> Value {
        Value::Array(items.iter().map(|s| Value::from(s.as_ref())).collect())
    }
}

/// `From<T> for Value` as the variant holding `T` (widened: `i32` to `Int`, `u32` to `Uint`).
macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v.into())
            }
        })*
    };
}

// Bytes become `Bin` (Go `[]byte`).
value_from!(
    &str => Str,
    String => Str,
    i64 => Int,
    i32 => Int,
    u64 => Uint,
    u32 => Uint,
    bool => Bool,
    f64 => F64,
    Vec<u8> => Bin,
    Vec<Value> => Array,
);

impl<T: Into<Value>> From<Option<T>> for Value {
    /// `None` becomes `Nil` (Go nil pointer/slice).
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Nil, Into::into)
    }
}

// ---------------------------------------------------------------------------------------------
// JSON bridge

/// Converts to JSON for logging and for code that prefers serde.
///
/// Choices where MessagePack is richer than JSON:
/// - `Bin` becomes a JSON string when the bytes are valid UTF-8 (the usual case: cty JSON
///   in Prepare's configs), otherwise an array of byte numbers;
/// - `Ext(t, d)` becomes `{"$ext": t, "data": [bytes]}`;
/// - map keys that are not str are rendered with their JSON text (`1` → `"1"`);
/// - non-finite floats become `null`.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Nil => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Uint(u) => J::from(*u),
        Value::F32(f) => serde_json::Number::from_f64(f64::from(*f)).map_or(J::Null, J::Number),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        Value::Str(s) => J::String(s.clone()),
        Value::Bin(b) => match std::str::from_utf8(b) {
            Ok(s) => J::String(s.to_owned()),
            Err(_) => bytes_json(b),
        },
        Value::Array(a) => J::Array(a.iter().map(to_json).collect()),
        Value::Map(m) => {
            let mut obj = serde_json::Map::new();
            for (k, val) in m {
                let key = match k {
                    Value::Str(s) => s.clone(),
                    other => to_json(other).to_string(),
                };
                obj.insert(key, to_json(val));
            }
            J::Object(obj)
        }
        Value::Ext(t, d) => {
            let mut obj = serde_json::Map::new();
            obj.insert("$ext".to_owned(), J::from(*t));
            obj.insert("data".to_owned(), bytes_json(d));
            J::Object(obj)
        }
    }
}

fn bytes_json(b: &[u8]) -> serde_json::Value {
    serde_json::Value::Array(b.iter().map(|x| serde_json::Value::from(*x)).collect())
}

/// Converts JSON to a value the way a Go program would write the same data: integers
/// as `Int` (or `Uint` above i64::MAX), other numbers as `F64`, strings as `Str`,
/// objects as str-keyed maps (in serde_json's key order).
pub fn from_json(j: &serde_json::Value) -> Value {
    use serde_json::Value as J;
    match j {
        J::Null => Value::Nil,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                Value::F64(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::Array(a.iter().map(from_json).collect()),
        J::Object(o) => Value::Map(
            o.iter()
                .map(|(k, v)| (Value::Str(k.clone()), from_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(v: &Value) -> Vec<u8> {
        to_vec(v)
    }

    fn roundtrip(v: &Value) {
        let b = enc(v);
        let (d, n) = decode(&b).unwrap();
        assert_eq!(n, b.len());
        assert_eq!(&d, v);
    }

    #[test]
    fn ints_use_go_forms() {
        assert_eq!(enc(&Value::Int(0)), [0x00]);
        assert_eq!(enc(&Value::Int(127)), [0x7f]);
        assert_eq!(enc(&Value::Int(128)), [0xd1, 0x00, 0x80]);
        assert_eq!(enc(&Value::Int(2222)), [0xd1, 0x08, 0xae]);
        assert_eq!(enc(&Value::Int(-1)), [0xff]);
        assert_eq!(enc(&Value::Int(-32)), [0xe0]);
        assert_eq!(enc(&Value::Int(-33)), [0xd0, 0xdf]);
        assert_eq!(enc(&Value::Int(-128)), [0xd0, 0x80]);
        assert_eq!(enc(&Value::Int(-129)), [0xd1, 0xff, 0x7f]);
        assert_eq!(enc(&Value::Int(32768)), [0xd2, 0, 0, 0x80, 0]);
        assert_eq!(enc(&Value::Int(1 << 31)), [0xd3, 0, 0, 0, 0, 0x80, 0, 0, 0]);
        assert_eq!(enc(&Value::Int(i64::MIN))[0], 0xd3);
        for i in [
            0,
            1,
            127,
            128,
            -1,
            -32,
            -33,
            -128,
            -129,
            32767,
            32768,
            i64::MAX,
            i64::MIN,
        ] {
            roundtrip(&Value::Int(i));
        }
    }

    #[test]
    fn uints_use_unsigned_forms() {
        assert_eq!(enc(&Value::Uint(5)), [0x05]);
        assert_eq!(enc(&Value::Uint(200)), [0xcc, 200]);
        assert_eq!(enc(&Value::Uint(420)), [0xcd, 0x01, 0xa4]);
        assert_eq!(enc(&Value::Uint(70000)), [0xce, 0, 1, 0x11, 0x70]);
        assert_eq!(enc(&Value::Uint(u64::MAX))[0], 0xcf);
        // A positive fixint decodes as Int: the wire cannot tell, and Go does not care.
        assert_eq!(decode(&[0x05]).unwrap().0, Value::Int(5));
        roundtrip(&Value::Uint(200));
        roundtrip(&Value::Uint(u64::MAX));
    }

    #[test]
    fn strings_bins_and_containers() {
        assert_eq!(enc(&Value::from("")), [0xa0]);
        let s31 = "x".repeat(31);
        assert_eq!(enc(&Value::from(s31.as_str()))[0], 0xbf);
        let s32 = "x".repeat(32);
        assert_eq!(enc(&Value::from(s32.as_str()))[..2], [0xd9, 32]);
        let s256 = "x".repeat(256);
        assert_eq!(enc(&Value::from(s256.as_str()))[..3], [0xda, 1, 0]);
        let s70k = "x".repeat(70_000);
        assert_eq!(
            enc(&Value::from(s70k.as_str()))[..5],
            [0xdb, 0, 1, 0x11, 0x70]
        );
        assert_eq!(enc(&Value::Bin(vec![1, 2])), [0xc4, 2, 1, 2]);
        assert_eq!(enc(&Value::Bin(vec![0; 3221]))[..3], [0xc5, 0x0c, 0x95]);
        assert_eq!(enc(&Value::Array(vec![])), [0x90]);
        assert_eq!(enc(&Value::Array(vec![Value::Nil; 16]))[..3], [0xdc, 0, 16]);
        assert_eq!(enc(&Value::Map(vec![])), [0x80]);
        let m16: Vec<_> = (0..16).map(|i| (Value::Int(i), Value::Nil)).collect();
        assert_eq!(enc(&Value::Map(m16.clone()))[..3], [0xde, 0, 16]);
        for v in [
            Value::from(s32.as_str()),
            Value::from(s256.as_str()),
            Value::from(s70k.as_str()),
            Value::Bin(vec![7; 300]),
            Value::Bin(vec![7; 70_000]),
            Value::Array(vec![Value::Bool(true); 70_000]),
            Value::Map(m16),
            Value::F32(1.5),
            Value::F64(-2.25),
        ] {
            roundtrip(&v);
        }
    }

    #[test]
    fn ext_forms() {
        assert_eq!(enc(&Value::Ext(-1, vec![0; 8]))[..2], [0xd7, 0xff]);
        assert_eq!(enc(&Value::Ext(-1, vec![0; 12]))[..3], [0xc7, 12, 0xff]);
        assert_eq!(enc(&Value::Ext(5, vec![9]))[..2], [0xd4, 5]);
        assert_eq!(enc(&Value::Ext(5, vec![9; 16]))[..2], [0xd8, 5]);
        assert_eq!(enc(&Value::Ext(5, vec![]))[..3], [0xc7, 0, 5]);
        for n in [0, 1, 2, 3, 4, 8, 12, 16, 255, 256, 70_000] {
            roundtrip(&Value::Ext(3, vec![1; n]));
        }
    }

    #[test]
    fn incomplete_versus_invalid() {
        let full = enc(&Value::map_of(vec![
            ("ServiceMethod", "Builder.Run".into()),
            ("Seq", Value::Uint(2)),
        ]));
        for cut in 0..full.len() {
            assert_eq!(
                decode(&full[..cut]),
                Err(DecodeError::Incomplete),
                "cut {cut}"
            );
        }
        assert!(matches!(
            decode(&[0x91, 0xc1]),
            Err(DecodeError::Invalid { offset: 1, .. })
        ));
        assert!(matches!(
            decode(&[0xa2, 0xff, 0xfe]),
            Err(DecodeError::Invalid { offset: 0, .. })
        ));
    }

    #[test]
    fn huge_lengths_do_not_allocate() {
        // 4 G elements announced, 0 present: must report Incomplete without reserving memory.
        assert_eq!(
            decode(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
            Err(DecodeError::Incomplete)
        );
        assert_eq!(
            decode(&[0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0]),
            Err(DecodeError::Incomplete)
        );
        assert_eq!(
            decode(&[0xc6, 0xff, 0xff, 0xff, 0xff, 0]),
            Err(DecodeError::Incomplete)
        );
    }

    #[test]
    fn depth_is_bounded() {
        let deep = vec![0x91u8; MAX_DEPTH + 10];
        assert!(matches!(decode(&deep), Err(DecodeError::Invalid { .. })));
        let mut ok = vec![0x91u8; MAX_DEPTH - 1];
        ok.push(0xc0);
        assert!(decode(&ok).is_ok());
    }

    #[test]
    fn trailing_bytes_are_left() {
        let (v, n) = decode(&[0x02, 0x01]).unwrap();
        assert_eq!((v, n), (Value::Int(2), 1));
    }

    #[test]
    fn accessors() {
        let v = Value::map_of(vec![
            ("a", "x".into()),
            ("n", Value::Uint(7)),
            ("i", Value::Int(-3)),
            ("b", true.into()),
            ("l", Value::str_array(&["p", "q"])),
            ("z", Value::Nil),
            ("bin", Value::Bin(b"hi".to_vec())),
        ]);
        assert_eq!(v.get("a").and_then(Value::as_str), Some("x"));
        assert_eq!(v.get("n").and_then(Value::as_i64), Some(7));
        assert_eq!(v.get("i").and_then(Value::as_i64), Some(-3));
        assert_eq!(v.get("i").and_then(Value::as_u64), None);
        assert_eq!(v.get("b").and_then(Value::as_bool), Some(true));
        assert_eq!(
            v.get("l").and_then(Value::as_array).map(<[Value]>::len),
            Some(2)
        );
        assert!(v.get("z").is_some_and(Value::is_nil));
        assert_eq!(v.get("bin").and_then(Value::as_bytes), Some(&b"hi"[..]));
        assert_eq!(v.get("missing"), None);
        assert_eq!(Value::Uint(u64::MAX).as_i64(), None);
        assert_eq!(Value::from(None::<String>), Value::Nil);
    }

    #[test]
    fn json_bridge() {
        let j = serde_json::json!({"a": 1, "b": [true, null, "s", -5, 1.5], "c": {"d": 18446744073709551615u64}});
        let v = from_json(&j);
        assert_eq!(v.get("a"), Some(&Value::Int(1)));
        assert_eq!(to_json(&v), j);
        assert_eq!(
            to_json(&Value::Bin(b"{}".to_vec())),
            serde_json::json!("{}")
        );
        assert_eq!(
            to_json(&Value::Bin(vec![0xff, 0])),
            serde_json::json!([255, 0])
        );
        assert_eq!(
            to_json(&Value::Ext(-1, vec![1])),
            serde_json::json!({"$ext": -1, "data": [1]})
        );
    }
}
