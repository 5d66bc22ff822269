//! Test-only harnesses (filled later).
