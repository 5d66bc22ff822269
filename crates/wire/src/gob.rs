//! Go encoding/gob (CONTRACT: filled by the wire helper).
