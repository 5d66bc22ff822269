//! The builder's configuration: every option, its default, and validation.
//!
//! - `options`: the table that declares every option once (name, type, default, doc line,
//!   section of the reference page); the spec, the decoding, the defaults and the reference
//!   page's option tables are derived from it.
//! - [`hcl_spec`]: the HCL2 object spec (every option with its cty type).
//! - [`prepare`]: merges the configs Packer sends to `Builder.Prepare`, types them, applies the
//!   defaults and checks everything, reporting every problem at once. The checks live in
//!   focused modules: [`bounds`] (ranges of numbers and durations, short quoting of values),
//!   [`names`] (Kubernetes and content library names, whitespace), [`files`] (paths, SSH keys,
//!   PEM), [`tls`] (the kubeconfig's certificates) and [`kubeconfig`]. Problems are typed
//!   ([`Problem`]: option, kind, message) and rendered in one place.
//!
//! The struct shape below is shared with the build steps. `docs/builder-reference.md` is the
//! user-facing description of every option.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

mod bounds;
mod duration;
mod files;
#[cfg(test)]
mod fuzz;
mod kubeconfig;
mod names;
mod options;
mod prepare;
mod problem;
mod quantity;
mod raw;
mod spec;
mod suggest;
#[cfg(test)]
mod tests;
mod tls;

pub use prepare::{prepare, prepare_with, ConfigErrors, Environment, Prepared};
pub use problem::{Problem, ProblemKind};
pub use spec::hcl_spec;

/// Values Packer core sets (`packer_*` keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackerConfig {
    pub build_name: String,
    pub builder_type: String,
    pub core_version: String,
    pub debug: bool,
    pub force: bool,
    /// `cleanup`, `abort`, `ask`, `run-cleanup-provisioner`, or empty.
    pub on_error: String,
    pub template_path: String,
    pub user_variables: BTreeMap<String, String>,
    pub sensitive_variables: Vec<String>,
}

/// `bootstrap_provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BootstrapProvider {
    #[default]
    CloudInit,
    Sysprep,
    VAppConfig,
}

/// The values of an option that picks one of a few keywords, spelt as templates write them.
pub trait Keyword: Sized + Copy + 'static {
    /// Every value, in the order error messages list them.
    const ALL: &'static [Self];
    /// The keyword as written in templates.
    fn name(self) -> &'static str;
    /// The value written `s`, exactly (keywords are case-sensitive).
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.name() == s)
    }
}

impl Keyword for BootstrapProvider {
    const ALL: &'static [Self] = &[Self::CloudInit, Self::Sysprep, Self::VAppConfig];
    fn name(self) -> &'static str {
        match self {
            Self::CloudInit => "CloudInit",
            Self::Sysprep => "Sysprep",
            Self::VAppConfig => "vAppConfig",
        }
    }
}

/// `communicator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommKind {
    #[default]
    Ssh,
    WinRm,
    None,
}

impl Keyword for CommKind {
    const ALL: &'static [Self] = &[Self::Ssh, Self::WinRm, Self::None];
    fn name(self) -> &'static str {
        match self {
            Self::Ssh => "ssh",
            Self::WinRm => "winrm",
            Self::None => "none",
        }
    }
}

/// `temporary_key_pair_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    #[default]
    Ed25519,
    Rsa,
    Ecdsa,
}

impl Keyword for KeyType {
    const ALL: &'static [Self] = &[Self::Ed25519, Self::Rsa, Self::Ecdsa];
    fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "ed25519",
            Self::Rsa => "rsa",
            Self::Ecdsa => "ecdsa",
        }
    }
}

/// `ssh_file_transfer_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileTransfer {
    #[default]
    Scp,
    Sftp,
}

impl Keyword for FileTransfer {
    const ALL: &'static [Self] = &[Self::Scp, Self::Sftp];
    fn name(self) -> &'static str {
        match self {
            Self::Scp => "scp",
            Self::Sftp => "sftp",
        }
    }
}

/// `ssh_bastion_*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BastionConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub agent_auth: bool,
}

/// `ssh_proxy_*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyConfig {
    pub host: String,
    /// Default 1080.
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
}

/// SSH communicator options (the SDK's `ssh_*` keys).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SshConfig {
    /// `ssh_host`; `None` means the VirtualMachineService's ingress address.
    pub host: Option<String>,
    pub port: u16,
    pub username: String,
    pub password: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub keypair_name: Option<String>,
    /// `temporary_key_pair_name` (default `packer`): the comment of the temporary public key.
    pub temporary_key_pair_name: Option<String>,
    pub temporary_key_pair_type: KeyType,
    /// Bits for RSA (default 4096) or ECDSA (256/384/521); ignored for ed25519.
    pub temporary_key_pair_bits: u32,
    pub ciphers: Vec<String>,
    pub key_exchange_algorithms: Vec<String>,
    pub clear_authorized_keys: bool,
    pub pty: bool,
    /// `ssh_timeout` (default 5m): how long to keep trying to connect.
    pub timeout: Duration,
    pub handshake_attempts: u32,
    pub agent_auth: bool,
    pub disable_agent_forwarding: bool,
    pub bastion: Option<BastionConfig>,
    /// `ssh_proxy_*`: a SOCKS5 proxy to connect through.
    pub proxy: Option<ProxyConfig>,
    pub file_transfer_method: FileTransfer,
    /// Default 5s; zero means no keep-alive (a negative `ssh_keep_alive_interval`).
    pub keep_alive_interval: Duration,
    /// Zero means no limit.
    pub read_write_timeout: Duration,
    pub remote_tunnels: Vec<String>,
    pub local_tunnels: Vec<String>,
}

/// WinRM communicator options (accepted and validated; connecting is future work).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WinRmConfig {
    pub host: Option<String>,
    pub port: u16,
    pub username: String,
    pub password: Option<String>,
    pub timeout: Duration,
    pub use_ssl: bool,
    pub insecure: bool,
    pub use_ntlm: bool,
    pub no_proxy: bool,
}

/// Communicator options.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommConfig {
    pub kind: CommKind,
    pub pause_before_connecting: Duration,
    pub ssh: SshConfig,
    pub winrm: WinRmConfig,
}

/// Image import options (`import_*`); present only when `import_source_url` is set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportConfig {
    pub source_url: String,
    pub source_ssl_certificate: Option<String>,
    pub target_location_name: String,
    /// `OVF` or `ISO` (upper case, as sent).
    pub target_image_type: String,
    pub target_image_name: Option<String>,
    pub request_name: String,
    pub keep_import_request: bool,
    pub clean_imported_image: bool,
}

/// The whole, validated configuration.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub packer: PackerConfig,
    /// From `kubeconfig_path`, else every path of `KUBECONFIG`, else `~/.kube/config`.
    /// After Prepare: only the files that exist (missing entries of a `KUBECONFIG` list are
    /// skipped, as kubectl does); merge them first-wins.
    pub kubeconfig_paths: Vec<PathBuf>,
    /// `kubeconfig_context`; `None` = the kubeconfig's current context.
    pub kubeconfig_context: Option<String>,
    /// The namespace of the kubeconfig context that will be used, as read in Prepare (`None`
    /// when the context sets none: then `default`, as kubectl does).
    pub kube_context_namespace: Option<String>,
    /// `supervisor_namespace`; `None` = the context's namespace.
    pub supervisor_namespace: Option<String>,
    pub class_name: String,
    pub storage_class: String,
    pub image_name: Option<String>,
    /// Defaulted to `source-` + 5 random lowercase alphanumerics; at most 15 characters.
    pub source_name: String,
    pub keep_input_artifact: bool,
    pub bootstrap_provider: BootstrapProvider,
    pub bootstrap_data_file: Option<PathBuf>,
    /// The built-in cloud-config gives `ssh_username` passwordless sudo (`ALL=(ALL)
    /// NOPASSWD:ALL`); `false` gives no sudo rule.
    pub cloud_config_passwordless_sudo: bool,
    /// The contents of `bootstrap_data_file` (a flat string map), read and checked in Prepare.
    pub bootstrap_data: Option<BTreeMap<String, String>>,
    pub guest_os_type: String,
    pub iso_boot_disk_size: String,
    pub import: Option<ImportConfig>,
    pub watch_import_timeout: Duration,
    pub watch_source_timeout: Duration,
    pub watch_publish_timeout: Duration,
    pub publish_location_name: Option<String>,
    /// `publish_to_default_location`: publish into the namespace's library labelled
    /// the image registry's `default` label (exclusive with `publish_location_name`).
    pub publish_to_default_location: bool,
    pub publish_image_name: Option<String>,
    pub publish_image_description: Option<String>,
    /// `publish_request_ttl_sec`: `ttlSecondsAfterFinished` of the publish request.
    pub publish_request_ttl_sec: Option<i64>,
    pub comm: CommConfig,
}

impl Config {
    /// Whether the build publishes the VM (to a named library or the namespace's default one).
    pub fn publishes(&self) -> bool {
        self.publish_location_name.is_some() || self.publish_to_default_location
    }

    /// The namespace every object is created in: `supervisor_namespace`, else the kubeconfig
    /// context's namespace, else `default`.
    pub fn namespace(&self) -> &str {
        self.supervisor_namespace
            .as_deref()
            .or(self.kube_context_namespace.as_deref())
            .unwrap_or("default")
    }

    /// Whether the build generates a temporary SSH key pair and installs it through the
    /// built-in cloud-config: only with the SSH communicator, no `ssh_private_key_file`, and no
    /// `bootstrap_data_file` (user bootstrap data replaces the cloud-config that carries it).
    pub fn uses_temporary_key(&self) -> bool {
        self.comm.kind == CommKind::Ssh
            && self.comm.ssh.private_key_file.is_none()
            && self.bootstrap_data_file.is_none()
    }
}
