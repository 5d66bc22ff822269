//! `packer validate` with the real Packer 1.6.6 (`/usr/bin/packer`) and the plugin binary,
//! installed the Packer 1.6 way as `packer-builder-vsphere-supervisor` in the working directory.
//!
//! Covers: every template in `packer-examples/` validates; broken configurations are rejected
//! with one clear line each (by Packer itself when our HCL2 spec lets it, else by Prepare);
//! several problems are reported together; JSON twins behave like their HCL2 templates; one
//! bad template per bad-input class (`BAD_INPUTS`: ranges, names, whitespace, keys,
//! certificates, bootstrap documents) stops at validate in one short line, without a crash.
//! No Supervisor is needed: Prepare reads the kubeconfig but calls no API.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PACKER: &str = "/usr/bin/packer";
const PLUGIN: &str = env!("CARGO_BIN_EXE_packer-plugin-vsphere-supervisor");
/// A whole `packer validate` (two process starts and a handful of RPCs) takes well under a
/// second; this only guards against a hung plugin.
const VALIDATE_TIMEOUT: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture(name: &str) -> PathBuf {
    repo().join("tests/fixtures/validate").join(name)
}

/// A private Packer environment: working directory with the plugin, HOME, kubeconfig.
struct Sandbox {
    dir: tempfile::TempDir,
}

struct Outcome {
    success: bool,
    output: String,
}

impl Outcome {
    /// The problems Packer printed as `* problem` lines. In the JSON-template path Packer's UI
    /// wraps long lines at a space, so following non-blank lines are joined back.
    fn problems(&self) -> Vec<String> {
        let mut problems: Vec<String> = Vec::new();
        let mut in_problem = false;
        for line in self.output.lines().map(str::trim) {
            if let Some(p) = line.strip_prefix("* ") {
                problems.push(p.to_string());
                in_problem = true;
            } else if line.is_empty() {
                in_problem = false;
            } else if in_problem {
                if let Some(last) = problems.last_mut() {
                    last.push(' ');
                    last.push_str(line);
                }
            }
        }
        problems
    }
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for sub in ["work", "home"] {
            std::fs::create_dir_all(dir.path().join(sub)).expect("mkdir");
        }
        // Packer 1.6 discovers single-component plugins named packer-builder-NAME in the
        // working directory; the binary picks its protocol from the name it runs under.
        std::os::unix::fs::symlink(
            PLUGIN,
            dir.path().join("work/packer-builder-vsphere-supervisor"),
        )
        .expect("symlink plugin");
        std::fs::copy(fixture("kubeconfig.yaml"), dir.path().join("kubeconfig"))
            .expect("copy kubeconfig");
        Sandbox { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn kubeconfig(&self) -> String {
        self.path("kubeconfig").display().to_string()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn validate(&self, args: &[&str]) -> Outcome {
        self.validate_with_kubeconfig(args, &self.kubeconfig())
    }

    fn validate_with_kubeconfig(&self, args: &[&str], kubeconfig: &str) -> Outcome {
        assert!(
            Path::new(PACKER).exists(),
            "{PACKER} is missing: install Debian's packer (scripts/install-deps.sh)"
        );
        let out_path = self.path("packer.out");
        let out = std::fs::File::create(&out_path).expect("create output file");
        let err = out.try_clone().expect("clone output file");
        let mut child = Command::new(PACKER)
            .arg("validate")
            .args(args)
            .current_dir(self.path("work"))
            .env("HOME", self.path("home"))
            .env("KUBECONFIG", kubeconfig)
            .env("CHECKPOINT_DISABLE", "1")
            .env_remove("PACKER_LOG")
            .env_remove("PACKER_CONFIG")
            .env_remove("PACKER_CONFIG_DIR")
            .env_remove("PACKER_PLUGIN_PATH")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start packer");
        let deadline = Instant::now() + VALIDATE_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for packer") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("packer validate {args:?} did not finish within {VALIDATE_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let output = std::fs::read_to_string(&out_path).unwrap_or_default();
        Outcome {
            success: status.success(),
            output,
        }
    }

    /// Writes `body` as an HCL2 template and validates it.
    fn validate_hcl(&self, body: &str) -> Outcome {
        let p = self.write("t.pkr.hcl", body);
        self.validate(&[p.to_str().expect("utf-8 path")])
    }

    fn validate_json(&self, body: &str) -> Outcome {
        let p = self.write("t.json", body);
        self.validate(&[p.to_str().expect("utf-8 path")])
    }
}

/// Option changes for a generated template: `(option, Some(HCL expression))` sets, `None` removes.
type Changes<'a> = Vec<(&'a str, Option<&'a str>)>;

/// The base options of the generated templates; `None` removes an option.
const BASE: &[(&str, &str)] = &[
    ("kubeconfig_path", "var.kubeconfig"),
    ("class_name", "\"best-effort-small\""),
    ("storage_class", "\"wcpglobal-storage-profile\""),
    ("image_name", "\"ubuntu-24.04\""),
];

fn options(changes: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let mut opts: Vec<(String, String)> = BASE
        .iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect();
    for (k, v) in changes {
        opts.retain(|(key, _)| key != k);
        if let Some(v) = v {
            opts.push(((*k).to_string(), (*v).to_string()));
        }
    }
    opts
}

/// An HCL2 template with the base options changed by `changes` (values are HCL expressions).
fn hcl(changes: &[(&str, Option<&str>)]) -> String {
    let attrs: String = options(changes)
        .iter()
        .map(|(k, v)| format!("  {k} = {v}\n"))
        .collect();
    format!(
        "variable \"kubeconfig\" {{\n  type    = string\n  default = env(\"KUBECONFIG\")\n}}\n\nsource \"vsphere-supervisor\" \"t\" {{\n{attrs}}}\n\nbuild {{\n  sources = [\"source.vsphere-supervisor.t\"]\n}}\n"
    )
}

/// The JSON-template twin of [`hcl`]: the same values (HCL literals are also JSON literals).
fn json(changes: &[(&str, Option<&str>)]) -> String {
    let attrs: Vec<String> = options(changes)
        .iter()
        .map(|(k, v)| {
            let v = if v == "var.kubeconfig" {
                "\"{{user `kubeconfig`}}\""
            } else {
                v.as_str()
            };
            format!("      \"{k}\": {v}")
        })
        .collect();
    format!(
        "{{\n  \"variables\": {{\"kubeconfig\": \"{{{{env `KUBECONFIG`}}}}\"}},\n  \"builders\": [\n    {{\n      \"type\": \"vsphere-supervisor\",\n      \"name\": \"t\",\n{}\n    }}\n  ]\n}}\n",
        attrs.join(",\n")
    )
}

fn assert_valid(o: &Outcome, what: &str) {
    assert!(
        o.success,
        "{what} should validate, packer said:\n{}",
        o.output
    );
    assert!(!o.output.contains("rror"), "{what}: {}", o.output);
}

/// Asserts a rejection whose only problem line is `expected`.
fn assert_one_problem(o: &Outcome, expected: &str, what: &str) {
    assert!(
        !o.success,
        "{what} should be rejected, packer said:\n{}",
        o.output
    );
    assert_eq!(
        o.problems(),
        vec![expected.to_string()],
        "{what}: packer said:\n{}",
        o.output
    );
    assert!(
        o.output.contains("1 error(s) occurred:"),
        "{what}: the count line is missing:\n{}",
        o.output
    );
}

/// Asserts a rejection by Packer itself (HCL2 decoding against our spec) mentioning `expected`.
fn assert_packer_rejects(o: &Outcome, expected: &str, what: &str) {
    assert!(
        !o.success,
        "{what} should be rejected, packer said:\n{}",
        o.output
    );
    assert!(
        o.output.contains(expected),
        "{what}: expected {expected:?} in:\n{}",
        o.output
    );
}

/// The example directories (each a `build.pkr.hcl` and a `plugins.pkr.hcl`) and the JSON one.
const EXAMPLE_DIRS: [&str; 6] = [
    "cloudinit",
    "import",
    "iso",
    "publish-ttl",
    "sysprep",
    "vappconfig",
];

#[test]
fn every_example_template_validates() {
    // Packer 1.6 does not know `required_plugins`: it validates each `build.pkr.hcl` alone
    // (tests/e2e/examples.rs builds the directories with Packer 1.9).
    let sb = Sandbox::new();
    let ex = repo().join("packer-examples");
    let s = |p: PathBuf| p.display().to_string();
    for dir in EXAMPLE_DIRS {
        let build = s(ex.join(dir).join("build.pkr.hcl"));
        let var_file = format!(
            "-var-file={}",
            s(ex.join("publish-ttl/variables.pkrvars.hcl"))
        );
        let args: Vec<&str> = match dir {
            "publish-ttl" => vec![&var_file, &build],
            "import" => vec!["-var=import_url=http://127.0.0.1:1/a.ova", &build],
            _ => vec![&build],
        };
        assert_valid(&sb.validate(&args), dir);
    }
    let o = sb.validate(&[&s(ex.join("cloudinit-json/cloudinit.json"))]);
    assert_valid(&o, "cloudinit-json/cloudinit.json");
}

#[test]
fn every_example_file_is_covered() {
    // A new example must be added to the test above (and to the README).
    let ex = repo().join("packer-examples");
    let mut names: Vec<String> = std::fs::read_dir(&ex)
        .expect("read packer-examples")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir() && e.file_name() != "files")
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<&str> = EXAMPLE_DIRS.to_vec();
    want.push("cloudinit-json");
    want.sort();
    assert_eq!(names, want);
    let readme = std::fs::read_to_string(ex.join("README.md")).expect("README");
    for n in &names {
        assert!(
            readme.contains(&format!("`{n}/`")),
            "packer-examples/README.md does not mention `{n}/`"
        );
        if n.as_str() != "cloudinit-json" {
            let plugins = std::fs::read_to_string(ex.join(n).join("plugins.pkr.hcl"))
                .unwrap_or_else(|e| panic!("{n}/plugins.pkr.hcl: {e}"));
            assert!(
                plugins.contains("required_plugins")
                    && plugins.contains(vsphere_supervisor::PLUGIN_SOURCE),
                "{n}/plugins.pkr.hcl does not require {}",
                vsphere_supervisor::PLUGIN_SOURCE
            );
        }
    }
}

#[test]
fn generated_base_templates_validate() {
    let sb = Sandbox::new();
    assert_valid(&sb.validate_hcl(&hcl(&[])), "base HCL2 template");
    assert_valid(&sb.validate_json(&json(&[])), "base JSON template");
}

#[test]
fn broken_configurations_get_one_clear_line_from_prepare() {
    let sb = Sandbox::new();
    let missing = sb.path("no-such-kubeconfig").display().to_string();
    let missing_hcl = format!("\"{missing}\"");
    let cases: Vec<(Changes, String)> = vec![
        (vec![("class_name", None)], "class_name: required (the VirtualMachineClass of the source VM)".into()),
        (vec![("storage_class", None)], "storage_class: required (the Kubernetes StorageClass for the source VM)".into()),
        (
            vec![("source_name", Some("\"source-abcdefghi\""))],
            "source_name: \"source-abcdefghi\" is 16 characters long; at most 15 are allowed (it becomes the guest hostname, limited by Windows to 15)".into(),
        ),
        (
            vec![("bootstrap_provider", Some("\"Ignition\""))],
            "bootstrap_provider: unknown provider \"Ignition\"; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"".into(),
        ),
        (
            vec![("bootstrap_provider", Some("\"sysprep\""))],
            "bootstrap_provider: unknown provider \"sysprep\"; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"; did you mean \"Sysprep\"? (values are case-sensitive)".into(),
        ),
        (
            vec![("bootstrap_provider", Some("\"Sysprep\"")), ("communicator", Some("\"none\""))],
            "bootstrap_data_file: required when bootstrap_provider is \"Sysprep\"".into(),
        ),
        (
            vec![("ssh_timeout", Some("\"5 minutes\""))],
            "ssh_timeout: invalid duration \"5 minutes\": unknown unit \" minutes\" (use ns, us, ms, s, m or h)".into(),
        ),
        (
            vec![("watch_source_timeout_sec", Some("-1"))],
            "watch_source_timeout_sec: must not be negative, got -1 (0 means the default, 3600)".into(),
        ),
        (
            vec![("kubeconfig_path", Some(missing_hcl.as_str()))],
            format!("kubeconfig_path: kubeconfig file {missing} not found"),
        ),
        (
            vec![("kubeconfig_context", Some("\"prod\""))],
            "kubeconfig_context: context \"prod\" not found in the kubeconfig (available: sim)".into(),
        ),
        (
            vec![("iso_boot_disk_size", Some("\"20GB\""))],
            "iso_boot_disk_size: \"20GB\" is not a valid Kubernetes quantity (unknown suffix \"GB\"); use e.g. \"20Gi\" or \"40G\"".into(),
        ),
        (
            vec![("temporary_key_pair_type", Some("\"dsa\""))],
            "temporary_key_pair_type: \"dsa\" is not supported: DSA keys are insecure and OpenSSH no longer accepts them; use \"ed25519\", \"rsa\" or \"ecdsa\"".into(),
        ),
        (
            vec![("communicator", Some("\"winrm\""))],
            "communicator: \"winrm\" is not supported yet by this plugin (WinRM connections are not implemented); use \"ssh\", or \"none\" to skip provisioning".into(),
        ),
        (
            vec![("ssh_port", Some("70000"))],
            "ssh_port: must be a port number between 1 and 65535, got 70000".into(),
        ),
        (
            vec![("publish_location_name", Some("\"golden-images\"")), ("publish_request_ttl_sec", Some("-5"))],
            "publish_request_ttl_sec: must not be negative, got -5".into(),
        ),
        (
            vec![
                ("import_source_url", Some("\"https://files.example/photon.ova\"")),
                ("import_target_location_name", Some("\"golden-images\"")),
            ],
            "import_source_ssl_certificate: required when import_source_url is an https:// URL (the PEM certificate of the server)".into(),
        ),
    ];
    assert!(cases.len() >= 12);
    for (changes, expected) in &cases {
        let o = sb.validate_hcl(&hcl(changes));
        assert_one_problem(&o, expected, &format!("HCL2 {changes:?}"));
    }
    // The JSON twins of a few of them report the very same line.
    for (changes, expected) in cases.iter().step_by(3) {
        let o = sb.validate_json(&json(changes));
        assert_one_problem(&o, expected, &format!("JSON {changes:?}"));
    }
}

#[test]
fn packer_itself_rejects_unknown_keys_and_wrong_types_thanks_to_the_spec() {
    let sb = Sandbox::new();
    let o = sb.validate_hcl(&hcl(&[("foo", Some("1"))]));
    assert_packer_rejects(
        &o,
        "An argument named \"foo\" is not expected here.",
        "unknown key",
    );
    let o = sb.validate_hcl(&hcl(&[("ssh_port", Some("\"abc\""))]));
    assert_packer_rejects(
        &o,
        "Inappropriate value for attribute \"ssh_port\": a number is required.",
        "string port",
    );
    let o = sb.validate_hcl(&hcl(&[("ssh_port", Some("[22]"))]));
    assert_packer_rejects(
        &o,
        "Inappropriate value for attribute \"ssh_port\"",
        "list port",
    );
    let o = sb.validate_hcl(&hcl(&[("ssh_ciphers", Some("\"aes128-ctr\""))]));
    assert_packer_rejects(
        &o,
        "Inappropriate value for attribute \"ssh_ciphers\"",
        "string for a list",
    );
    // HCL2 converts a numeric string for a number attribute; Prepare then sees a number.
    assert_valid(
        &sb.validate_hcl(&hcl(&[("ssh_port", Some("\"2222\""))])),
        "numeric string port",
    );
}

#[test]
fn json_templates_are_checked_by_prepare() {
    // Packer does not check keys or types of legacy JSON builders: Prepare does.
    let sb = Sandbox::new();
    let o = sb.validate_json(&json(&[("foo", Some("1"))]));
    assert_one_problem(&o, "unknown configuration key: \"foo\"", "JSON unknown key");
    let o = sb.validate_json(&json(&[("ssh_usernme", Some("\"x\""))]));
    assert_one_problem(
        &o,
        "unknown configuration key: \"ssh_usernme\"; did you mean \"ssh_username\"?",
        "JSON misspelt key",
    );
    let o = sb.validate_json(&json(&[("ssh_port", Some("\"abc\""))]));
    assert_one_problem(
        &o,
        "ssh_port: expected a number, got string \"abc\"",
        "JSON string port",
    );
    let o = sb.validate_json(&json(&[("ssh_port", Some("[22]"))]));
    assert_one_problem(
        &o,
        "ssh_port: expected a number, got a list of 1 element(s)",
        "JSON list port",
    );
    // Go's SDK decodes JSON templates weakly; so do we.
    assert_valid(
        &sb.validate_json(&json(&[("ssh_port", Some("\"2222\""))])),
        "JSON numeric string port",
    );
}

#[test]
fn several_problems_are_reported_at_once_in_hcl_and_json() {
    let sb = Sandbox::new();
    let expected = [
        "watch_source_timeout_sec: must not be negative, got -1 (0 means the default, 3600)",
        "class_name: required (the VirtualMachineClass of the source VM)",
        "source_name: \"this-name-is-too-long\" is 21 characters long; at most 15 are allowed (it becomes the guest hostname, limited by Windows to 15)",
        "bootstrap_provider: unknown provider \"sysprep\"; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"; did you mean \"Sysprep\"? (values are case-sensitive)",
        "iso_boot_disk_size: \"20GB\" is not a valid Kubernetes quantity (unknown suffix \"GB\"); use e.g. \"20Gi\" or \"40G\"",
        "ssh_timeout: invalid duration \"5 minutes\": unknown unit \" minutes\" (use ns, us, ms, s, m or h)",
        "temporary_key_pair_type: \"dsa\" is not supported: DSA keys are insecure and OpenSSH no longer accepts them; use \"ed25519\", \"rsa\" or \"ecdsa\"",
    ];
    for name in ["many-problems.pkr.hcl", "many-problems.json"] {
        let o = sb.validate(&[fixture(name).to_str().expect("utf-8 path")]);
        assert!(!o.success, "{name}: {}", o.output);
        let mut got = o.problems();
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|s| (*s).to_string()).collect();
        want.sort();
        assert_eq!(got, want, "{name}: packer said:\n{}", o.output);
        assert!(
            o.output
                .contains(&format!("{} error(s) occurred:", expected.len())),
            "{name}: {}",
            o.output
        );
    }
}

#[test]
fn kubeconfig_env_list_is_split_like_kubectl() {
    // Upstream treated "a:b" as one path; the first missing entry must not hide the second.
    let sb = Sandbox::new();
    let list = format!("{}:{}", sb.path("missing").display(), sb.kubeconfig());
    let p = sb.write("t.pkr.hcl", &hcl(&[("kubeconfig_path", None)]));
    let o = sb.validate_with_kubeconfig(&[p.to_str().expect("utf-8 path")], &list);
    assert_valid(&o, "KUBECONFIG list");
    let o = sb.validate_with_kubeconfig(
        &[p.to_str().expect("utf-8 path")],
        &sb.path("missing").display().to_string(),
    );
    assert_one_problem(
        &o,
        &format!(
            "kubeconfig_path: kubeconfig file {} not found",
            sb.path("missing").display()
        ),
        "KUBECONFIG pointing nowhere",
    );
}

#[test]
fn bootstrap_data_is_checked_at_validate_time() {
    let sb = Sandbox::new();
    let data = sb.write("props.yaml", "nested:\n  not: allowed\n");
    let data_hcl = format!("\"{}\"", data.display());
    let o = sb.validate_hcl(&hcl(&[
        ("bootstrap_provider", Some("\"vAppConfig\"")),
        ("bootstrap_data_file", Some(data_hcl.as_str())),
        ("communicator", Some("\"none\"")),
    ]));
    assert_one_problem(
        &o,
        &format!(
            "bootstrap_data_file: {} must be a YAML map of vApp property names to string values: value of \"nested\" is not a string",
            data.display()
        ),
        "nested vApp properties",
    );
}

/// A kubeconfig like the sandbox's, with the cluster's TLS line and the user replaced.
fn kubeconfig_with(cluster_tls: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: https://127.0.0.1:1\n    {cluster_tls}\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: sim-admin\n    namespace: demo\nusers:\n- name: sim-admin\n  user:\n    {user}\n"
    )
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// The files the bad-input cases refer to as `{dir}/NAME`.
fn write_bad_inputs(sb: &Sandbox) {
    let tls = |name: &str| {
        std::fs::read_to_string(fixture("tls").join(name)).expect("read a tls fixture")
    };
    let token = "token: not-a-real-token";
    let ca = format!("certificate-authority-data: {}", b64(&tls("ca.pem")));
    for (name, text) in [
        ("not-a-key", "hello\n".to_string()),
        ("id_encrypted", tls("id_encrypted")),
        ("id_ed25519", tls("id_ed25519")),
        (
            "cloud-config.yaml",
            "#cloud-config\nusers: [a\nb: : c\n".into(),
        ),
        (
            "unattend.xml",
            "<?xml version=\"1.0\"?>\n<unattend><a></unattend>\n".into(),
        ),
        ("props.yaml", "- not\n- a map\n".into()),
        (
            "kc-ca-data",
            kubeconfig_with(
                &format!("certificate-authority-data: {}", b64("hello")),
                token,
            ),
        ),
        (
            "kc-ca-file",
            kubeconfig_with("certificate-authority: missing-ca.pem", token),
        ),
        (
            "kc-client-cert",
            kubeconfig_with(&ca, &format!("client-certificate-data: {}", b64("nope"))),
        ),
        (
            "kc-client-key",
            kubeconfig_with(&ca, &format!("client-key-data: {}", b64(&tls("ca.pem")))),
        ),
        ("kc-good", kubeconfig_with(&ca, token)),
    ] {
        sb.write(name, &text);
    }
    std::fs::create_dir_all(sb.path("a-directory")).expect("mkdir");
}

/// One bad input: the option the line must name, the template changes (`{dir}` is the
/// sandbox), and text the line must contain.
type BadInput = (
    &'static str,
    &'static [(&'static str, Option<&'static str>)],
    &'static str,
);

/// One bad input per class. Adding a case is one line.
const BAD_INPUTS: &[BadInput] = &[
    ("watch_source_timeout_sec", &[("watch_source_timeout_sec", Some("9223372036854775807"))], "must be at most 86400 seconds (24 hours), got 9223372036854775807"),
    ("watch_source_timeout_sec", &[("watch_source_timeout_sec", Some("1e300"))], "got 1e300"),
    ("watch_source_timeout_sec", &[("watch_source_timeout_sec", Some("1.5"))], "expected a whole number, got 1.5"),
    ("watch_publish_timeout_sec", &[("publish_location_name", Some("\"golden\"")), ("watch_publish_timeout_sec", Some("86401"))], "must be at most 86400"),
    ("watch_import_timeout_sec", &[("watch_import_timeout_sec", Some("-5"))], "must not be negative"),
    ("publish_request_ttl_sec", &[("publish_location_name", Some("\"golden\"")), ("publish_request_ttl_sec", Some("99999999999"))], "must be at most 31536000 seconds"),
    ("ssh_handshake_attempts", &[("ssh_handshake_attempts", Some("100000"))], "must be at most 1000 attempts"),
    ("ssh_bastion_port", &[("ssh_bastion_host", Some("\"jump\"")), ("ssh_bastion_password", Some("\"pw\"")), ("ssh_bastion_port", Some("-1"))], "between 1 and 65535, got -1"),
    ("temporary_key_pair_bits", &[("temporary_key_pair_type", Some("\"rsa\"")), ("temporary_key_pair_bits", Some("1e300"))], "got 1e300"),
    ("ssh_timeout", &[("ssh_timeout", Some("\"25h\""))], "at most 24h is allowed, got \"25h\""),
    ("ssh_timeout", &[("ssh_timeout", Some("\"99999999999h\""))], "too large"),
    ("ssh_timeout", &[("ssh_timeout", Some("\"-5m\""))], "must not be negative"),
    ("pause_before_connecting", &[("pause_before_connecting", Some("\"2h\""))], "at most 1h is allowed"),
    ("ssh_keep_alive_interval", &[("ssh_keep_alive_interval", Some("\"90m\""))], "at most 1h is allowed"),
    ("ssh_read_write_timeout", &[("ssh_read_write_timeout", Some("\"48h\""))], "at most 24h is allowed"),
    ("class_name", &[("class_name", Some("\"   \""))], "is only whitespace"),
    ("storage_class", &[("storage_class", Some("\" wcp \""))], "leading or trailing whitespace"),
    ("communicator", &[("communicator", Some("\"ssh \""))], "leading or trailing whitespace"),
    ("ssh_username", &[("ssh_username", Some("\" packer\""))], "leading or trailing whitespace"),
    ("class_name", &[("class_name", Some("\"Best_Effort\""))], "is not a valid name: 'B' is not allowed"),
    ("storage_class", &[("storage_class", Some("\"a..b\""))], "is not a valid name: it is empty"),
    ("image_name", &[("image_name", Some("\"vmi-ABC\""))], "is not a valid name"),
    ("supervisor_namespace", &[("supervisor_namespace", Some("\"Demo\""))], "is not a valid name"),
    ("publish_location_name", &[("publish_location_name", Some("\"Golden Images\""))], "is not a valid name"),
    ("publish_image_name", &[("publish_location_name", Some("\"golden\"")), ("publish_image_name", Some("\"nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn\""))], "at most 80 are allowed"),
    ("kubeconfig_path", &[("kubeconfig_path", Some("\"{dir}/a-directory\""))], "is a directory, not a file"),
    ("kubeconfig_path", &[("kubeconfig_path", Some("\"{dir}/kc-ca-data\""))], "cluster \"sim\": certificate-authority-data holds no PEM certificate"),
    ("kubeconfig_path", &[("kubeconfig_path", Some("\"{dir}/kc-ca-file\""))], "certificate-authority file {dir}/missing-ca.pem not found"),
    ("kubeconfig_path", &[("kubeconfig_path", Some("\"{dir}/kc-client-cert\""))], "user \"sim-admin\": client-certificate-data holds no PEM certificate"),
    ("kubeconfig_path", &[("kubeconfig_path", Some("\"{dir}/kc-client-key\""))], "client-key-data holds no PEM private key"),
    ("ssh_private_key_file", &[("ssh_private_key_file", Some("\"{dir}/not-a-key\""))], "is not a private key the SSH client can read"),
    ("ssh_private_key_file", &[("ssh_private_key_file", Some("\"{dir}/id_encrypted\""))], "is encrypted with a passphrase"),
    ("ssh_private_key_file", &[("ssh_private_key_file", Some("\"{dir}/a-directory\""))], "is a directory, not a file"),
    ("ssh_certificate_file", &[("ssh_private_key_file", Some("\"{dir}/id_ed25519\"")), ("ssh_certificate_file", Some("\"{dir}/id_ed25519\""))], "is not an OpenSSH certificate"),
    ("ssh_bastion_private_key_file", &[("ssh_bastion_host", Some("\"jump\"")), ("ssh_bastion_private_key_file", Some("\"{dir}/not-a-key\""))], "is not a private key"),
    ("bootstrap_data_file", &[("ssh_password", Some("\"pw\"")), ("bootstrap_data_file", Some("\"{dir}/cloud-config.yaml\""))], "is not valid #cloud-config YAML"),
    ("bootstrap_data_file", &[("bootstrap_provider", Some("\"Sysprep\"")), ("communicator", Some("\"none\"")), ("bootstrap_data_file", Some("\"{dir}/unattend.xml\""))], "is not well-formed Sysprep unattend XML"),
    ("bootstrap_data_file", &[("bootstrap_provider", Some("\"vAppConfig\"")), ("communicator", Some("\"none\"")), ("bootstrap_data_file", Some("\"{dir}/props.yaml\""))], "must be a YAML map of vApp property names"),
    ("bootstrap_data_file", &[("ssh_password", Some("\"pw\"")), ("bootstrap_data_file", Some("\"{dir}/a-directory\""))], "is a directory, not a file"),
];

/// The longest problem line a bad input may produce, and the most output `packer validate`
/// may print for one.
const LINE_LIMIT: usize = 300;
const OUTPUT_LIMIT: usize = 4_000;

fn assert_stopped_at_prepare(
    o: &Outcome,
    elapsed: Duration,
    option: &str,
    contains: &str,
    what: &str,
) {
    assert!(
        !o.success,
        "{what} should be rejected, packer said:\n{}",
        o.output
    );
    for crash in ["panic", "PACKER CRASH", "overflow"] {
        assert!(
            !o.output.contains(crash),
            "{what}: {crash} in:\n{}",
            o.output
        );
    }
    // A hang detector, not a speed measure (a busy 2-core machine takes several seconds for a
    // 10 MB value through Packer's parser): Prepare must not wait on anything.
    assert!(elapsed < Duration::from_secs(60), "{what} took {elapsed:?}");
    assert!(
        o.output.len() < OUTPUT_LIMIT,
        "{what}: {} bytes of output:\n{:.2000}",
        o.output.len(),
        o.output
    );
    let problems = o.problems();
    let line = problems
        .iter()
        .find(|p| p.starts_with(&format!("{option}: ")))
        .unwrap_or_else(|| panic!("{what}: no line names {option}; packer said:\n{}", o.output));
    assert!(line.len() <= LINE_LIMIT, "{what}: a long line: {line}");
    assert!(
        line.contains(contains),
        "{what}: {contains:?} not in {line:?}"
    );
}

#[test]
fn every_bad_input_class_stops_at_validate_with_one_short_line() {
    assert!(BAD_INPUTS.len() >= 30);
    let sb = Sandbox::new();
    write_bad_inputs(&sb);
    let dir = sb.path("").display().to_string();
    let dir = dir.trim_end_matches('/');
    for (option, changes, contains) in BAD_INPUTS {
        let changes: Vec<(&str, Option<String>)> = changes
            .iter()
            .map(|(k, v)| (*k, v.map(|v| v.replace("{dir}", dir))))
            .collect();
        let changes: Changes = changes.iter().map(|(k, v)| (*k, v.as_deref())).collect();
        let contains = contains.replace("{dir}", dir);
        let started = Instant::now();
        let o = sb.validate_hcl(&hcl(&changes));
        assert_stopped_at_prepare(
            &o,
            started.elapsed(),
            option,
            &contains,
            &format!("{changes:?}"),
        );
    }
}

#[test]
fn huge_values_are_quoted_short_once() {
    let sb = Sandbox::new();
    let huge = "x".repeat(10 * 1024 * 1024);
    for option in ["class_name", "ssh_timeout", "bootstrap_provider"] {
        let value = format!("\"{huge}\"");
        let started = Instant::now();
        let o = sb.validate_hcl(&hcl(&[(option, Some(value.as_str()))]));
        let what = format!("10 MB {option}");
        assert_stopped_at_prepare(
            &o,
            started.elapsed(),
            option,
            "(10485760 characters)",
            &what,
        );
        // At most 80 characters of it, once.
        let quoted = "x".repeat(80);
        assert_eq!(o.output.matches(&quoted).count(), 1, "{what}: {}", o.output);
        assert!(!o.output.contains(&"x".repeat(81)), "{what}: {}", o.output);
    }
}

#[test]
fn tls_verification_off_validates_with_a_warning() {
    let sb = Sandbox::new();
    write_bad_inputs(&sb);
    // The sandbox kubeconfig sets insecure-skip-tls-verify.
    let o = sb.validate_hcl(&hcl(&[]));
    assert_valid(&o, "insecure kubeconfig");
    assert!(
        o.output.contains("TLS verification is off"),
        "no warning:\n{}",
        o.output
    );
    let good = format!("\"{}\"", sb.path("kc-good").display());
    let o = sb.validate_hcl(&hcl(&[("kubeconfig_path", Some(good.as_str()))]));
    assert_valid(&o, "kubeconfig with a CA");
    assert!(
        !o.output.contains("TLS verification is off"),
        "{}",
        o.output
    );
}
