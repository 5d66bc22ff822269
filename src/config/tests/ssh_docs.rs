//! The reference page's SSH options against the code: every `ssh_*` and `temporary_key_pair_*`
//! option is documented, the page calls an option **Rejected** exactly when Prepare rejects it
//! (the table's rejected options), and a rejected option set gives its one-line reason.
use serde_json::json;

use super::super::options::{self, Kind};
use super::Fixture;

const REFERENCE: &str = include_str!("../../../docs/builder-reference.md");

/// The description cell of the option's row in the reference table.
fn documented(option: &str) -> Option<&'static str> {
    let head = format!("| `{option}` |");
    REFERENCE
        .lines()
        .find(|l| l.starts_with(&head))
        .map(|l| l.rsplit(" | ").next().unwrap_or_default())
}

fn ssh_options() -> impl Iterator<Item = (&'static str, Kind)> {
    options::all()
        .map(|o| (o.name, o.kind()))
        .filter(|(k, _)| k.starts_with("ssh_") || k.starts_with("temporary_key_pair_"))
        .filter(|(k, _)| !matches!(*k, "ssh_public_key" | "ssh_private_key"))
}

#[test]
fn the_page_says_rejected_exactly_for_the_rejected_options() {
    for (key, _) in ssh_options() {
        let row = documented(key).unwrap_or_else(|| panic!("{key} is not in the reference"));
        let rejected = options::rejected().any(|(o, _)| o.name == key);
        assert_eq!(
            row.contains("**Rejected**"),
            rejected,
            "{key}: the page says {row:?}"
        );
        assert!(!row.contains("no effect"), "{key}: {row}");
    }
    assert!(!REFERENCE.contains("Not supported yet (accepted"));
}

#[test]
fn rejected_options_give_their_reason_and_only_with_ssh() {
    let f = Fixture::new();
    for (option, why) in options::rejected() {
        let key = &option.name;
        let kind = Some(option.kind());
        let value = if kind == Some(Kind::StrList) {
            json!(["8080:localhost:80"])
        } else {
            json!(true)
        };
        let with = |v: serde_json::Value| {
            let mut values = vec![(*key, v)];
            if key.starts_with("ssh_bastion_") {
                values.push(("ssh_bastion_host", json!("jump")));
                values.push(("ssh_bastion_password", json!("pw")));
            }
            values
        };
        f.one(
            &with(value.clone()),
            &format!("{key}: not supported: {why}"),
        );
        assert!(!why.contains('\n'));
        // The off value is fine.
        let off = if kind == Some(Kind::StrList) {
            json!([])
        } else {
            json!(false)
        };
        f.ok(&f.with(&with(off)));
        let mut none = with(value);
        none.push(("communicator", json!("none")));
        f.ok(&f.with(&none));
    }
}
