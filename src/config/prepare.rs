//! `Builder.Prepare`: decode, default, and check every option, reporting all problems at once.
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use packer_wire::msgpack::Value;
use rand::Rng;

use super::bounds::{self, quote};
use super::names::{self, dns1123_label, dns1123_subdomain};
use super::raw::{self, Decoder};
use super::spec::OPTIONS;
use super::suggest::{suggest, suggest_case};
use super::{
    duration, files, kubeconfig, quantity, BastionConfig, BootstrapProvider, CommConfig, CommKind,
    Config, FileTransfer, ImportConfig, KeyType, PackerConfig, ProxyConfig, SshConfig, WinRmConfig,
};

/// A prepared configuration and the warnings Packer should show.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Every configuration problem, each naming its option.
///
/// Displayed the way Go's multierror (and so every Go builder) prints them, which Packer shows
/// verbatim after "Error: ": a count line, a blank line, then one `* problem` line each.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors {
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} error(s) occurred:", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n* {}", p.replace('\n', "\n  "))?;
        }
        Ok(())
    }
}

/// What Prepare reads from the process environment; a parameter so tests need not mutate it.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `$KUBECONFIG`.
    pub kubeconfig: Option<String>,
    /// `$HOME`, for `~` and the default `~/.kube/config`.
    pub home: Option<PathBuf>,
}

impl Environment {
    /// Reads the real environment.
    pub fn from_process() -> Self {
        Environment {
            kubeconfig: std::env::var("KUBECONFIG").ok(),
            home: std::env::var_os("HOME").map(PathBuf::from),
        }
    }
}

/// Default `watch_source_timeout_sec`.
pub const DEFAULT_WATCH_SOURCE_SECS: u64 = 3600;
/// Default `watch_publish_timeout_sec`.
pub const DEFAULT_WATCH_PUBLISH_SECS: u64 = 600;
/// Default `watch_import_timeout_sec`.
pub const DEFAULT_WATCH_IMPORT_SECS: u64 = 600;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// SDK options this plugin refuses at Prepare, each with the reason (one line).
pub const REJECTED: &[(&str, &str)] = &[
    ("ssh_bastion_interactive", "keyboard-interactive prompts need a terminal, and a Packer plugin has none; use ssh_bastion_password, ssh_bastion_private_key_file or ssh_bastion_agent_auth"),
];

/// Prepares the configuration from Packer's `Configs`, reading the process environment.
///
/// # Errors
/// Every problem found, each naming its option.
pub fn prepare(configs: &[Value]) -> Result<Prepared, ConfigErrors> {
    prepare_with(configs, &Environment::from_process())
}

/// [`prepare`] with an explicit environment.
///
/// # Errors
/// Every problem found, each naming its option.
pub fn prepare_with(configs: &[Value], env: &Environment) -> Result<Prepared, ConfigErrors> {
    let (entries, mut problems) = raw::merge(configs);
    for p in &mut problems {
        if let Some(key) = p
            .strip_prefix("unknown configuration key: ")
            .map(|k| k.trim_matches('"').to_string())
            .filter(|k| k.len() <= 64)
        {
            if let Some(s) = suggest(&key, OPTIONS.iter().map(|(n, _)| *n)) {
                p.push_str(&format!("; did you mean {s:?}?"));
            }
        }
    }
    let mut p = Preparer {
        d: Decoder::new(entries),
        env,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let config = p.build();
    // A badly typed option is reported once: not again as "required" or invalid.
    let bad_keys: Vec<String> =
        p.d.problems
            .iter()
            .filter_map(|m| m.split_once(':').map(|(k, _)| format!("{k}:")))
            .collect();
    problems.extend(p.d.problems);
    problems.extend(
        p.problems
            .into_iter()
            .filter(|m| !bad_keys.iter().any(|k| m.starts_with(k.as_str()))),
    );
    let problems: Vec<String> = problems.into_iter().map(bounds::cap_line).collect();
    if problems.is_empty() {
        Ok(Prepared {
            config,
            warnings: p.warnings,
        })
    } else {
        Err(ConfigErrors { problems })
    }
}

struct Preparer<'a> {
    d: Decoder,
    env: &'a Environment,
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl Preparer<'_> {
    fn err(&mut self, msg: impl Into<String>) {
        self.problems.push(msg.into());
    }

    fn expand(&self, s: &str) -> PathBuf {
        match (s.strip_prefix('~'), &self.env.home) {
            (Some(""), Some(home)) => home.clone(),
            (Some(rest), Some(home)) if rest.starts_with('/') => {
                home.join(rest.trim_start_matches('/'))
            }
            _ => PathBuf::from(s),
        }
    }

    fn path(&mut self, key: &str) -> Option<PathBuf> {
        self.d.non_empty(key).map(|s| self.expand(&s))
    }

    /// A path option whose file must exist and, when `check` is set, pass `parse`
    /// (`files::ssh_private_key`, ...).
    fn existing_file(
        &mut self,
        key: &str,
        check: bool,
        parse: fn(&Path) -> Result<(), String>,
    ) -> Option<PathBuf> {
        let path = self.path(key)?;
        if check {
            if let Err(why) = parse(&path) {
                self.err(format!("{key}: {why}"));
            }
        }
        Some(path)
    }

    /// A whole-number option within its range (`bounds::int_range`); 0 or unset gives `None`
    /// (the default), out of range is an error.
    fn bounded(&mut self, key: &str, default: &str) -> Option<i64> {
        let v = self.d.int(key)?;
        let range = bounds::int_range(key)?;
        if v < range.min {
            self.err(format!(
                "{key}: must not be negative, got {} (0 means the default, {default})",
                self.d.shown(key)
            ));
            return None;
        }
        if v > range.max {
            self.err(format!(
                "{key}: must be at most {} {}, got {}",
                range.max,
                range.unit,
                self.d.shown(key)
            ));
            return None;
        }
        (v != 0).then_some(v)
    }

    /// A `*_sec` timeout: 0 or unset means the default, negative or past the maximum is an
    /// error.
    fn secs(&mut self, key: &str, default: u64) -> Duration {
        let v = self.bounded(key, &default.to_string());
        Duration::from_secs(v.map_or(default, i64::unsigned_abs))
    }

    /// A Go-syntax duration: unset or zero means the default, negative is an error unless
    /// `negative_disables` (then it yields zero).
    fn duration(&mut self, key: &str, default: Duration, negative_disables: bool) -> Duration {
        let Some(s) = self.d.non_empty(key) else {
            return default;
        };
        match duration::parse(s.trim()) {
            Err(e) => {
                self.err(format!("{key}: {e}"));
                default
            }
            Ok(d) if d.negative && !d.value.is_zero() => {
                if negative_disables {
                    Duration::ZERO
                } else {
                    self.err(format!("{key}: must not be negative, got {}", quote(&s)));
                    default
                }
            }
            Ok(d) if d.value.is_zero() => default,
            Ok(d) => match bounds::check_duration(key, &s, d.value) {
                Ok(()) => d.value,
                Err(e) => {
                    self.err(e);
                    default
                }
            },
        }
    }

    fn port(&mut self, key: &str, default: u16) -> u16 {
        match self.d.int(key) {
            None | Some(0) => default,
            Some(v) => match u16::try_from(v) {
                Ok(p) => p,
                Err(_) => {
                    self.err(format!(
                        "{key}: must be a port number between 1 and 65535, got {}",
                        self.d.shown(key)
                    ));
                    default
                }
            },
        }
    }

    fn build(&mut self) -> Config {
        let packer = self.packer();
        self.whitespace();
        let comm_kind = self.communicator_kind();
        let mut config = Config {
            packer,
            kubeconfig_paths: Vec::new(),
            kubeconfig_context: self.d.non_empty("kubeconfig_context"),
            kube_context_namespace: None,
            supervisor_namespace: self.d.non_empty("supervisor_namespace"),
            class_name: self.d.non_empty("class_name").unwrap_or_default(),
            storage_class: self.d.non_empty("storage_class").unwrap_or_default(),
            image_name: self.d.non_empty("image_name"),
            source_name: self
                .d
                .non_empty("source_name")
                .unwrap_or_else(random_source_name),
            keep_input_artifact: self.d.bool("keep_input_artifact").unwrap_or(false),
            bootstrap_provider: BootstrapProvider::CloudInit,
            bootstrap_data_file: self.path("bootstrap_data_file"),
            cloud_config_passwordless_sudo: self
                .d
                .bool("cloud_config_passwordless_sudo")
                .unwrap_or(true),
            bootstrap_data: None,
            guest_os_type: self
                .d
                .non_empty("guest_os_type")
                .unwrap_or_else(|| "otherGuest".into()),
            iso_boot_disk_size: self
                .d
                .non_empty("iso_boot_disk_size")
                .unwrap_or_else(|| "20Gi".into()),
            import: None,
            watch_import_timeout: self.secs("watch_import_timeout_sec", DEFAULT_WATCH_IMPORT_SECS),
            watch_source_timeout: self.secs("watch_source_timeout_sec", DEFAULT_WATCH_SOURCE_SECS),
            watch_publish_timeout: self
                .secs("watch_publish_timeout_sec", DEFAULT_WATCH_PUBLISH_SECS),
            publish_location_name: self.d.non_empty("publish_location_name"),
            publish_to_default_location: self
                .d
                .bool("publish_to_default_location")
                .unwrap_or(false),
            publish_image_name: self.d.non_empty("publish_image_name"),
            publish_image_description: self.d.non_empty("publish_image_description"),
            publish_request_ttl_sec: self.ttl(),
            comm: CommConfig::default(),
        };
        self.connection(&mut config);
        self.names();
        self.source(&mut config);
        config.import = self.import(config.image_name.is_some());
        if config.image_name.is_none() && config.import.is_none() {
            self.err("image_name: required unless import_source_url is set (the VirtualMachineImage or ClusterVirtualMachineImage to deploy)");
        }
        self.publish(&config);
        config.comm = self.comm(comm_kind, &config);
        config
    }

    /// Names, hosts and keywords with stray whitespace (`names::NO_PADDING`).
    fn whitespace(&mut self) {
        for key in names::NO_PADDING {
            if let Some(v) = self.d.str(key).filter(|v| !v.is_empty()) {
                if let Err(why) = names::padding(&v) {
                    self.d.reject(key, &why);
                }
            }
        }
    }

    /// Object and item names against the Supervisor's naming rules (`names::NAMED`).
    fn names(&mut self) {
        for (key, rule) in names::NAMED {
            if let Some(v) = self.d.non_empty(key) {
                if let Err(why) = names::check(*rule, &v) {
                    self.err(format!("{key}: {why}"));
                }
            }
        }
    }

    /// `publish_request_ttl_sec`: unset is `None`; 0 is kept (delete at once when finished).
    fn ttl(&mut self) -> Option<i64> {
        const KEY: &str = "publish_request_ttl_sec";
        let ttl = self.d.int(KEY)?;
        if ttl < 0 {
            self.err(format!(
                "{KEY}: must not be negative, got {}",
                self.d.shown(KEY)
            ));
        } else if ttl > bounds::MAX_TTL_SECS {
            self.err(format!(
                "{KEY}: must be at most {} seconds (365 days), got {}",
                bounds::MAX_TTL_SECS,
                self.d.shown(KEY)
            ));
        }
        Some(ttl.clamp(0, bounds::MAX_TTL_SECS))
    }

    fn packer(&mut self) -> PackerConfig {
        PackerConfig {
            build_name: self.d.str("packer_build_name").unwrap_or_default(),
            builder_type: self.d.str("packer_builder_type").unwrap_or_default(),
            core_version: self.d.str("packer_core_version").unwrap_or_default(),
            debug: self.d.bool("packer_debug").unwrap_or(false),
            force: self.d.bool("packer_force").unwrap_or(false),
            on_error: self.d.str("packer_on_error").unwrap_or_default(),
            template_path: self.d.str("packer_template_path").unwrap_or_default(),
            user_variables: self.d.str_map("packer_user_variables").unwrap_or_default(),
            sensitive_variables: self
                .d
                .str_list("packer_sensitive_variables")
                .unwrap_or_default(),
        }
    }

    fn communicator_kind(&mut self) -> CommKind {
        match self.d.non_empty("communicator").as_deref() {
            None | Some("ssh") => CommKind::Ssh,
            Some("none") => CommKind::None,
            Some("winrm") => {
                self.err("communicator: \"winrm\" is not supported yet by this plugin (WinRM connections are not implemented); use \"ssh\", or \"none\" to skip provisioning");
                CommKind::WinRm
            }
            Some(other) => {
                let hint = suggest_case(other, &["ssh", "winrm", "none"]);
                self.err(format!("communicator: unknown communicator {}; use \"ssh\", \"winrm\" or \"none\"{hint}", quote(other)));
                CommKind::Ssh
            }
        }
    }

    fn connection(&mut self, config: &mut Config) {
        let explicit = self.path("kubeconfig_path");
        let candidates = match (&explicit, self.env.kubeconfig.as_deref()) {
            (Some(p), _) => vec![p.clone()],
            // kubectl's rule: KUBECONFIG is a ':'-separated list (upstream treated it as one path).
            (None, Some(list)) if !list.trim().is_empty() => list
                .split(':')
                .filter(|p| !p.is_empty())
                .map(|p| self.expand(p))
                .collect(),
            _ => match &self.env.home {
                Some(home) => vec![home.join(".kube").join("config")],
                None => {
                    self.err("kubeconfig_path: not set, KUBECONFIG is not set and there is no home directory for ~/.kube/config");
                    return;
                }
            },
        };
        match kubeconfig::check(&candidates, config.kubeconfig_context.as_deref()) {
            Ok(summary) => {
                config.kubeconfig_paths = summary.files;
                if config.supervisor_namespace.is_none() && summary.namespace.is_none() {
                    self.warnings.push(format!(
                        "supervisor_namespace is not set and kubeconfig context {:?} sets no namespace: using \"default\"",
                        summary.context
                    ));
                }
                config.kube_context_namespace = summary.namespace;
                self.warnings.extend(summary.warnings);
            }
            Err(problems) => {
                config.kubeconfig_paths = candidates;
                for p in problems {
                    if p.starts_with("kubeconfig_context:") {
                        self.err(p);
                    } else {
                        self.err(format!("kubeconfig_path: {p}"));
                    }
                }
            }
        }
    }

    fn source(&mut self, config: &mut Config) {
        if config.class_name.is_empty() {
            self.err("class_name: required (the VirtualMachineClass of the source VM)");
        }
        if config.storage_class.is_empty() {
            self.err("storage_class: required (the Kubernetes StorageClass for the source VM)");
        }
        let name = config.source_name.clone();
        if name.chars().count() > 15 {
            self.err(format!(
                "source_name: {} is {} characters long; at most 15 are allowed (it becomes the guest hostname, limited by Windows to 15)",
                quote(&name),
                name.chars().count()
            ));
        }
        if let Err(e) = dns1123_label(&name, 63) {
            self.err(format!(
                "source_name: {} is not a valid name: {e}",
                quote(&name)
            ));
        }
        if let Some(p) = self.d.non_empty("bootstrap_provider") {
            config.bootstrap_provider = match p.as_str() {
                "CloudInit" => BootstrapProvider::CloudInit,
                "Sysprep" => BootstrapProvider::Sysprep,
                "vAppConfig" => BootstrapProvider::VAppConfig,
                other => {
                    let hint = suggest_case(other, &["CloudInit", "Sysprep", "vAppConfig"]);
                    self.err(format!(
                        "bootstrap_provider: unknown provider {}; use \"CloudInit\", \"Sysprep\" or \"vAppConfig\"{hint}", quote(other)
                    ));
                    BootstrapProvider::CloudInit
                }
            };
        }
        let provider_name = match config.bootstrap_provider {
            BootstrapProvider::CloudInit => "CloudInit",
            BootstrapProvider::Sysprep => "Sysprep",
            BootstrapProvider::VAppConfig => "vAppConfig",
        };
        if self.d.is_set("cloud_config_passwordless_sudo")
            && (config.bootstrap_data_file.is_some()
                || config.bootstrap_provider != BootstrapProvider::CloudInit)
        {
            self.warnings.push(
                "cloud_config_passwordless_sudo: has no effect: only the built-in cloud-config (CloudInit without bootstrap_data_file) has a sudo rule to set".into(),
            );
        }
        match &config.bootstrap_data_file {
            None if config.bootstrap_provider != BootstrapProvider::CloudInit => {
                self.err(format!(
                    "bootstrap_data_file: required when bootstrap_provider is {provider_name:?}"
                ));
            }
            None => {}
            Some(path) => match files::bootstrap_data(config.bootstrap_provider, path) {
                Err(e) => self.err(format!("bootstrap_data_file: {e}")),
                Ok(data) => config.bootstrap_data = Some(data),
            },
        }
        let size = config.iso_boot_disk_size.clone();
        match quantity::parse_bytes(&size) {
            Err(e) => self.err(format!("iso_boot_disk_size: {e}")),
            Ok(bytes) if bytes < 1.0 => self.err(format!(
                "iso_boot_disk_size: {} must be a positive size",
                quote(&size)
            )),
            Ok(_) => {}
        }
    }

    fn import(&mut self, have_image_name: bool) -> Option<ImportConfig> {
        let url = self.d.non_empty("import_source_url");
        let cert = self.d.non_empty("import_source_ssl_certificate");
        let location = self.d.non_empty("import_target_location_name");
        let image_type = self.d.non_empty("import_target_image_type");
        let image_name = self.d.non_empty("import_target_image_name");
        let request_name = self.d.non_empty("import_request_name");
        let keep = self.d.bool("keep_import_request").unwrap_or(false);
        let clean = self.d.bool("clean_imported_image").unwrap_or(false);
        let Some(url) = url else {
            let ignored: Vec<&str> = [
                "import_source_ssl_certificate",
                "import_target_location_name",
                "import_target_image_type",
                "import_target_image_name",
                "import_request_name",
                "keep_import_request",
                "clean_imported_image",
                "watch_import_timeout_sec",
            ]
            .into_iter()
            .filter(|k| self.d.is_set(k))
            .collect();
            if !ignored.is_empty() {
                self.warnings.push(format!(
                    "{} ignored because import_source_url is not set",
                    ignored.join(", ")
                ));
            }
            return None;
        };
        let lower = url.to_ascii_lowercase();
        let https = lower.starts_with("https://");
        if !https && !lower.starts_with("http://") {
            self.err(format!(
                "import_source_url: {} must be an http:// or https:// URL",
                quote(&url)
            ));
        }
        match &cert {
            None if https => self.err("import_source_ssl_certificate: required when import_source_url is an https:// URL (the PEM certificate of the server)"),
            Some(c) if !c.contains("-----BEGIN CERTIFICATE-----") => {
                self.err("import_source_ssl_certificate: must be a PEM certificate (-----BEGIN CERTIFICATE-----)");
            }
            _ => {}
        }
        if location.is_none() {
            self.err("import_target_location_name: required when import_source_url is set (a writable ContentLibrary that allows imports)");
        }
        let target_image_type = match image_type.as_deref() {
            Some("ovf") => "OVF".to_string(),
            Some("iso") => "ISO".to_string(),
            Some(other) => {
                let hint = suggest_case(other, &["ovf", "iso"]);
                self.err(format!(
                    "import_target_image_type: unknown type {}; use \"ovf\" or \"iso\"{hint}",
                    quote(other)
                ));
                String::new()
            }
            None => {
                let path = lower.split(['?', '#']).next().unwrap_or_default();
                if path.ends_with(".iso") {
                    "ISO".to_string()
                } else if path.ends_with(".ovf") || path.ends_with(".ova") {
                    "OVF".to_string()
                } else {
                    self.err("import_target_image_type: cannot infer the image type from import_source_url (it does not end in .ovf, .ova or .iso); set \"ovf\" or \"iso\"");
                    String::new()
                }
            }
        };
        let request_name = request_name.unwrap_or_else(|| {
            let mut rng = rand::thread_rng();
            let suffix: String = (0..5)
                .map(|_| char::from(b"0123456789abcdef"[rng.gen_range(0..16)]))
                .collect();
            format!("packer-vsphere-supervisor-import-req-{suffix}")
        });
        if let Err(e) = dns1123_subdomain(&request_name) {
            self.err(format!(
                "import_request_name: {} is not a valid name: {e}",
                quote(&request_name)
            ));
        }
        if have_image_name {
            self.warnings
                .push("image_name is set, so the build deploys it, not the imported image".into());
        }
        Some(ImportConfig {
            source_url: url,
            source_ssl_certificate: cert,
            target_location_name: location.unwrap_or_default(),
            target_image_type,
            target_image_name: image_name,
            request_name,
            keep_import_request: keep,
            clean_imported_image: clean,
        })
    }

    fn publish(&mut self, config: &Config) {
        if config.publish_location_name.is_some() && config.publish_to_default_location {
            self.err("publish_location_name and publish_to_default_location = true: set exactly one of them (a named library, or the namespace's default library)");
        }
        if !config.publishes() {
            let ignored: Vec<&str> = [
                ("publish_image_name", config.publish_image_name.is_some()),
                (
                    "publish_image_description",
                    config.publish_image_description.is_some(),
                ),
                (
                    "publish_request_ttl_sec",
                    config.publish_request_ttl_sec.is_some(),
                ),
                (
                    "watch_publish_timeout_sec",
                    self.d.is_set("watch_publish_timeout_sec"),
                ),
            ]
            .into_iter()
            .filter_map(|(k, set)| set.then_some(k))
            .collect();
            if !ignored.is_empty() {
                self.warnings.push(format!(
                    "{} ignored because neither publish_location_name nor publish_to_default_location is set (the image is not published)",
                    ignored.join(", ")
                ));
            }
        }
    }

    fn comm(&mut self, kind: CommKind, config: &Config) -> CommConfig {
        let pause = self.duration("pause_before_connecting", Duration::ZERO, false);
        let ssh = self.ssh(kind == CommKind::Ssh, config);
        let winrm = self.winrm(kind == CommKind::WinRm);
        CommConfig {
            kind,
            pause_before_connecting: pause,
            ssh,
            winrm,
        }
    }

    fn ssh(&mut self, active: bool, config: &Config) -> SshConfig {
        let username = self
            .d
            .non_empty("ssh_username")
            .unwrap_or_else(|| "packer".into());
        let password = self.d.non_empty("ssh_password");
        let private_key_file =
            self.existing_file("ssh_private_key_file", active, files::ssh_private_key);
        let certificate_file =
            self.existing_file("ssh_certificate_file", active, files::ssh_certificate);
        if active && certificate_file.is_some() && private_key_file.is_none() {
            self.err(
                "ssh_certificate_file: needs ssh_private_key_file (the key the certificate signs)",
            );
        }
        let keypair_name = self.d.non_empty("ssh_keypair_name");
        if keypair_name.is_some() {
            self.warnings.push("ssh_keypair_name names a cloud key pair; vSphere Supervisor has none, so it is ignored".into());
        }
        let key_type = match self.d.non_empty("temporary_key_pair_type").as_deref() {
            None | Some("ed25519") => KeyType::Ed25519,
            Some("rsa") => KeyType::Rsa,
            Some("ecdsa") => KeyType::Ecdsa,
            Some("dsa") => {
                self.err("temporary_key_pair_type: \"dsa\" is not supported: DSA keys are insecure and OpenSSH no longer accepts them; use \"ed25519\", \"rsa\" or \"ecdsa\"");
                KeyType::Ed25519
            }
            Some(other) => {
                let hint = suggest_case(other, &["ed25519", "rsa", "ecdsa"]);
                self.err(format!("temporary_key_pair_type: unknown type {}; use \"ed25519\", \"rsa\" or \"ecdsa\"{hint}", quote(other)));
                KeyType::Ed25519
            }
        };
        let bits = self.d.int("temporary_key_pair_bits").unwrap_or(0);
        let shown_bits = self.d.shown("temporary_key_pair_bits");
        let key_bits = match key_type {
            KeyType::Rsa if bits == 0 => 4096,
            KeyType::Rsa if (2048..=16384).contains(&bits) => bits,
            KeyType::Rsa => {
                self.err(format!("temporary_key_pair_bits: RSA keys must have between 2048 and 16384 bits, got {shown_bits}"));
                4096
            }
            KeyType::Ecdsa if bits == 0 => 521,
            KeyType::Ecdsa if [256, 384, 521].contains(&bits) => bits,
            KeyType::Ecdsa => {
                self.err(format!(
                    "temporary_key_pair_bits: ECDSA keys have 256, 384 or 521 bits, got {shown_bits}"
                ));
                521
            }
            KeyType::Ed25519 if bits == 0 || bits == 256 => 256,
            KeyType::Ed25519 => {
                self.err(format!("temporary_key_pair_bits: ed25519 keys always have 256 bits, got {shown_bits}; remove it or choose temporary_key_pair_type \"rsa\" or \"ecdsa\""));
                256
            }
        };
        let agent_auth = self.d.bool("ssh_agent_auth").unwrap_or(false);
        let file_transfer_method = match self.d.non_empty("ssh_file_transfer_method").as_deref() {
            None | Some("scp") => FileTransfer::Scp,
            Some("sftp") => FileTransfer::Sftp,
            Some(other) => {
                let hint = suggest_case(other, &["scp", "sftp"]);
                self.err(format!(
                    "ssh_file_transfer_method: unknown method {}; use \"scp\" or \"sftp\"{hint}",
                    quote(other)
                ));
                FileTransfer::Scp
            }
        };
        let timeout = if self.d.non_empty("ssh_timeout").is_some() {
            let t = self.duration("ssh_timeout", Duration::from_secs(300), false);
            // Still type-check the alias.
            let _ = self.duration("ssh_wait_timeout", Duration::ZERO, false);
            t
        } else {
            self.duration("ssh_wait_timeout", Duration::from_secs(300), false)
        };
        let handshake_attempts = self
            .bounded("ssh_handshake_attempts", "10")
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(10);
        self.rejected(active);
        let temporary_key_pair_name = self.d.non_empty("temporary_key_pair_name");
        if let Some(n) = temporary_key_pair_name.as_deref() {
            if n.chars().any(char::is_control) {
                self.err(format!(
                    "temporary_key_pair_name: {} must not contain control characters (it is the comment of the key's authorized_keys line)",
                    quote(n)
                ));
            }
        }
        let remote_tunnels = self.tunnels("ssh_remote_tunnels", active);
        let local_tunnels = self.tunnels("ssh_local_tunnels", active);
        let bastion = self.bastion(active, &username, private_key_file.as_ref());
        let proxy = self.proxy(active);
        if active && bastion.is_some() && proxy.is_some() {
            self.err("ssh_proxy_host: cannot be combined with ssh_bastion_host; use one of them");
        }
        if active
            && config.bootstrap_data_file.is_some()
            && password.is_none()
            && private_key_file.is_none()
            && !agent_auth
        {
            self.err("ssh_password: no way to log in over SSH: bootstrap_data_file replaces the built-in cloud-config that installs the temporary key, so set ssh_password, ssh_private_key_file or ssh_agent_auth to match your bootstrap data");
        }
        SshConfig {
            host: self.d.non_empty("ssh_host"),
            port: self.port("ssh_port", 22),
            username,
            password,
            private_key_file,
            certificate_file,
            keypair_name,
            temporary_key_pair_name,
            temporary_key_pair_type: key_type,
            temporary_key_pair_bits: u32::try_from(key_bits).unwrap_or(0),
            ciphers: self.d.str_list("ssh_ciphers").unwrap_or_default(),
            key_exchange_algorithms: self
                .d
                .str_list("ssh_key_exchange_algorithms")
                .unwrap_or_default(),
            // On by default: the published image must not trust the build's temporary key (only a
            // key the builder generated is ever removed; `false` keeps it).
            clear_authorized_keys: self.d.bool("ssh_clear_authorized_keys").unwrap_or(true),
            pty: self.d.bool("ssh_pty").unwrap_or(false),
            timeout,
            handshake_attempts,
            agent_auth,
            disable_agent_forwarding: self.d.bool("ssh_disable_agent_forwarding").unwrap_or(false),
            bastion,
            proxy,
            file_transfer_method,
            keep_alive_interval: self.duration(
                "ssh_keep_alive_interval",
                Duration::from_secs(5),
                true,
            ),
            read_write_timeout: self.duration("ssh_read_write_timeout", Duration::ZERO, false),
            remote_tunnels,
            local_tunnels,
        }
    }

    /// `ssh_local_tunnels` / `ssh_remote_tunnels`, each `[bind_address:]port:host:hostport`.
    fn tunnels(&mut self, key: &str, active: bool) -> Vec<String> {
        let list = self.d.str_list(key).unwrap_or_default();
        if active {
            for t in &list {
                if let Err(why) = ssh_comm::Tunnel::parse(t) {
                    self.err(format!("{key}: {why}"));
                }
            }
        }
        list
    }

    /// Refuses the options in [`REJECTED`] that are set to anything but their off value.
    fn rejected(&mut self, active: bool) {
        if !active {
            return;
        }
        for (key, why) in REJECTED {
            let list = OPTIONS
                .iter()
                .any(|(k, kind)| k == key && *kind == super::spec::Kind::StrList);
            let on = if list {
                self.d.str_list(key).is_some_and(|l| !l.is_empty())
            } else {
                self.d.bool(key).unwrap_or(false)
            };
            if on {
                self.err(format!("{key}: not supported: {why}"));
            }
        }
    }

    fn bastion(
        &mut self,
        active: bool,
        ssh_username: &str,
        ssh_private_key_file: Option<&PathBuf>,
    ) -> Option<BastionConfig> {
        let host = self.d.non_empty("ssh_bastion_host");
        let port = self.port("ssh_bastion_port", 22);
        let username = self.d.non_empty("ssh_bastion_username");
        let password = self.d.non_empty("ssh_bastion_password");
        let private_key_file = self.existing_file(
            "ssh_bastion_private_key_file",
            active && host.is_some(),
            files::ssh_private_key,
        );
        let certificate_file = self.existing_file(
            "ssh_bastion_certificate_file",
            active && host.is_some(),
            files::ssh_certificate,
        );
        let agent_auth = self.d.bool("ssh_bastion_agent_auth").unwrap_or(false);
        let Some(host) = host else {
            let orphans: Vec<&str> = [
                "ssh_bastion_port",
                "ssh_bastion_username",
                "ssh_bastion_password",
                "ssh_bastion_private_key_file",
                "ssh_bastion_certificate_file",
                "ssh_bastion_agent_auth",
                "ssh_bastion_interactive",
            ]
            .into_iter()
            .filter(|k| self.d.is_set(k))
            .collect();
            if active && !orphans.is_empty() {
                self.err(format!(
                    "ssh_bastion_host: required by {}",
                    orphans.join(", ")
                ));
            }
            return None;
        };
        // As the SDK: a bastion with neither password nor key of its own uses ssh_private_key_file.
        let private_key_file = match (&password, private_key_file) {
            (None, None) => ssh_private_key_file.cloned(),
            (_, own) => own,
        };
        if active && password.is_none() && private_key_file.is_none() && !agent_auth {
            self.err("ssh_bastion_host: the bastion needs a way to log in: set ssh_bastion_password, ssh_bastion_private_key_file (or ssh_private_key_file, which it inherits) or ssh_bastion_agent_auth");
        }
        if active && certificate_file.is_some() && private_key_file.is_none() {
            self.err("ssh_bastion_certificate_file: needs ssh_bastion_private_key_file");
        }
        Some(BastionConfig {
            host,
            port,
            username: username.unwrap_or_else(|| ssh_username.to_string()),
            password,
            private_key_file,
            certificate_file,
            agent_auth,
        })
    }

    fn proxy(&mut self, active: bool) -> Option<ProxyConfig> {
        let host = self.d.non_empty("ssh_proxy_host");
        let port = self.port("ssh_proxy_port", 1080);
        let username = self.d.non_empty("ssh_proxy_username");
        let password = self.d.non_empty("ssh_proxy_password");
        let Some(host) = host else {
            let orphans: Vec<&str> = ["ssh_proxy_port", "ssh_proxy_username", "ssh_proxy_password"]
                .into_iter()
                .filter(|k| self.d.is_set(k))
                .collect();
            if active && !orphans.is_empty() {
                self.err(format!(
                    "ssh_proxy_host: required by {}",
                    orphans.join(", ")
                ));
            }
            return None;
        };
        if active && password.is_some() && username.is_none() {
            self.err("ssh_proxy_username: required when ssh_proxy_password is set");
        }
        Some(ProxyConfig {
            host,
            port,
            username,
            password,
        })
    }

    fn winrm(&mut self, active: bool) -> WinRmConfig {
        let use_ssl = self.d.bool("winrm_use_ssl").unwrap_or(false);
        WinRmConfig {
            host: self.d.non_empty("winrm_host"),
            port: self.port("winrm_port", if use_ssl { 5986 } else { 5985 }),
            username: self.d.non_empty("winrm_username").unwrap_or_else(|| {
                if active {
                    "packer".into()
                } else {
                    String::new()
                }
            }),
            password: self.d.non_empty("winrm_password"),
            timeout: self.duration("winrm_timeout", Duration::from_secs(30 * 60), false),
            use_ssl,
            insecure: self.d.bool("winrm_insecure").unwrap_or(false),
            use_ntlm: self.d.bool("winrm_use_ntlm").unwrap_or(false),
            no_proxy: self.d.bool("winrm_no_proxy").unwrap_or(false),
        }
    }
}

fn random_source_name() -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..5)
        .map(|_| char::from(LOWER_ALNUM[rng.gen_range(0..LOWER_ALNUM.len())]))
        .collect();
    format!("source-{suffix}")
}
