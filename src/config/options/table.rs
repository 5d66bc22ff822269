//! The option table: every option the builder accepts, in the order and sections of
//! `docs/builder-reference.md`, whose option tables are rendered from it.
//!
//! Each entry is `opt(name, type, default, effective value in a prepared Config, description)`
//! followed by what Prepare checks beyond the type: `.trimmed()` (no stray whitespace),
//! `.named(rule)` (a Supervisor naming rule), `.upto(max, unit)` / `.at_most(secs)` (ranges),
//! `.rejected(why)`, `.packer()` (set by Packer), `.json_only()` (not in the HCL2 spec).
//! One entry per line pair, unformatted, so the table reads as a table.
use super::Default::{AliasOf, Bool, Derived, Int, Required, Secs, Str, Unset};
use super::Type::{
    Bool as Flag, Bytes, Duration, Int as Number, Path, Str as Text, StrList, StrMap,
};
use super::{opt, AsValue, Group, OptionDef, Value};
use crate::config::names::Rule;
use crate::config::{BastionConfig, Config, ImportConfig, Keyword, ProxyConfig};

// The longest waits: a build sensibly waits a day for a VM or a connection, an hour for a
// pause or a keep-alive, and keeps a finished publish request at most a year.
const HOUR: u64 = 3_600;
const DAY: u64 = 24 * HOUR;
const DAY_SECS: i64 = 86_400;
const YEAR_SECS: i64 = 365 * DAY_SECS;

/// Every section of the page and its options.
pub(crate) static GROUPS: &[(Group, &[OptionDef])] = &[
    (Group::Connection, CONNECTION),
    (Group::Source, SOURCE),
    (Group::Import, IMPORT),
    (Group::Waiting, WAITING),
    (Group::Publishing, PUBLISHING),
    (Group::Communicator, COMMUNICATOR),
    (Group::Ssh, SSH),
    (Group::WinRm, WINRM),
    (Group::Packer, PACKER),
];

fn name(n: &str) -> Value {
    Value::Str(n.to_string())
}

fn secs(d: std::time::Duration) -> Value {
    Value::Int(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn import(c: &Config, f: fn(&ImportConfig) -> Value) -> Value {
    c.import.as_ref().map_or(Value::Unset, f)
}

fn bastion(c: &Config, f: fn(&BastionConfig) -> Value) -> Value {
    c.comm.ssh.bastion.as_ref().map_or(Value::Unset, f)
}

fn proxy(c: &Config, f: fn(&ProxyConfig) -> Value) -> Value {
    c.comm.ssh.proxy.as_ref().map_or(Value::Unset, f)
}

#[rustfmt::skip]
const CONNECTION: &[OptionDef] = &[
    opt("kubeconfig_path", Text, Derived(r#"`$KUBECONFIG`, else `~/.kube/config`"#), |c| c.kubeconfig_paths.value(),
        r#"The kubeconfig used to reach the Supervisor. When it comes from `$KUBECONFIG`, the variable may list several files separated by `:`, as with kubectl: missing ones are skipped and the rest are merged (the first file that defines a name wins). Prepare checks that at least one file exists, that each parses as a kubeconfig, and that the context to use exists and names a defined cluster (with a server address) and user. The cluster's `certificate-authority-data` / `certificate-authority` file and the user's `client-certificate(-data)` and `client-key(-data)` are parsed (PEM, real X.509 certificates, a PEM private key); a problem names the kubeconfig file, the cluster or user, and the field. A cluster with `insecure-skip-tls-verify: true` validates, with a warning that TLS verification is off. A directory is reported as a directory."#),
    opt("kubeconfig_context", Text, Unset(r#"the kubeconfig's `current-context`"#), |c| c.kubeconfig_context.value(),
        r#"The kubeconfig context to use. An unknown context is an error that lists the available ones."#).trimmed(),
    opt("supervisor_namespace", Text, Unset(r#"the context's namespace, else `default` (with a warning)"#), |c| c.supervisor_namespace.value(),
        r#"The Supervisor namespace where every object of the build is created. Must be a valid namespace name."#).named(Rule::Label),
];

#[rustfmt::skip]
const SOURCE: &[OptionDef] = &[
    opt("class_name", Text, Required(""), |c| c.class_name.value(),
        r#"The VirtualMachineClass of the VM (its CPU and memory). A Kubernetes object name."#).named(Rule::Subdomain),
    opt("storage_class", Text, Required(""), |c| c.storage_class.value(),
        r#"The Kubernetes StorageClass for the VM's disks (and, for ISO images, the boot-disk claim). A Kubernetes object name."#).named(Rule::Subdomain),
    opt("image_name", Text, Derived(r#"the imported image, when `import_source_url` is set; else **required**"#), |c| c.image_name.value(),
        r#"The image to deploy: a VirtualMachineImage in the namespace or a ClusterVirtualMachineImage, by object name (`vmi-0123…`) or by display name (as `kubectl get vmi` shows it). The object name is tried first, namespace before cluster; a display name must designate exactly one image. When both `image_name` and an import are set, `image_name` is deployed (with a warning)."#).named(Rule::ImageName),
    opt("source_name", Text, Derived(r#"`source-` + 5 random lowercase letters and digits"#), |c| c.source_name.value(),
        r#"The name of the VM and of every object the build creates with it (bootstrap Secret, VirtualMachineService, publish request, boot-disk claim). At most 15 characters, because it becomes the guest's host name and Windows limits computer names to 15; lowercase letters, digits and `-`, starting and ending with a letter or digit."#).trimmed(),
    opt("keep_input_artifact", Flag, Bool(false), |c| c.keep_input_artifact.value(),
        r#"Keep the VM, the objects created with it (bootstrap Secret, VirtualMachineService) and its VirtualMachinePublishRequest after the build (success or failure) instead of deleting them, as HashiCorp's builder does. The kept publish request is removed by vm-operator when `publish_request_ttl_sec` is set."#),
    opt("bootstrap_provider", Text, Str("CloudInit"), |c| name(c.bootstrap_provider.name()),
        r#"How the guest is configured at first boot: `CloudInit`, `Sysprep` or `vAppConfig` (case-sensitive; a wrong case gets a suggestion). Not used for ISO images."#).trimmed(),
    opt("bootstrap_data_file", Path, Unset("the built-in cloud-config (CloudInit only)"), |c| c.bootstrap_data_file.value(),
        r#"The bootstrap data. **Required** for `Sysprep` and `vAppConfig`. Either the document itself — a cloud-init user-data file (`#cloud-config`, a `#!` script, …) for `CloudInit`, an unattend XML answer file for `Sysprep` — which is stored under the Secret key `user-data` / `unattend`; or, as with the Go builder, a YAML file holding a flat map of string keys to string values (numbers and booleans are taken as text) that becomes the Secret's data and must then hold `user-data` (CloudInit) or `unattend` (Sysprep); for `vAppConfig` it must be such a map and every key is one vApp property. Read and checked in Prepare: a `#cloud-config` document must be a YAML map, an unattend file well-formed XML whose root element is `<unattend>` (scripts and other user-data are not parsed); at most 1 MiB. The built-in cloud-config creates `ssh_username` with passwordless sudo, the password `ssh_password` (if any) and the build's temporary SSH key; your own file replaces it, so with the SSH communicator you must then set `ssh_password`, `ssh_private_key_file` or `ssh_agent_auth` to match what your data configures."#),
    opt("cloud_config_passwordless_sudo", Flag, Bool(true), |c| c.cloud_config_passwordless_sudo.value(),
        r#"The sudo rule the built-in cloud-config (CloudInit without `bootstrap_data_file`) gives `ssh_username`: `true` writes `sudo: ALL=(ALL) NOPASSWD:ALL`, so provisioners can `sudo` without a password — and so does anyone who logs in as that user on an image built from it; `false` writes no sudo rule (provisioners then run without root). Has no effect with `bootstrap_data_file` (your document decides)."#),
    opt("guest_os_type", Text, Str("otherGuest"), |c| c.guest_os_type.value(),
        r#"The vSphere guest OS identifier of VMs deployed from an ISO image. Not used for OVF images."#).trimmed(),
    opt("iso_boot_disk_size", Text, Str("20Gi"), |c| c.iso_boot_disk_size.value(),
        r#"Size of the boot disk created for ISO deployments, as a Kubernetes quantity (`20Gi`, `40G`, `100Gi`…). Must be valid and positive."#).trimmed(),
];

#[rustfmt::skip]
const IMPORT: &[OptionDef] = &[
    opt("import_source_url", Text, Unset(""), |c| import(c, |i| i.source_url.value()),
        r#"An `http://` or `https://` URL of an OVF/OVA or ISO image to import into a content library before the build. The imported image is deployed unless `image_name` is set."#).trimmed(),
    opt("import_source_ssl_certificate", Text, Unset(""), |c| import(c, |i| i.source_ssl_certificate.value()),
        r#"The PEM certificate of the server behind an `https://` URL. **Required** for `https://`."#),
    opt("import_target_location_name", Text, Required("when importing"), |c| import(c, |i| i.target_location_name.value()),
        r#"The namespaced content library to import into; it must be writable and allow imports (checked when the build starts)."#).named(Rule::Subdomain),
    opt("import_target_image_type", Text, Derived(r#"from the URL: `.iso` → `iso`, `.ovf`/`.ova` → `ovf`"#), |c| import(c, |i| i.target_image_type.to_ascii_lowercase().value()),
        r#"`ovf` or `iso` (lower case). When the URL has no recognisable suffix, this option is required."#).trimmed(),
    opt("import_target_image_name", Text, Unset("the file name in the URL (chosen by the Supervisor)"), |c| import(c, |i| i.target_image_name.value()),
        r#"Display name of the imported content-library item."#).named(Rule::LibraryItem),
    opt("import_request_name", Text, Derived(r#"`packer-vsphere-supervisor-import-req-` + 5 random hex digits"#), |c| import(c, |i| i.request_name.value()),
        r#"Name of the ContentLibraryItemImportRequest. Must be a valid Kubernetes object name."#).trimmed(),
    opt("watch_import_timeout_sec", Number, Int(600), |c| secs(c.watch_import_timeout),
        r#"How long to wait for the import to complete, in seconds. 0–86400 (0: the default)."#).upto(DAY_SECS, "seconds (24 hours)"),
    opt("keep_import_request", Flag, Bool(false), |c| import(c, |i| i.keep_import_request.value()),
        r#"Keep the import request after the build."#),
    opt("clean_imported_image", Flag, Bool(false), |c| import(c, |i| i.clean_imported_image.value()),
        r#"Delete the imported content-library item (and so its image) after the build."#),
];

#[rustfmt::skip]
const WAITING: &[OptionDef] = &[
    opt("watch_source_timeout_sec", Number, Int(3600), |c| secs(c.watch_source_timeout),
        r#"How long to wait, in seconds, for the VM to power on and get an IP address and, with a communicator, for its VirtualMachineService to get an external address. 0–86400 (0: the default)."#).upto(DAY_SECS, "seconds (24 hours)"),
    opt("watch_publish_timeout_sec", Number, Int(600), |c| secs(c.watch_publish_timeout),
        r#"How long to wait, in seconds, for the publish request to complete. 0–86400 (0: the default)."#).upto(DAY_SECS, "seconds (24 hours)"),
];

#[rustfmt::skip]
const PUBLISHING: &[OptionDef] = &[
    opt("publish_location_name", Text, Unset(""), |c| c.publish_location_name.value(),
        r#"The namespaced content library to publish the customised VM into (its Kubernetes object name). It must exist and be writable (checked when the build starts, before the VM is created)."#).named(Rule::Subdomain),
    opt("publish_to_default_location", Flag, Bool(false), |c| c.publish_to_default_location.value(),
        r#"Publish into the namespace's default content library: the one ContentLibrary carrying the image registry's `default` label, which vm-operator uses when a publish request names no library. The build finds it before creating anything and fails with a clear line when no library, or more than one, carries the label. Exclusive with `publish_location_name`."#),
    opt("publish_image_name", Text, Unset("`<source_name>-image` (chosen by vm-operator)"), |c| c.publish_image_name.value(),
        r#"Display name of the published content-library item. It must not exist in the library yet (checked before anything is created: no ContentLibraryItem of that display name in the target library). 1–80 characters, no control characters."#).named(Rule::LibraryItem),
    opt("publish_image_description", Text, Unset(""), |c| c.publish_image_description.value(),
        r#"Description of the published item."#),
    opt("publish_request_ttl_sec", Number, Unset("unset (no TTL)"), |c| c.publish_request_ttl_sec.value(),
        r#"Sets `ttlSecondsAfterFinished` on the VirtualMachinePublishRequest: vm-operator deletes the request this many seconds after it finished (`0`: right away). The build's cleanup deletes the request unless `keep_input_artifact` is set (then the request is kept, as HashiCorp's builder does, and this TTL is what removes it) or `-on-error=abort` leaves it. The published image is not affected. 0–31536000 (a year)."#).upto(YEAR_SECS, "seconds (365 days)"),
];

#[rustfmt::skip]
const COMMUNICATOR: &[OptionDef] = &[
    opt("communicator", Text, Str("ssh"), |c| name(c.comm.kind.name()),
        r#"`ssh`, or `none`: no connection to the VM and no VirtualMachineService is created. With `none`, local provisioners (`shell-local`) still run; the first provisioner that needs the VM (`shell`, `file`, …) ends the build at once with `provisioning: communicator = "none": this build has no connection to the source VM, …` (not after the provisioner's `start_retry_timeout`). `winrm` is accepted by the schema but rejected by Prepare: WinRM connections are not supported yet."#).trimmed(),
    opt("pause_before_connecting", Duration, Secs(0), |c| c.comm.pause_before_connecting.value(),
        r#"Wait this long after the VM is reachable before connecting. At most `1h`."#).at_most(HOUR),
];

#[rustfmt::skip]
const SSH: &[OptionDef] = &[
    opt("ssh_host", Text, Unset(r#"the VirtualMachineService's external address"#), |c| c.comm.ssh.host.value(),
        r#"Address to connect to instead."#).trimmed(),
    opt("ssh_port", Number, Int(22), |c| c.comm.ssh.port.value(),
        r#"Port of the guest's SSH server (also the service port). 1–65535."#),
    opt("ssh_username", Text, Str("packer"), |c| c.comm.ssh.username.value(),
        r#"The user to log in as; the built-in cloud-config creates it."#).trimmed(),
    opt("ssh_password", Text, Unset(""), |c| c.comm.ssh.password.value(),
        r#"Password for `ssh_username`; the built-in cloud-config sets it."#),
    opt("ssh_private_key_file", Path, Unset(""), |c| c.comm.ssh.private_key_file.value(),
        r#"Log in with this private key instead of a temporary key pair. Must be an unencrypted private key (OpenSSH, PEM, PKCS#8 or PuTTY)."#),
    opt("ssh_certificate_file", Path, Unset(""), |c| c.comm.ssh.certificate_file.value(),
        r#"An SSH certificate for `ssh_private_key_file`. Must be an OpenSSH certificate."#),
    opt("temporary_key_pair_type", Text, Str("ed25519"), |c| name(c.comm.ssh.temporary_key_pair_type.name()),
        r#"Type of the key pair generated for the build when no `ssh_private_key_file` and no `bootstrap_data_file` is given (only the built-in cloud-config installs it, so with your own bootstrap data no key is generated): `ed25519`, `rsa` or `ecdsa`. `dsa` is refused (insecure, and disabled in current OpenSSH). (The Go builder ignored this option and always used RSA.)"#).trimmed(),
    opt("temporary_key_pair_bits", Number, Derived(r#"RSA: `4096`; ECDSA: `521`; ed25519: fixed 256"#), |c| c.comm.ssh.temporary_key_pair_bits.value(),
        r#"Key size: RSA 2048–16384; ECDSA 256, 384 or 521; leave unset for ed25519."#),
    opt("temporary_key_pair_name", Text, Str("packer"), |c| c.comm.ssh.temporary_key_pair_name.value(),
        r#"The comment of the temporary public key, as it appears at the end of its `authorized_keys` line in the guest. No control characters."#).trimmed(),
    opt("ssh_keypair_name", Text, Unset(""), |c| c.comm.ssh.keypair_name.value(),
        r#"A cloud key-pair name; the Supervisor has none, so it is ignored (with a warning)."#),
    opt("ssh_agent_auth", Flag, Bool(false), |c| c.comm.ssh.agent_auth.value(),
        r#"Authenticate with the keys of the local SSH agent (`SSH_AUTH_SOCK`)."#),
    opt("ssh_disable_agent_forwarding", Flag, Bool(false), |c| c.comm.ssh.disable_agent_forwarding.value(),
        r#"As Packer's SDK, the local SSH agent (`$SSH_AUTH_SOCK`, when set) is forwarded to every command the build runs in the guest (`ssh -A`), so provisioners can use its keys (`ssh-add -l` lists them); `true` forwards nothing. A guest whose SSH server refuses forwarding still runs the commands."#),
    opt("ssh_timeout", Duration, Secs(300), |c| c.comm.ssh.timeout.value(),
        r#"How long to keep trying to connect. At most `24h`."#).at_most(DAY),
    opt("ssh_wait_timeout", Duration, AliasOf("ssh_timeout"), |c| c.comm.ssh.timeout.value(),
        r#"Older name of `ssh_timeout`, used when `ssh_timeout` is unset. At most `24h`."#).at_most(DAY),
    opt("ssh_handshake_attempts", Number, Int(10), |c| c.comm.ssh.handshake_attempts.value(),
        r#"How many SSH handshakes to attempt before giving up. 0–1000 (0: the default)."#).upto(1_000, "attempts"),
    opt("ssh_pty", Flag, Bool(false), |c| c.comm.ssh.pty.value(),
        r#"Request a pseudo-terminal for commands."#),
    opt("ssh_clear_authorized_keys", Flag, Bool(true), |c| c.comm.ssh.clear_authorized_keys.value(),
        r#"After the provisioners and before publishing, remove the build's temporary public key from `~/.ssh/authorized_keys` of `ssh_username` in the guest, so the published image does not trust it (`Removing the temporary SSH key from authorized_keys` in the log; a failure fails the build). Only a key the builder generated and installed is removed: nothing is done when no temporary key was generated (`ssh_private_key_file` or `bootstrap_data_file` set). `false` keeps the key in the image. (The Go builder and Packer's SDK default to `false`.)"#),
    opt("ssh_ciphers", StrList, Unset(r#"the SSH library's defaults"#), |c| c.comm.ssh.ciphers.value(),
        r#"Allowed ciphers, e.g. `["aes128-gcm@openssh.com"]`."#),
    opt("ssh_key_exchange_algorithms", StrList, Unset(r#"the SSH library's defaults"#), |c| c.comm.ssh.key_exchange_algorithms.value(),
        r#"Allowed key-exchange algorithms."#),
    opt("ssh_file_transfer_method", Text, Str("scp"), |c| name(c.comm.ssh.file_transfer_method.name()),
        r#"`scp` or `sftp`, for the file provisioner. Directories land where Packer's Go communicator puts them: `source = "dir/"` copies the contents into `destination` (created when missing); `source = "dir"` gives `destination/dir`, except that with `scp` a missing `destination` becomes the copy of `dir` itself."#).trimmed(),
    opt("ssh_keep_alive_interval", Duration, Secs(5), |c| c.comm.ssh.keep_alive_interval.value(),
        r#"Interval of SSH keep-alive messages; a negative value (`"-1s"`) disables them. At most `1h`."#).at_most(HOUR),
    opt("ssh_read_write_timeout", Duration, Secs(0), |c| c.comm.ssh.read_write_timeout.value(),
        r#"Abort a command when the connection carries no data for this long (`0s`: never). At most `24h`."#).at_most(DAY),
    opt("ssh_local_tunnels", StrList, Unset(""), |c| c.comm.ssh.local_tunnels.value(),
        r#"Local port forwards (`ssh -L`), each `[bind_address:]port:host:hostport` (`bind_address` defaults to `localhost`): while the build is connected, this machine listens on `bind_address:port` and the guest's SSH server connects each connection onwards to `host:hostport` (a `direct-tcpip` channel). A port that cannot be listened on fails the connection, naming the tunnel."#),
    opt("ssh_remote_tunnels", StrList, Unset(""), |c| c.comm.ssh.remote_tunnels.value(),
        r#"Remote port forwards (`ssh -R`), same form: the guest's SSH server listens on `bind_address:port` (`tcpip-forward`; default `localhost`) and each connection to it is connected from this machine to `host:hostport`. A forward the server refuses fails the connection, naming the tunnel."#),
    opt("ssh_bastion_host", Text, Unset(""), |c| bastion(c, |b| b.host.value()),
        r#"Connect through this jump host (a `direct-tcpip` channel to the VM). Requires one way to log in to it (below); as in Packer's SDK, a bastion with neither `ssh_bastion_password` nor `ssh_bastion_private_key_file` logs in with `ssh_private_key_file`."#).trimmed(),
    opt("ssh_bastion_port", Number, Int(22), |c| bastion(c, |b| b.port.value()),
        r#"Port of the jump host. 1–65535."#),
    opt("ssh_bastion_username", Text, Derived("`ssh_username`"), |c| bastion(c, |b| b.username.value()),
        r#"User on the jump host."#).trimmed(),
    opt("ssh_bastion_password", Text, Unset(""), |c| bastion(c, |b| b.password.value()),
        r#"Password on the jump host."#),
    opt("ssh_bastion_private_key_file", Path, Derived(r#"`ssh_private_key_file` when the bastion has no password"#), |c| bastion(c, |b| b.private_key_file.value()),
        r#"Private key for the jump host. Must be an unencrypted private key."#),
    opt("ssh_bastion_certificate_file", Path, Unset(""), |c| bastion(c, |b| b.certificate_file.value()),
        r#"Certificate for that key. Must be an OpenSSH certificate."#),
    opt("ssh_bastion_agent_auth", Flag, Bool(false), |c| bastion(c, |b| b.agent_auth.value()),
        r#"Use the SSH agent for the jump host."#),
    opt("ssh_bastion_interactive", Flag, Bool(false), |_| Value::Bool(false),
        "").rejected("prompts for a person at a terminal, and a Packer plugin has none; use ssh_bastion_password (it also answers keyboard-interactive prompts), ssh_bastion_private_key_file or ssh_bastion_agent_auth"),
    opt("ssh_proxy_host", Text, Unset(""), |c| proxy(c, |p| p.host.value()),
        r#"Open the SSH connection through this SOCKS5 proxy (RFC 1928 `CONNECT`, as Packer's SDK does). The VM's address is sent as an IP address, a host name (`ssh_host`) as a name for the proxy to resolve. A proxy that refuses the credentials ends the build at once; a proxy that cannot reach the VM yet is retried until `ssh_timeout`. Not together with `ssh_bastion_host` (Prepare error). HTTP CONNECT proxies are not supported (nor are they in Packer's SDK)."#).trimmed(),
    opt("ssh_proxy_port", Number, Int(1080), |c| proxy(c, |p| p.port.value()),
        r#"Port of the proxy. 1–65535."#),
    opt("ssh_proxy_username", Text, Unset(""), |c| proxy(c, |p| p.username.value()),
        r#"When set, the proxy is offered username/password authentication (RFC 1929) as well as none."#).trimmed(),
    opt("ssh_proxy_password", Text, Unset(""), |c| proxy(c, |p| p.password.value()),
        r#"Password for `ssh_proxy_username` (empty when unset); needs `ssh_proxy_username`."#),
    opt("ssh_public_key", Bytes, Unset(""), |_| Value::Unset,
        "").rejected("internal to Packer's SDK (the key pair a build generates at run time), not a template option; use ssh_private_key_file, or leave it to the build's temporary key"),
    opt("ssh_private_key", Bytes, Unset(""), |_| Value::Unset,
        "").rejected("internal to Packer's SDK (the key pair a build generates at run time), not a template option; use ssh_private_key_file, or leave it to the build's temporary key"),
];

#[rustfmt::skip]
const WINRM: &[OptionDef] = &[
    opt("winrm_username", Text, Derived(r#"`packer` (with `communicator = "winrm"`)"#), |c| c.comm.winrm.username.value(),
        r#"User to log in as."#).trimmed(),
    opt("winrm_password", Text, Unset(""), |c| c.comm.winrm.password.value(),
        r#"Password."#),
    opt("winrm_host", Text, Unset(r#"the VirtualMachineService's external address"#), |c| c.comm.winrm.host.value(),
        r#"Address to connect to instead."#).trimmed(),
    opt("winrm_port", Number, Derived(r#"`5985`, or `5986` with `winrm_use_ssl`"#), |c| c.comm.winrm.port.value(),
        r#"WinRM port. 1–65535."#),
    opt("winrm_timeout", Duration, Secs(1800), |c| c.comm.winrm.timeout.value(),
        r#"How long to keep trying to connect. At most `24h`."#).at_most(DAY),
    opt("winrm_use_ssl", Flag, Bool(false), |c| c.comm.winrm.use_ssl.value(),
        r#"Use HTTPS."#),
    opt("winrm_insecure", Flag, Bool(false), |c| c.comm.winrm.insecure.value(),
        r#"Do not verify the server certificate."#),
    opt("winrm_use_ntlm", Flag, Bool(false), |c| c.comm.winrm.use_ntlm.value(),
        r#"Use NTLM authentication."#),
    opt("winrm_no_proxy", Flag, Bool(false), |c| c.comm.winrm.no_proxy.value(),
        r#"Ignore HTTP proxy settings."#),
];

#[rustfmt::skip]
const PACKER: &[OptionDef] = &[
    opt("packer_build_name", Text, Str(""), |c| c.packer.build_name.value(),
        r#"Name of the build (the source block's name)."#).packer(),
    opt("packer_builder_type", Text, Str(""), |c| c.packer.builder_type.value(),
        r#"`vsphere-supervisor`."#).packer(),
    opt("packer_core_version", Text, Str(""), |c| c.packer.core_version.value(),
        r#"Version of Packer."#).packer(),
    opt("packer_debug", Flag, Bool(false), |c| c.packer.debug.value(),
        r#"`-debug`: pause between steps."#).packer(),
    opt("packer_force", Flag, Bool(false), |c| c.packer.force.value(),
        r#"`-force`."#).packer(),
    opt("packer_on_error", Text, Str(""), |c| c.packer.on_error.value(),
        r#"`-on-error` (`cleanup`, `abort`, `ask`, `run-cleanup-provisioner`)."#).packer(),
    opt("packer_user_variables", StrMap, Unset(""), |c| c.packer.user_variables.value(),
        r#"Template variables (JSON templates)."#).packer(),
    opt("packer_sensitive_variables", StrList, Unset(""), |c| c.packer.sensitive_variables.value(),
        r#"Names of sensitive variables."#).packer(),
    opt("packer_template_path", Text, Str(""), |c| c.packer.template_path.value(),
        r#"Path of a JSON template (JSON templates only; not in the HCL2 schema)."#).packer().json_only(),
];
