//! The Supervisor connection, the source VM and publishing: what the build creates and where.
use rand::Rng;

use super::super::bounds::{self, quote};
use super::super::names::{self, dns1123_label};
use super::super::options;
use super::super::{files, kubeconfig, quantity, BootstrapProvider, Config, Keyword, PackerConfig};
use super::Preparer;

const LOWER_ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// `source_name`'s default: `source-` + 5 random lowercase alphanumerics.
pub(super) fn random_source_name() -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..5)
        .map(|_| char::from(LOWER_ALNUM[rng.gen_range(0..LOWER_ALNUM.len())]))
        .collect();
    format!("source-{suffix}")
}

impl Preparer<'_> {
    pub(super) fn packer(&mut self) -> PackerConfig {
        PackerConfig {
            build_name: self.d.str("packer_build_name").unwrap_or_default(),
            builder_type: self.d.str("packer_builder_type").unwrap_or_default(),
            core_version: self.d.str("packer_core_version").unwrap_or_default(),
            debug: self.flag("packer_debug"),
            force: self.flag("packer_force"),
            on_error: self.d.str("packer_on_error").unwrap_or_default(),
            template_path: self.d.str("packer_template_path").unwrap_or_default(),
            user_variables: self.d.str_map("packer_user_variables").unwrap_or_default(),
            sensitive_variables: self
                .d
                .str_list("packer_sensitive_variables")
                .unwrap_or_default(),
        }
    }

    /// Names, hosts and keywords with stray whitespace (the table's trimmed options).
    pub(super) fn whitespace(&mut self) {
        for key in options::all().filter(|o| o.trimmed).map(|o| o.name) {
            if let Some(v) = self.d.str(key).filter(|v| !v.is_empty()) {
                if let Err(why) = names::padding(&v) {
                    self.d.reject(key, &why);
                }
            }
        }
    }

    /// Object and item names against the Supervisor's naming rules (the table's named options).
    pub(super) fn names(&mut self) {
        let named = options::all().filter_map(|o| o.name_rule.map(|rule| (o.name, rule)));
        for (key, rule) in named {
            if let Some(v) = self.d.non_empty(key) {
                if let Err(why) = names::check(rule, &v) {
                    self.invalid(key, why);
                }
            }
        }
    }

    /// `publish_request_ttl_sec`: unset is `None`; 0 is kept (delete at once when finished).
    pub(super) fn ttl(&mut self) -> Option<i64> {
        const KEY: &str = "publish_request_ttl_sec";
        let ttl = self.d.int(KEY)?;
        let range = bounds::int_range(KEY)?;
        if ttl < 0 {
            let msg = format!("must not be negative, got {}", self.d.shown(KEY));
            self.invalid(KEY, msg);
        } else if ttl > range.max {
            let msg = format!(
                "must be at most {} {}, got {}",
                range.max,
                range.unit,
                self.d.shown(KEY)
            );
            self.invalid(KEY, msg);
        }
        Some(ttl.clamp(0, range.max))
    }

    /// `kubeconfig_path` (else `$KUBECONFIG`, else `~/.kube/config`) and the context to use.
    pub(super) fn connection(&mut self, config: &mut Config) {
        let Some(candidates) = self.kubeconfig_candidates() else {
            return;
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
                self.problems.extend(problems);
            }
        }
    }

    /// The kubeconfig files to read, or `None` (reported) when there is nowhere to look.
    fn kubeconfig_candidates(&mut self) -> Option<Vec<std::path::PathBuf>> {
        let explicit = self.path("kubeconfig_path");
        match (&explicit, self.env.kubeconfig.as_deref()) {
            (Some(p), _) => Some(vec![p.clone()]),
            // kubectl's rule: KUBECONFIG is a ':'-separated list (upstream treated it as one path).
            (None, Some(list)) if !list.trim().is_empty() => Some(
                list.split(':')
                    .filter(|p| !p.is_empty())
                    .map(|p| self.expand(p))
                    .collect(),
            ),
            _ => match &self.env.home {
                Some(home) => Some(vec![home.join(".kube").join("config")]),
                None => {
                    self.required("kubeconfig_path", "not set, KUBECONFIG is not set and there is no home directory for ~/.kube/config");
                    None
                }
            },
        }
    }

    /// The source VM: class, storage, name, bootstrap and ISO boot disk.
    pub(super) fn source(&mut self, config: &mut Config) {
        if config.class_name.is_empty() {
            self.required(
                "class_name",
                "required (the VirtualMachineClass of the source VM)",
            );
        }
        if config.storage_class.is_empty() {
            self.required(
                "storage_class",
                "required (the Kubernetes StorageClass for the source VM)",
            );
        }
        self.source_name(&config.source_name);
        config.bootstrap_provider = self.keyword("bootstrap_provider", "provider");
        self.bootstrap(config);
        self.iso_boot_disk_size(&config.iso_boot_disk_size);
    }

    fn source_name(&mut self, name: &str) {
        let length = name.chars().count();
        if length > 15 {
            self.invalid("source_name", format!(
                "{} is {length} characters long; at most 15 are allowed (it becomes the guest hostname, limited by Windows to 15)",
                quote(name),
            ));
        }
        if let Err(e) = dns1123_label(name, 63) {
            self.invalid(
                "source_name",
                format!("{} is not a valid name: {e}", quote(name)),
            );
        }
    }

    /// `bootstrap_data_file`, read and checked for the provider; the sudo rule's relevance.
    fn bootstrap(&mut self, config: &mut Config) {
        let provider = config.bootstrap_provider;
        if self.d.is_set("cloud_config_passwordless_sudo")
            && (config.bootstrap_data_file.is_some() || provider != BootstrapProvider::CloudInit)
        {
            self.warnings.push(
                "cloud_config_passwordless_sudo: has no effect: only the built-in cloud-config (CloudInit without bootstrap_data_file) has a sudo rule to set".into(),
            );
        }
        match &config.bootstrap_data_file {
            None if provider != BootstrapProvider::CloudInit => {
                self.required(
                    "bootstrap_data_file",
                    format!("required when bootstrap_provider is {:?}", provider.name()),
                );
            }
            None => {}
            Some(path) => match files::bootstrap_data(provider, path) {
                Err(e) => self.invalid("bootstrap_data_file", e),
                Ok(data) => config.bootstrap_data = Some(data),
            },
        }
    }

    fn iso_boot_disk_size(&mut self, size: &str) {
        const KEY: &str = "iso_boot_disk_size";
        match quantity::parse_bytes(size) {
            Err(e) => self.invalid(KEY, e),
            Ok(bytes) if bytes < 1.0 => {
                self.invalid(KEY, format!("{} must be a positive size", quote(size)));
            }
            Ok(_) => {}
        }
    }

    /// Where the VM is published, and the publish options that have no effect without it.
    pub(super) fn publish(&mut self, config: &Config) {
        if config.publish_location_name.is_some() && config.publish_to_default_location {
            self.conflict("publish_location_name", "cannot be set together with publish_to_default_location = true: set exactly one of them (a named library, or the namespace's default library)");
        }
        if config.publishes() {
            return;
        }
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
