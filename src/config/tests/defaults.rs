//! Walks every option row of `docs/builder-reference.md` and holds what the page states to what
//! Prepare does: the documented default is the value the prepared [`Config`] has when the option
//! is not set (through the table's name → effective value view), a documented **required**
//! option is reported missing, a derived default is what Prepare works out, and an option the
//! page calls **Rejected** is refused with the reason the page gives.
use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value as Json};

use super::super::options::{self, Default, Group, OptionDef, Type, Use, Value};
use super::super::{duration, prepare_with, Config, Environment, ProblemKind};
use super::{hcl_configs, Fixture};

/// One option row of the page: name, type, default, description.
struct Row {
    name: String,
    ty: String,
    default: String,
    description: String,
}

/// The rows of every option table with a default column (all but "Set by Packer").
fn rows() -> Vec<Row> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/builder-reference.md");
    let page = std::fs::read_to_string(path).expect("read the reference page");
    page.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .strip_prefix("| `")?
                .strip_suffix(" |")?
                .split(" | ")
                .collect();
            let [name, ty, default, description @ ..] = cells.as_slice() else {
                return None;
            };
            let name = name.strip_suffix('`')?;
            (!description.is_empty() && options::find(name).is_some()).then(|| Row {
                name: name.to_string(),
                ty: (*ty).to_string(),
                default: (*default).to_string(),
                description: description.join(" | "),
            })
        })
        .collect()
}

/// Options the option under test needs to matter: an import needs its URL and library, a jump
/// host or proxy options their host (and a way to log in).
fn context(name: &str) -> Vec<(&'static str, Json)> {
    let group = options::get(name);
    if options::group(Group::Import).any(|o| o.name == group.name) && name != "import_source_url" {
        let mut v = vec![(
            "import_source_url",
            json!("http://files.example/ubuntu.ova"),
        )];
        if name != "import_target_location_name" {
            v.push(("import_target_location_name", json!("images")));
        }
        return v;
    }
    if name.starts_with("ssh_bastion_") && name != "ssh_bastion_host" {
        let login = if name == "ssh_bastion_agent_auth" {
            ("ssh_bastion_password", json!("pw"))
        } else {
            ("ssh_bastion_agent_auth", json!(true))
        };
        return vec![("ssh_bastion_host", json!("jump")), login];
    }
    if name.starts_with("ssh_proxy_") && name != "ssh_proxy_host" {
        return vec![("ssh_proxy_host", json!("proxy"))];
    }
    Vec::new()
}

/// The config prepared from the smallest valid options and `name`'s context, without `name`,
/// then `extra` (which may set `name`).
fn prepared_without(f: &Fixture, name: &str, extra: &[(&'static str, Json)]) -> Config {
    let mut values = f.with(&context(name));
    values.retain(|(k, _)| *k != name);
    for (k, v) in extra {
        values.retain(|(key, _)| key != k);
        values.push((k, v.clone()));
    }
    f.ok(&values).config
}

/// A default cell that is one literal (`` `22` ``, `` `5m` ``), as a value of the row's type.
fn literal(row: &Row) -> Option<Value> {
    let text = row.default.strip_prefix('`')?.strip_suffix('`')?;
    // `` `ssh_username` ``: another option's value, a derived default.
    if text.contains('`') || options::find(text).is_some() {
        return None;
    }
    Some(match row.ty.as_str() {
        "bool" => Value::Bool(text.parse().expect("a bool default")),
        "number" => Value::Int(text.parse().expect("a number default")),
        "duration" => Value::Duration(duration::parse(text).expect("a Go duration").value),
        _ => Value::Str(text.to_string()),
    })
}

#[test]
fn every_documented_default_is_what_prepare_applies() {
    let f = Fixture::new();
    let rows = rows();
    let documented = options::all().filter(|o| o.used != Use::Packer && o.ty != Type::Bytes);
    for o in documented {
        assert!(
            rows.iter().any(|r| r.name == o.name),
            "{} has no row with a default on the page",
            o.name
        );
    }
    for row in &rows {
        let o = options::get(&row.name);
        assert_eq!(
            row.default,
            o.default.doc(),
            "{}: the page and the table",
            row.name
        );
        if let Some(expected) = literal(row) {
            let c = prepared_without(&f, o.name, &[]);
            assert_eq!(
                o.effective(&c),
                expected,
                "{}: documented {}",
                o.name,
                row.default
            );
            assert_eq!(
                o.default.value(),
                Some(expected),
                "{}: the table's default",
                o.name
            );
            continue;
        }
        match o.default {
            Default::Unset(_) => {
                let c = prepared_without(&f, o.name, &[]);
                assert_eq!(
                    o.effective(&c),
                    Value::Unset,
                    "{}: documented {}",
                    o.name,
                    row.default
                );
            }
            Default::Required(_) => required(&f, o),
            Default::AliasOf(target) => alias(&f, o, target),
            Default::Derived(_) => derived(&f, o),
            other => panic!(
                "{}: the page states {:?} for {other:?}",
                o.name, row.default
            ),
        }
    }
}

/// Left out, a required option is reported by name as missing, and only that.
fn required(f: &Fixture, o: &OptionDef) {
    let mut values = f.with(&context(o.name));
    values.retain(|(k, _)| *k != o.name);
    let e = f.prepare(&values).expect_err(o.name);
    assert_eq!(e.problems.len(), 1, "{}: {e}", o.name);
    assert_eq!(e.problems[0].option, o.name);
    assert_eq!(e.problems[0].kind, ProblemKind::Required, "{}: {e}", o.name);
}

/// An older name: unset it follows its target; set alone it sets the target.
fn alias(f: &Fixture, o: &OptionDef, target: &'static str) {
    let t = options::get(target);
    let c = prepared_without(f, o.name, &[]);
    assert_eq!(o.effective(&c), t.effective(&c), "{}", o.name);
    let c = prepared_without(f, o.name, &[(target, json!("7m"))]);
    assert_eq!(t.effective(&c), Value::Duration(Duration::from_secs(420)));
    let mut values = f.with(&[(o.name, json!("7m"))]);
    values.retain(|(k, _)| *k != target);
    let c = f.ok(&values).config;
    assert_eq!(
        t.effective(&c),
        Value::Duration(Duration::from_secs(420)),
        "{}",
        o.name
    );
}

fn text(c: &Config, name: &str) -> String {
    match options::get(name).effective(c) {
        Value::Str(s) => s,
        other => panic!("{name}: {other:?}"),
    }
}

/// Each default Prepare works out, in the situations the page names.
fn derived(f: &Fixture, o: &OptionDef) {
    let name = o.name;
    let value = |extra: &[(&'static str, Json)]| o.effective(&prepared_without(f, name, extra));
    match name {
        "kubeconfig_path" => kubeconfig_path(f),
        "image_name" => {
            let mut values = f.base();
            values.retain(|(k, _)| *k != name);
            let e = f.prepare(&values).expect_err("no image");
            assert_eq!(e.problems[0].option, name);
            assert_eq!(e.problems[0].kind, ProblemKind::Required);
            values.extend([
                (
                    "import_source_url",
                    json!("http://files.example/ubuntu.ova"),
                ),
                ("import_target_location_name", json!("images")),
            ]);
            let c = f.ok(&values).config;
            assert_eq!(o.effective(&c), Value::Unset);
            assert!(c.import.is_some(), "the import is deployed");
        }
        "source_name" => {
            let n = text(&prepared_without(f, name, &[]), name);
            let suffix = n.strip_prefix("source-").expect("source- prefix");
            assert_eq!(suffix.len(), 5, "{n}");
            assert!(
                suffix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
                "{n}"
            );
        }
        "import_target_image_type" => {
            assert_eq!(value(&[]), Value::Str("ovf".into()));
            let iso = [(
                "import_source_url",
                json!("http://files.example/x.iso?sig=1"),
            )];
            assert_eq!(value(&iso), Value::Str("iso".into()));
        }
        "import_request_name" => {
            let n = text(&prepared_without(f, name, &[]), name);
            let suffix = n
                .strip_prefix("packer-vsphere-supervisor-import-req-")
                .expect("prefix");
            assert_eq!(suffix.len(), 5, "{n}");
            assert!(suffix.bytes().all(|b| b.is_ascii_hexdigit()), "{n}");
        }
        "temporary_key_pair_bits" => {
            assert_eq!(value(&[]), Value::Int(256), "ed25519");
            let of = |t: &str| value(&[("temporary_key_pair_type", json!(t))]);
            assert_eq!(of("rsa"), Value::Int(4096));
            assert_eq!(of("ecdsa"), Value::Int(521));
        }
        "ssh_bastion_username" => {
            assert_eq!(value(&[]), Value::Str("packer".into()));
            assert_eq!(
                value(&[("ssh_username", json!("u"))]),
                Value::Str("u".into())
            );
        }
        "ssh_bastion_private_key_file" => {
            let key = f.file("id_ed25519", super::super::files::tests::SSH_KEY);
            let own = [("ssh_private_key_file", json!(key))];
            assert_eq!(value(&own), Value::Str(key.clone()), "inherited");
            let with_password = [own[0].clone(), ("ssh_bastion_password", json!("pw"))];
            assert_eq!(value(&with_password), Value::Unset, "not with a password");
        }
        "winrm_port" => {
            assert_eq!(value(&[]), Value::Int(5985));
            assert_eq!(value(&[("winrm_use_ssl", json!(true))]), Value::Int(5986));
        }
        // `communicator = "winrm"` is refused, so its `packer` is never applied: without it
        // there is no WinRM user.
        "winrm_username" => assert_eq!(value(&[]), Value::Str(String::new())),
        other => panic!("{other}: a derived default with no check here"),
    }
}

/// `$KUBECONFIG` when set, else `~/.kube/config`.
fn kubeconfig_path(f: &Fixture) {
    let mut values = f.base();
    values.retain(|(k, _)| *k != "kubeconfig_path");
    let kubeconfig = f.path("kubeconfig");
    let env = Environment {
        kubeconfig: Some(kubeconfig.display().to_string()),
        home: None,
    };
    let p = prepare_with(&hcl_configs(&values), &env).expect("from $KUBECONFIG");
    assert_eq!(p.config.kubeconfig_paths, vec![kubeconfig.clone()]);
    let home = f.path("home");
    std::fs::create_dir_all(home.join(".kube")).expect("mkdir");
    std::fs::copy(&kubeconfig, home.join(".kube/config")).expect("copy");
    std::fs::copy(f.path("ca.pem"), home.join(".kube/ca.pem")).expect("copy");
    let env = Environment {
        kubeconfig: None,
        home: Some(home.clone()),
    };
    let p = prepare_with(&hcl_configs(&values), &env).expect("from ~/.kube/config");
    assert_eq!(p.config.kubeconfig_paths, vec![home.join(".kube/config")]);
}

#[test]
fn options_the_page_rejects_are_rejected_with_the_stated_reason() {
    let f = Fixture::new();
    let mut seen = 0;
    for row in rows() {
        let o = options::get(&row.name);
        let Some(stated) = row
            .description
            .strip_prefix("**Rejected** at Prepare when `true`: ")
        else {
            assert!(
                !matches!(o.used, Use::Rejected(_)),
                "{}: rejected, but the page does not say so",
                o.name
            );
            continue;
        };
        seen += 1;
        let reason = stated.split_once(". ").map_or(stated, |(r, _)| r);
        let reason = reason.strip_suffix('.').unwrap_or(reason);
        let mut values = f.with(&context(o.name));
        values.push((o.name, json!(true)));
        let e = f.prepare(&values).expect_err(o.name);
        assert_eq!(
            e.lines(),
            vec![format!("{}: not supported: {reason}", o.name)],
            "{}",
            o.name
        );
        assert_eq!(e.problems[0].kind, ProblemKind::Unsupported);
    }
    assert_eq!(
        seen,
        options::rejected().count(),
        "rejected options on the page"
    );
}

/// Every option the page documents is used: setting it to a value other than its default
/// changes the prepared config (or, for the rejected ones, is refused).
#[test]
fn no_option_is_accepted_and_ignored() {
    let f = Fixture::new();
    for o in options::all().filter(|o| o.used == Use::Used) {
        let Some(value) = other_value(o) else {
            continue;
        };
        // Options that cannot be left out are compared with another value.
        let required = matches!(o.default, Default::Required(_)) || o.name == "image_name";
        let before = if required {
            prepared_without(&f, o.name, &[(o.name, json!("baseline"))])
        } else {
            prepared_without(&f, o.name, &[])
        };
        let mut set = vec![(o.name, value.clone())];
        if o.name == "ssh_bastion_host" {
            set.push(("ssh_bastion_agent_auth", json!(true))); // a jump host needs a login
        }
        let after = prepared_without(&f, o.name, &set);
        assert_ne!(
            o.effective(&before),
            o.effective(&after),
            "{} = {value} changed nothing",
            o.name
        );
    }
}

/// A valid value other than the default, for the options whose value the config keeps as
/// given; `None` for those that need a file, a URL or another option to be valid (the other
/// tests of this module and `tests.rs` cover them).
fn other_value(o: &OptionDef) -> Option<Json> {
    Some(match (o.name, o.ty) {
        ("ssh_username" | "winrm_username" | "ssh_bastion_username", _) => json!("someone"),
        ("source_name", _) => json!("golden-1"),
        ("communicator", _) => json!("none"),
        ("temporary_key_pair_type", _) => json!("rsa"),
        ("ssh_file_transfer_method", _) => json!("sftp"),
        ("kubeconfig_context", _) => json!("bare"),
        ("iso_boot_disk_size", _) => json!("40Gi"),
        ("import_target_image_type", _) => json!("iso"),
        ("ssh_host" | "ssh_bastion_host" | "ssh_proxy_host" | "winrm_host", _) => json!("10.0.0.9"),
        ("ssh_local_tunnels" | "ssh_remote_tunnels", _) => json!(["9090:db:5432"]),
        // Valid only with a file, a PEM text, another option or a data file.
        (
            "kubeconfig_path"
            | "bootstrap_provider"
            | "import_source_url"
            | "import_source_ssl_certificate"
            | "temporary_key_pair_bits"
            | "ssh_proxy_password",
            _,
        ) => return None,
        (_, Type::Bool) => json!(!matches!(o.default, Default::Bool(true))),
        (_, Type::Int) => json!(7),
        (_, Type::Duration) => json!("7m"),
        (_, Type::Str) => json!("some-name"),
        (_, Type::StrList) => json!(["aes128-ctr"]),
        (_, Type::Path | Type::StrMap | Type::Bytes) => return None,
    })
}
