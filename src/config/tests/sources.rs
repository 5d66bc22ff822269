//! Prepare tests: The connection, the source VM's bootstrap data, the image import and publishing.
use super::*;

#[test]
fn sysprep_and_vappconfig_data_files_are_checked_in_prepare() {
    let f = Fixture::new();
    let unattend = f.file("unattend.yaml", "unattend: |\n  <unattend/>\n");
    let p = f.ok(&f.with(&[
        ("bootstrap_provider", json!("Sysprep")),
        ("bootstrap_data_file", json!(unattend)),
        ("communicator", json!("none")),
    ]));
    assert_eq!(p.config.bootstrap_provider, BootstrapProvider::Sysprep);
    assert_eq!(
        p.config
            .bootstrap_data
            .as_ref()
            .map(|d| d["unattend"].clone()),
        Some("<unattend/>\n".to_string())
    );

    let props = f.file("props.yaml", "hostname: vm1\nport: 8080\nenabled: true\n");
    let p = f.ok(&f.with(&[
        ("bootstrap_provider", json!("vAppConfig")),
        ("bootstrap_data_file", json!(props)),
        ("communicator", json!("none")),
    ]));
    let data = p.config.bootstrap_data.expect("data");
    assert_eq!(
        (data["port"].as_str(), data["enabled"].as_str()),
        ("8080", "true")
    );

    let wrong_key = f.file("wrong.yaml", "user-data: x\n");
    f.one(
        &[("bootstrap_provider", json!("Sysprep")), ("bootstrap_data_file", json!(wrong_key.clone())), ("communicator", json!("none"))],
        &format!("bootstrap_data_file: {wrong_key} has no \"unattend\" key, which the bootstrap reads (or give the document itself)"),
    );
    let nested = f.file("nested.yaml", "a:\n  b: c\n");
    f.one(
        &[
            ("bootstrap_provider", json!("vAppConfig")),
            ("bootstrap_data_file", json!(nested.clone())),
            ("communicator", json!("none")),
        ],
        &format!(
            "bootstrap_data_file: {nested} must be a YAML map of vApp property names to string values: value of \"a\" is not a string"
        ),
    );
    let list = f.file("list.yaml", "- a\n");
    f.one(
        &[
            ("bootstrap_provider", json!("vAppConfig")),
            ("bootstrap_data_file", json!(list.clone())),
            ("communicator", json!("none")),
        ],
        &format!(
            "bootstrap_data_file: {list} must be a YAML map of vApp property names to string values: not a map"
        ),
    );
    // With SSH, user bootstrap data means the temporary key is not installed.
    let ci = f.file("ci.yaml", "user-data: '#cloud-config'\n");
    f.one(
        &[("bootstrap_data_file", json!(ci.clone()))],
        "ssh_password: no way to log in over SSH: bootstrap_data_file replaces the built-in cloud-config that installs the temporary key, so set ssh_password, ssh_private_key_file or ssh_agent_auth to match your bootstrap data",
    );
    f.ok(&f.with(&[
        ("bootstrap_data_file", json!(ci)),
        ("ssh_password", json!("pw")),
    ]));
}

#[test]
fn raw_cloud_config_and_unattend_xml_are_accepted_as_the_document() {
    let f = Fixture::new();
    let ci = f.file(
        "user-data",
        "#cloud-config\nusers:\n  - name: packer\n    plain_text_passwd: pw\n",
    );
    let p = f.ok(&f.with(&[
        ("bootstrap_data_file", json!(ci)),
        ("ssh_password", json!("pw")),
    ]));
    let data = p.config.bootstrap_data.expect("data");
    assert_eq!(data.len(), 1);
    assert!(data["user-data"].starts_with("#cloud-config\nusers:"));

    let xml = f.file(
        "unattend.xml",
        "<?xml version=\"1.0\"?>\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\"/>\n",
    );
    let p = f.ok(&f.with(&[
        ("bootstrap_provider", json!("Sysprep")),
        ("bootstrap_data_file", json!(xml)),
        ("communicator", json!("none")),
    ]));
    let data = p.config.bootstrap_data.expect("data");
    assert!(data["unattend"].starts_with("<?xml"));
}

#[test]
fn kubeconfig_from_environment_list_and_home() {
    let f = Fixture::new();
    let mut values = f.base();
    values.retain(|(k, _)| *k != "kubeconfig_path");
    let missing = f.path("missing");
    let env = Environment {
        kubeconfig: Some(format!(
            "{}::{}",
            missing.display(),
            f.path("kubeconfig").display()
        )),
        home: None,
    };
    let p = prepare_with(&hcl_configs(&values), &env).expect("second KUBECONFIG entry is used");
    assert_eq!(p.config.kubeconfig_paths, vec![f.path("kubeconfig")]);

    let env = Environment {
        kubeconfig: Some(missing.display().to_string()),
        home: None,
    };
    let e = prepare_with(&hcl_configs(&values), &env)
        .unwrap_err()
        .lines();
    assert_eq!(
        e,
        vec![format!(
            "kubeconfig_path: kubeconfig file {} not found",
            missing.display()
        )]
    );

    let home = f.path("home");
    std::fs::create_dir_all(home.join(".kube")).expect("mkdir");
    std::fs::copy(f.path("kubeconfig"), home.join(".kube/config")).expect("copy");
    std::fs::copy(f.path("ca.pem"), home.join(".kube/ca.pem")).expect("copy");
    let env = Environment {
        kubeconfig: None,
        home: Some(home.clone()),
    };
    let p = prepare_with(&hcl_configs(&values), &env).expect("~/.kube/config is the default");
    assert_eq!(p.config.kubeconfig_paths, vec![home.join(".kube/config")]);

    let mut values = values.clone();
    values.push(("kubeconfig_path", json!("~/.kube/config")));
    let p = prepare_with(&hcl_configs(&values), &env).expect("~ expands");
    assert_eq!(p.config.kubeconfig_paths, vec![home.join(".kube/config")]);
}

#[test]
fn context_without_namespace_warns() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[("kubeconfig_context", json!("bare"))]));
    assert_eq!(p.config.namespace(), "default");
    assert_eq!(
        p.warnings,
        vec!["supervisor_namespace is not set and kubeconfig context \"bare\" sets no namespace: using \"default\"".to_string()]
    );
}

#[test]
fn import_configuration() {
    let f = Fixture::new();
    let import = |extra: &[(&'static str, Json)]| {
        let mut v = f.with(&[
            ("image_name", Json::Null),
            (
                "import_source_url",
                json!("http://files/images/photon.OVA?x=1"),
            ),
            ("import_target_location_name", json!("golden-images")),
            ("keep_import_request", json!(true)),
        ]);
        v.extend(extra.iter().cloned());
        v
    };
    let i = f.ok(&import(&[])).config.import.expect("import");
    assert_eq!(i.target_image_type, "OVF");
    assert!(i.keep_import_request && !i.clean_imported_image);
    let suffix = i
        .request_name
        .strip_prefix("packer-vsphere-supervisor-import-req-")
        .expect("default name");
    assert!(
        suffix.len() == 5 && suffix.chars().all(|c| c.is_ascii_hexdigit()),
        "{suffix}"
    );
    // The import options are checked either way.
    let e = f.errs(&import(&[("import_target_image_type", json!("vmdk"))]));
    assert_eq!(
        e[0],
        "import_target_image_type: unknown type \"vmdk\"; use \"ovf\" or \"iso\""
    );

    let p = f.ok(&f.with(&[("keep_import_request", json!(true))]));
    assert_eq!(
        p.warnings,
        vec!["keep_import_request ignored because import_source_url is not set".to_string()]
    );
}

#[test]
fn publish_options_without_a_location_warn() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("publish_image_name", json!("x")),
        ("publish_request_ttl_sec", json!(60)),
    ]));
    assert_eq!(
        p.warnings,
        vec!["publish_image_name, publish_request_ttl_sec ignored because neither publish_location_name nor publish_to_default_location is set (the image is not published)".to_string()]
    );
}

#[test]
fn default_publish_location_is_exclusive_with_a_named_one() {
    let f = Fixture::new();
    let p = f.ok(&f.with(&[
        ("publish_to_default_location", json!(true)),
        ("publish_image_name", json!("x")),
    ]));
    assert!(p.config.publish_to_default_location);
    assert!(p.config.publishes());
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    let errs = f.errs(&f.with(&[
        ("publish_to_default_location", json!(true)),
        ("publish_location_name", json!("golden-images")),
    ]));
    assert_eq!(
        errs,
        ["publish_location_name: cannot be set together with publish_to_default_location = true: set exactly one of them (a named library, or the namespace's default library)"]
    );
    let p = f.ok(&f.with(&[]));
    assert!(!p.config.publish_to_default_location);
    assert!(!p.config.publishes());
}
