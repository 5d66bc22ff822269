//! Known differences from kube-apiserver: requests whose outcome differs, with the reason.
//! Each is also listed in `docs/simulator.md` ("Known differences from kube-apiserver"). A
//! listed request that matches again fails the test, so the table stays true.

pub const KNOWN: &[(&str, &str)] = &[];

/// The reason `name` is a known difference, if it is one.
pub fn known(name: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}
