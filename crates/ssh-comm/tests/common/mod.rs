//! A throwaway OpenSSH server per test, via the shared `sshd-local.sh` script.
// Shared by the tests and the upload bench, which use different parts of it.
#![allow(dead_code, unused_imports)]
pub use testkit::sshd::{Capture, Sshd};

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// Deterministic pseudo-random bytes (so failures are reproducible).
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
