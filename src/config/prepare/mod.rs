//! `Builder.Prepare`: decode, default, and check every option, reporting all problems at once.
//!
//! Every default comes from the option table (`options/table.rs`) through the typed reads of
//! [`read`]; the checks are grouped by concern: [`source`] (connection, source VM, publishing),
//! [`import`] (image import), [`comm`] (communicator, SSH, WinRM).
use std::fmt;
use std::path::{Path, PathBuf};

use packer_wire::msgpack::Value;

use super::problem::{Problem, ProblemKind};
use super::raw::{self, Decoder};
use super::{CommConfig, Config};

mod comm;
mod import;
mod read;
mod source;

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
    pub problems: Vec<Problem>,
}

impl ConfigErrors {
    /// Each problem as the line Packer shows.
    pub fn lines(&self) -> Vec<String> {
        self.problems.iter().map(ToString::to_string).collect()
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} error(s) occurred:", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n* {p}")?;
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
    let mut p = Preparer {
        d: Decoder::new(entries),
        env,
        problems: Vec::new(),
        warnings: Vec::new(),
    };
    let config = p.build();
    problems.extend(p.settle());
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
    problems: Vec<Problem>,
    warnings: Vec<String>,
}

impl Preparer<'_> {
    /// Builds the config, one concern after the other; each records its problems.
    fn build(&mut self) -> Config {
        let packer = self.packer();
        self.whitespace();
        let comm_kind = self.communicator_kind();
        let mut config = self.top_level(packer);
        self.connection(&mut config);
        self.names();
        self.source(&mut config);
        config.import = self.import(config.image_name.is_some());
        if config.image_name.is_none() && config.import.is_none() {
            self.required("image_name", "required unless import_source_url is set (the VirtualMachineImage or ClusterVirtualMachineImage to deploy)");
        }
        self.publish(&config);
        config.comm = self.comm(comm_kind, &config);
        config
    }

    /// The problems to report: the decoder's (badly typed values, stray whitespace), then the
    /// checks', except those about an option the decoder already reported (a badly typed
    /// option is reported once, not again as required or invalid).
    fn settle(&mut self) -> Vec<Problem> {
        let mut out = std::mem::take(&mut self.d.problems);
        let reported: Vec<String> = out.iter().map(|p| p.option.clone()).collect();
        out.extend(
            std::mem::take(&mut self.problems)
                .into_iter()
                .filter(|p| !reported.contains(&p.option)),
        );
        out
    }

    fn report(&mut self, option: &str, kind: ProblemKind, message: impl Into<String>) {
        self.problems.push(Problem::new(option, kind, message));
    }

    /// `option`'s value breaks its rules.
    fn invalid(&mut self, option: &str, message: impl Into<String>) {
        self.report(option, ProblemKind::Invalid, message);
    }

    /// `option` must be set.
    fn required(&mut self, option: &str, message: impl Into<String>) {
        self.report(option, ProblemKind::Required, message);
    }

    /// `option` cannot be used with another one (the message names it).
    fn conflict(&mut self, option: &str, message: impl Into<String>) {
        self.report(option, ProblemKind::Conflict, message);
    }

    /// `option` is refused by this plugin.
    fn unsupported(&mut self, option: &str, message: impl Into<String>) {
        self.report(option, ProblemKind::Unsupported, message);
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
                self.invalid(key, why);
            }
        }
        Some(path)
    }

    /// The options read straight into the config's top level.
    fn top_level(&mut self, packer: super::PackerConfig) -> Config {
        Config {
            packer,
            kubeconfig_paths: Vec::new(),
            kubeconfig_context: self.d.non_empty("kubeconfig_context"),
            kube_context_namespace: None,
            supervisor_namespace: self.d.non_empty("supervisor_namespace"),
            class_name: self.text("class_name"),
            storage_class: self.text("storage_class"),
            image_name: self.d.non_empty("image_name"),
            source_name: self
                .d
                .non_empty("source_name")
                .unwrap_or_else(source::random_source_name),
            keep_input_artifact: self.flag("keep_input_artifact"),
            // Read with the other source VM checks, in `source`.
            bootstrap_provider: super::BootstrapProvider::default(),
            bootstrap_data_file: self.path("bootstrap_data_file"),
            cloud_config_passwordless_sudo: self.flag("cloud_config_passwordless_sudo"),
            bootstrap_data: None,
            guest_os_type: self.text("guest_os_type"),
            iso_boot_disk_size: self.text("iso_boot_disk_size"),
            import: None,
            watch_import_timeout: self.secs("watch_import_timeout_sec"),
            watch_source_timeout: self.secs("watch_source_timeout_sec"),
            watch_publish_timeout: self.secs("watch_publish_timeout_sec"),
            publish_location_name: self.d.non_empty("publish_location_name"),
            publish_to_default_location: self.flag("publish_to_default_location"),
            publish_image_name: self.d.non_empty("publish_image_name"),
            publish_image_description: self.d.non_empty("publish_image_description"),
            publish_request_ttl_sec: self.ttl(),
            comm: CommConfig::default(),
        }
    }
}
