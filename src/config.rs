//! The builder's configuration: every option, its default, and validation.
//! (CONTRACT: the struct shape below is shared with the build steps; the config helper fills in
//! decoding, defaults and validation, and may add fields, but keeps these names and types.)
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// Values Packer core sets (`packer_*` keys).
#[derive(Debug, Clone, Default)]
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

/// `communicator`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CommKind {
    #[default]
    Ssh,
    WinRm,
    None,
}

/// `temporary_key_pair_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyType {
    #[default]
    Ed25519,
    Rsa,
    Ecdsa,
}

/// `ssh_file_transfer_method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileTransfer {
    #[default]
    Scp,
    Sftp,
}

/// `ssh_bastion_*`.
#[derive(Debug, Clone, Default)]
pub struct BastionConfig {
    pub host: String,
    pub port: u16,
    pub username: String,
    pub password: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub agent_auth: bool,
    pub interactive: bool,
}

/// SSH communicator options (the SDK's `ssh_*` keys).
#[derive(Debug, Clone, Default)]
pub struct SshConfig {
    /// `ssh_host`; `None` means the VirtualMachineService's ingress address.
    pub host: Option<String>,
    pub port: u16,
    pub username: String,
    pub password: Option<String>,
    pub private_key_file: Option<PathBuf>,
    pub certificate_file: Option<PathBuf>,
    pub keypair_name: Option<String>,
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
    pub file_transfer_method: FileTransfer,
    pub keep_alive_interval: Duration,
    /// Zero means no limit.
    pub read_write_timeout: Duration,
    pub remote_tunnels: Vec<String>,
    pub local_tunnels: Vec<String>,
}

/// WinRM communicator options (accepted and validated; connecting is future work).
#[derive(Debug, Clone, Default)]
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
#[derive(Debug, Clone, Default)]
pub struct CommConfig {
    pub kind: CommKind,
    pub pause_before_connecting: Duration,
    pub ssh: SshConfig,
    pub winrm: WinRmConfig,
}

/// Image import options (`import_*`); present only when `import_source_url` is set.
#[derive(Debug, Clone, Default)]
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
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub packer: PackerConfig,
    /// From `kubeconfig_path`, else every path of `KUBECONFIG`, else `~/.kube/config`.
    pub kubeconfig_paths: Vec<PathBuf>,
    /// `kubeconfig_context`; `None` = the kubeconfig's current context.
    pub kubeconfig_context: Option<String>,
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
    pub guest_os_type: String,
    pub iso_boot_disk_size: String,
    pub import: Option<ImportConfig>,
    pub watch_import_timeout: Duration,
    pub watch_source_timeout: Duration,
    pub watch_publish_timeout: Duration,
    pub publish_location_name: Option<String>,
    pub publish_image_name: Option<String>,
    pub publish_image_description: Option<String>,
    /// `publish_request_ttl_sec`: `ttlSecondsAfterFinished` of the publish request.
    pub publish_request_ttl_sec: Option<i64>,
    pub comm: CommConfig,
}
