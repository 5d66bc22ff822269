//! Prepare tests: How problems are found and reported: one line each, all at once, typing, unknown keys,
//! templates, malformed and random input.
use super::*;

#[test]
fn one_clear_line_per_problem() {
    let f = Fixture::new();
    let k = f.path("kubeconfig").display().to_string();
    let cases: Vec<(Vec<(&'static str, Json)>, String)> = vec![
        (vec![("class_name", Json::Null)], "class_name: required (the VirtualMachineClass of the source VM)".into()),
        (vec![("storage_class", json!(""))], "storage_class: required (the Kubernetes StorageClass for the source VM)".into()),
        (vec![("image_name", Json::Null)], "image_name: required unless import_source_url is set (the VirtualMachineImage or ClusterVirtualMachineImage to deploy)".into()),
        (vec![("source_name", json!("source-abcdefghi"))], "source_name: \"source-abcdefghi\" is 16 characters long; at most 15 are allowed (it becomes the guest hostname, limited by Windows to 15)".into()),
        (vec![("source_name", json!("Golden"))], "source_name: \"Golden\" is not a valid name: 'G' is not allowed (use lowercase letters, digits and '-')".into()),
        (vec![("source_name", json!("golden-"))], "source_name: \"golden-\" is not a valid name: it must start and end with a letter or digit".into()),
        (vec![("bootstrap_provider", json!("Ignition"))], "bootstrap_provider: unknown provider \"Ignition\"; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"".into()),
        (vec![("bootstrap_provider", json!("cloudinit"))], "bootstrap_provider: unknown provider \"cloudinit\"; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"; did you mean \"CloudInit\"? (values are case-sensitive)".into()),
        (vec![("bootstrap_provider", json!("Sysprep"))], "bootstrap_data_file: required when bootstrap_provider is \"Sysprep\"".into()),
        (vec![("bootstrap_provider", json!("vAppConfig"))], "bootstrap_data_file: required when bootstrap_provider is \"vAppConfig\"".into()),
        (vec![("ssh_timeout", json!("5 minutes"))], "ssh_timeout: invalid duration \"5 minutes\": unknown unit \" minutes\" (use ns, us, ms, s, m or h)".into()),
        (vec![("ssh_timeout", json!("-5m"))], "ssh_timeout: must not be negative, got \"-5m\"".into()),
        (vec![("pause_before_connecting", json!("5"))], "pause_before_connecting: invalid duration \"5\": missing unit (use ns, us, ms, s, m or h)".into()),
        (vec![("watch_source_timeout_sec", json!(-1))], "watch_source_timeout_sec: must not be negative, got -1 (0 means the default, 3600)".into()),
        (vec![("watch_publish_timeout_sec", json!(-5)), ("publish_location_name", json!("golden-images"))], "watch_publish_timeout_sec: must not be negative, got -5 (0 means the default, 600)".into()),
        (vec![("publish_request_ttl_sec", json!(-1)), ("publish_location_name", json!("golden-images"))], "publish_request_ttl_sec: must not be negative, got -1".into()),
        (vec![("iso_boot_disk_size", json!("20GB"))], "iso_boot_disk_size: \"20GB\" is not a valid Kubernetes quantity (unknown suffix \"GB\"); use e.g. \"20Gi\" or \"40G\"".into()),
        (vec![("iso_boot_disk_size", json!("0"))], "iso_boot_disk_size: \"0\" must be a positive size".into()),
        (vec![("communicator", json!("telnet"))], "communicator: unknown communicator \"telnet\"; use \"ssh\", \"winrm\" or \"none\"".into()),
        (vec![("communicator", json!("winrm"))], "communicator: \"winrm\" is not supported yet by this plugin (WinRM connections are not implemented); use \"ssh\", or \"none\" to skip provisioning".into()),
        (vec![("ssh_port", json!(70000))], "ssh_port: must be a port number between 1 and 65535, got 70000".into()),
        (vec![("ssh_port", json!(-1))], "ssh_port: must be a port number between 1 and 65535, got -1".into()),
        (vec![("ssh_port", json!(22.5))], "ssh_port: expected a whole number, got 22.5".into()),
        (vec![("temporary_key_pair_type", json!("dsa"))], "temporary_key_pair_type: \"dsa\" is not supported: DSA keys are insecure and OpenSSH no longer accepts them; use \"ed25519\", \"rsa\" or \"ecdsa\"".into()),
        (vec![("temporary_key_pair_type", json!("RSA"))], "temporary_key_pair_type: unknown type \"RSA\"; use \"ed25519\", \"rsa\" or \"ecdsa\"; did you mean \"rsa\"? (values are case-sensitive)".into()),
        (vec![("temporary_key_pair_type", json!("rsa")), ("temporary_key_pair_bits", json!(1024))], "temporary_key_pair_bits: RSA keys must have between 2048 and 16384 bits, got 1024".into()),
        (vec![("temporary_key_pair_type", json!("ecdsa")), ("temporary_key_pair_bits", json!(512))], "temporary_key_pair_bits: ECDSA keys have 256, 384 or 521 bits, got 512".into()),
        (vec![("temporary_key_pair_bits", json!(2048))], "temporary_key_pair_bits: ed25519 keys always have 256 bits, got 2048; remove it or choose temporary_key_pair_type \"rsa\" or \"ecdsa\"".into()),
        (vec![("ssh_file_transfer_method", json!("rsync"))], "ssh_file_transfer_method: unknown method \"rsync\"; use \"scp\" or \"sftp\"".into()),
        (vec![("ssh_private_key_file", json!(f.path("nokey").display().to_string()))], format!("ssh_private_key_file: file {} not found", f.path("nokey").display())),
        (vec![("ssh_bastion_username", json!("jump"))], "ssh_bastion_host: required by ssh_bastion_username".into()),
        (vec![("ssh_bastion_host", json!("jump"))], "ssh_bastion_host: the bastion needs a way to log in: set ssh_bastion_password, ssh_bastion_private_key_file (or ssh_private_key_file, which it inherits) or ssh_bastion_agent_auth".into()),
        (vec![("ssh_bastion_host", json!("jump")), ("ssh_bastion_agent_auth", json!(true)), ("ssh_proxy_host", json!("socks"))], "ssh_proxy_host: cannot be combined with ssh_bastion_host; use one of them".into()),
        (vec![("ssh_proxy_password", json!("pw"))], "ssh_proxy_host: required by ssh_proxy_password".into()),
        (vec![("ssh_local_tunnels", json!(["8080"]))], "ssh_local_tunnels: \"8080\" is not of the form [bind_address:]port:host:hostport".into()),
        (vec![("ssh_remote_tunnels", json!(["0:localhost:80"]))], "ssh_remote_tunnels: \"0:localhost:80\" is not of the form [bind_address:]port:host:hostport (ports 1-65535)".into()),
        (vec![("ssh_bastion_host", json!("jump")), ("ssh_bastion_password", json!("pw")), ("ssh_bastion_interactive", json!(true))], "ssh_bastion_interactive: not supported: prompts for a person at a terminal, and a Packer plugin has none; use ssh_bastion_password (it also answers keyboard-interactive prompts), ssh_bastion_private_key_file or ssh_bastion_agent_auth".into()),
        (vec![("kubeconfig_path", json!(f.path("missing").display().to_string()))], format!("kubeconfig_path: kubeconfig file {} not found", f.path("missing").display())),
        (vec![("kubeconfig_context", json!("prod"))], "kubeconfig_context: context \"prod\" not found in the kubeconfig (available: sim, bare)".into()),
        (vec![("supervisor_namespace", json!("Demo"))], "supervisor_namespace: \"Demo\" is not a valid name: 'D' is not allowed (use lowercase letters, digits and '-')".into()),
        (vec![("import_source_url", json!("https://h/x.ova")), ("import_target_location_name", json!("golden-images")) ], "import_source_ssl_certificate: required when import_source_url is an https:// URL (the PEM certificate of the server)".into()),
        (vec![("import_source_url", json!("ftp://h/x.ova")), ("import_target_location_name", json!("golden-images")) ], "import_source_url: \"ftp://h/x.ova\" must be an http:// or https:// URL".into()),
        (vec![("import_source_url", json!("http://h/x.ova")) ], "import_target_location_name: required when import_source_url is set (a writable ContentLibrary that allows imports)".into()),
        (vec![("import_source_url", json!("http://h/x.vmdk")), ("import_target_location_name", json!("l")) ], "import_target_image_type: cannot infer the image type from import_source_url (it does not end in .ovf, .ova or .iso); set \"ovf\" or \"iso\"".into()),
        (vec![("import_source_url", json!("http://h/x")), ("import_target_image_type", json!("OVF")), ("import_target_location_name", json!("l")) ], "import_target_image_type: unknown type \"OVF\"; use \"ovf\" or \"iso\"; did you mean \"ovf\"? (values are case-sensitive)".into()),
        (vec![("import_source_url", json!("http://h/x.iso")), ("import_request_name", json!("Bad_Name")), ("import_target_location_name", json!("l")) ], "import_request_name: \"Bad_Name\" is not a valid name: 'B' is not allowed (use lowercase letters, digits and '-')".into()),
        (vec![("bootstrap_data_file", json!(f.path("nodata").display().to_string())), ("ssh_password", json!("pw"))], format!("bootstrap_data_file: file {} not found", f.path("nodata").display())),
        (vec![("ssh_port", json!([22]))], "ssh_port: expected a number, got a list of 1 element(s)".into()),
        (vec![("keep_input_artifact", json!(["x"]))], "keep_input_artifact: expected a bool, got a list of 1 element(s)".into()),
        (vec![("ssh_ciphers", json!([["x"]]))], "ssh_ciphers: element 0 must be a string, got a list of 1 element(s)".into()),
        (vec![("class_name", json!({"a": "b"}))], "class_name: expected a string, got a map".into()),
    ];
    let _ = k;
    for (extra, expected) in &cases {
        f.one(extra, expected);
    }
}

#[test]
fn all_problems_are_reported_together() {
    let f = Fixture::new();
    let values = vec![
        (
            "kubeconfig_path",
            json!(f.path("kubeconfig").display().to_string()),
        ),
        ("source_name", json!("this-name-is-way-too-long")),
        ("bootstrap_provider", json!("sysprep")),
        ("ssh_timeout", json!("soon")),
        ("watch_source_timeout_sec", json!(-3)),
    ];
    let e = f.errs(&values);
    assert_eq!(e.len(), 7, "{e:#?}");
    for prefix in [
        "watch_source_timeout_sec:",
        "class_name:",
        "storage_class:",
        "source_name:",
        "bootstrap_provider:",
        "image_name:",
        "ssh_timeout:",
    ] {
        assert!(
            e.iter().any(|p| p.starts_with(prefix)),
            "missing {prefix} in {e:#?}"
        );
    }
    let shown = f.prepare(&values).expect_err("problems").to_string();
    assert!(shown.starts_with("7 error(s) occurred:\n\n* "), "{shown}");
    assert_eq!(shown.lines().filter(|l| l.starts_with("* ")).count(), 7);
}

#[test]
fn display_matches_go_multierror() {
    let e = ConfigErrors {
        problems: vec![Problem::invalid("a", "x"), Problem::invalid("b", "y\nmore")],
    };
    // A problem is always one line: a newline in a value is shown escaped.
    assert_eq!(
        e.to_string(),
        "2 error(s) occurred:\n\n* a: x\n* b: y\\nmore"
    );
}

#[test]
fn json_templates_get_weak_typing_hcl_does_not() {
    let f = Fixture::new();
    let weak = f.with(&[
        ("ssh_port", json!("2222")),
        ("keep_input_artifact", json!("true")),
        ("watch_source_timeout_sec", json!("60")),
        ("ssh_ciphers", json!("aes128-ctr")),
        ("ssh_username", json!(42)),
    ]);
    let p = prepare_with(&json_configs(&weak), &f.env()).expect("weak JSON values decode");
    assert_eq!(p.config.comm.ssh.port, 2222);
    assert!(p.config.keep_input_artifact);
    assert_eq!(p.config.watch_source_timeout, Duration::from_secs(60));
    assert_eq!(p.config.comm.ssh.ciphers, vec!["aes128-ctr".to_string()]);
    assert_eq!(p.config.comm.ssh.username, "42");
    // Packer converts HCL2 values to the spec's types before sending them, so a string where a
    // number belongs can only come from a broken peer: reject it.
    let e = prepare_with(&hcl_configs(&weak), &f.env())
        .unwrap_err()
        .lines();
    assert!(
        e.contains(&"ssh_port: expected a number, got string \"2222\"".to_string()),
        "{e:?}"
    );
    let bad = f.with(&[("ssh_port", json!("abc")), ("ssh_pty", json!("maybe"))]);
    let e = prepare_with(&json_configs(&bad), &f.env())
        .unwrap_err()
        .lines();
    assert_eq!(
        e,
        vec![
            "ssh_port: expected a number, got string \"abc\"",
            "ssh_pty: expected a bool, got string \"maybe\""
        ]
    );
}

#[test]
fn unknown_keys_are_rejected_with_a_suggestion() {
    let f = Fixture::new();
    let mut values = f.base();
    values.push(("foo", json!(1)));
    values.push(("ssh_usernme", json!("x")));
    let e = prepare_with(&json_configs(&values), &f.env())
        .unwrap_err()
        .lines();
    assert_eq!(
        e,
        vec![
            "unknown configuration key: \"foo\"",
            "unknown configuration key: \"ssh_usernme\"; did you mean \"ssh_username\"?"
        ]
    );
}

#[test]
fn json_template_interpolation() {
    let f = Fixture::new();
    let mut configs = json_configs(&f.with(&[
        ("kubeconfig_path", json!("{{user `kc`}}")),
        ("publish_location_name", json!("golden-images")),
        ("publish_image_name", json!("img-{{build_name}}")),
    ]));
    configs.push(json_to_msgpack(
        &json!({"packer_user_variables": {"kc": f.path("kubeconfig").display().to_string()}}),
    ));
    let p = prepare_with(&configs, &f.env()).expect("valid");
    assert_eq!(p.config.kubeconfig_paths, vec![f.path("kubeconfig")]);
    assert_eq!(p.config.publish_image_name.as_deref(), Some("img-x"));
    let configs = json_configs(&f.with(&[("image_name", json!("{{env `HOME`}}"))]));
    let e = prepare_with(&configs, &f.env()).unwrap_err().lines();
    assert_eq!(
        e,
        vec!["image_name: template function \"env\" can only be used in the variables section"]
    );
}

#[test]
fn malformed_configs_are_reported_not_panicked_on() {
    let f = Fixture::new();
    let env = f.env();
    let e = prepare_with(&[Value::Bin(b"{".to_vec()), Value::Array(vec![])], &env)
        .unwrap_err()
        .lines();
    assert!(e[0].starts_with("configuration #0:"), "{e:?}");
    assert!(e[1].starts_with("configuration #1:"), "{e:?}");
    let odd = Value::Map(vec![(Value::Int(1), Value::Nil)]);
    assert!(prepare_with(&[odd], &env).is_err());
    let ext = Value::Map(vec![(
        Value::Str("class_name".into()),
        Value::Ext(-1, vec![0; 8]),
    )]);
    assert!(prepare_with(&[ext], &env).is_err());
}

/// Random values of random types under real option names: Prepare must answer, never panic.
#[test]
fn random_configs_never_panic() {
    use rand::{Rng, SeedableRng};
    fn random_value(rng: &mut rand::rngs::StdRng, depth: u32) -> Value {
        let strings = [
            "",
            "0",
            "-1",
            "22",
            "abc",
            "5m",
            "-5m",
            "1e400",
            "~",
            "~/x",
            "{{",
            "{{user `a`}}",
            "{{ x }}",
            "ssh",
            "none",
            "Sysprep",
            "ecdsa",
            "20Gi",
            "https://x/y.iso",
            "\u{e9}\u{1f600}",
            "a:b:c:d",
        ];
        match rng.gen_range(0..if depth > 2 { 7 } else { 9 }) {
            0 => Value::Nil,
            1 => Value::Bool(rng.gen()),
            2 => Value::Int(rng.gen_range(-100_000..100_000)),
            3 => Value::Uint(rng.gen()),
            4 => Value::F64(rng.gen_range(-1e20..1e20)),
            5 => Value::Str(strings[rng.gen_range(0..strings.len())].to_string()),
            6 => Value::Bin((0..rng.gen_range(0..8)).map(|_| rng.gen()).collect()),
            7 => Value::Array(
                (0..rng.gen_range(0..4))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => Value::Map(
                (0..rng.gen_range(0..4))
                    .map(|_| {
                        (
                            Value::Str(strings[rng.gen_range(0..strings.len())].to_string()),
                            random_value(rng, depth + 1),
                        )
                    })
                    .collect(),
            ),
        }
    }
    let f = Fixture::new();
    let env = f.env();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed);
    for _ in 0..1500 {
        let pairs: Vec<(Value, Value)> = (0..rng.gen_range(0..12))
            .map(|_| {
                let all = spec_options();
                let (name, _) = all[rng.gen_range(0..all.len())];
                (Value::Str(name.to_string()), random_value(&mut rng, 0))
            })
            .collect();
        let mut configs = vec![Value::Map(pairs)];
        if rng.gen_bool(0.3) {
            configs.push(random_value(&mut rng, 0));
        }
        let _ = prepare_with(&configs, &env);
    }
}
