//! MessagePack values as Go's `ugorji/go/codec` MsgpackHandle{WriteExt:true} writes them.
//! (CONTRACT — the wire helper fills in the bodies; keep these signatures.)

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
