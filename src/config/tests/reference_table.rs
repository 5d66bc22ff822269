//! The reference page (`docs/builder-reference.md`) and the option table (`spec::OPTIONS`) agree:
//! every option the plugin accepts has a row, every row names an option the plugin accepts, and
//! the row's type is what the table declares.
use super::super::spec::{Kind, JSON_ONLY_KEYS, OPTIONS};

const REFERENCE: &str = include_str!("../../../docs/builder-reference.md");

/// `(option, type)` of every option row: `| \`name\` | type | …`, lower-case names only (the
/// generated variables' tables use capitalised names).
fn rows() -> Vec<(&'static str, &'static str)> {
    REFERENCE
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("| `")?;
            let (name, rest) = rest.split_once('`')?;
            let ty = rest.strip_prefix(" | ")?.split(" | ").next()?;
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase())
                .then_some((name, ty.trim()))
        })
        .collect()
}

/// The types a row may state for a kind.
fn allowed(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Bool => &["bool"],
        Kind::Int => &["number"],
        Kind::Str => &["string", "string (path)", "duration"],
        Kind::StrList => &["list of strings"],
        Kind::StrMap => &["map of strings"],
        Kind::Bytes => &["list of numbers"],
    }
}

#[test]
fn every_accepted_option_has_a_row_of_its_type() {
    let rows = rows();
    assert!(
        rows.len() >= OPTIONS.len() / 2,
        "only {} option rows parsed",
        rows.len()
    );
    for (key, kind) in OPTIONS.iter().chain(JSON_ONLY_KEYS) {
        if *kind == Kind::Bytes && !rows.iter().any(|(n, _)| n == key) {
            continue; // SDK-internal byte fields (`ssh_private_key`): set by Packer, not by users
        }
        let row = rows.iter().find(|(n, _)| n == key);
        let Some((_, ty)) = row else {
            panic!("{key} is accepted but has no row in docs/builder-reference.md");
        };
        assert!(
            allowed(*kind).contains(ty),
            "{key}: the reference says type {ty:?}, the option table {kind:?}"
        );
    }
}

#[test]
fn every_row_names_an_accepted_option() {
    for (name, _) in rows() {
        assert!(
            OPTIONS
                .iter()
                .chain(JSON_ONLY_KEYS)
                .any(|(k, _)| *k == name),
            "docs/builder-reference.md documents {name}, which Prepare does not accept"
        );
    }
}
