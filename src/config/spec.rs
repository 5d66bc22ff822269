//! The table of every option the builder accepts, and the HCL2 object spec built from it.
//!
//! One table drives three things: the spec Packer validates HCL2 templates against, the
//! unknown-key check for legacy JSON templates (Packer does not check those itself), and the
//! expected type used when decoding each value.
use std::collections::BTreeMap;

use packer_wire::hclspec::{CtyType, Spec};

/// The value type of one option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    /// Whole numbers (cty `number`).
    Int,
    Bool,
    StrList,
    StrMap,
    /// Go `[]byte` fields of the SDK (`ssh_public_key`, `ssh_private_key`): cty `list(number)`.
    /// Internal; their values are accepted and ignored.
    Bytes,
}

impl Kind {
    fn cty(self) -> CtyType {
        match self {
            Kind::Str => CtyType::String,
            Kind::Int => CtyType::Number,
            Kind::Bool => CtyType::Bool,
            Kind::StrList => CtyType::List(Box::new(CtyType::String)),
            Kind::StrMap => CtyType::Map(Box::new(CtyType::String)),
            Kind::Bytes => CtyType::List(Box::new(CtyType::Number)),
        }
    }

    /// How an expected type is named in error messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Int => "a number",
            Kind::Bool => "a bool",
            Kind::StrList => "a list of strings",
            Kind::StrMap => "a map of strings",
            Kind::Bytes => "a list of numbers",
        }
    }
}

/// Every option, grouped like the reference documentation.
pub(crate) const OPTIONS: &[(&str, Kind)] = &[
    // Packer core (set by Packer, not by users).
    ("packer_build_name", Kind::Str),
    ("packer_builder_type", Kind::Str),
    ("packer_core_version", Kind::Str),
    ("packer_debug", Kind::Bool),
    ("packer_force", Kind::Bool),
    ("packer_on_error", Kind::Str),
    ("packer_user_variables", Kind::StrMap),
    ("packer_sensitive_variables", Kind::StrList),
    // Supervisor connection.
    ("kubeconfig_path", Kind::Str),
    ("kubeconfig_context", Kind::Str),
    ("supervisor_namespace", Kind::Str),
    // Image import.
    ("import_source_url", Kind::Str),
    ("import_source_ssl_certificate", Kind::Str),
    ("import_target_location_name", Kind::Str),
    ("import_target_image_type", Kind::Str),
    ("import_target_image_name", Kind::Str),
    ("import_request_name", Kind::Str),
    ("watch_import_timeout_sec", Kind::Int),
    ("keep_import_request", Kind::Bool),
    ("clean_imported_image", Kind::Bool),
    // Source VM.
    ("class_name", Kind::Str),
    ("storage_class", Kind::Str),
    ("image_name", Kind::Str),
    ("source_name", Kind::Str),
    ("keep_input_artifact", Kind::Bool),
    ("bootstrap_provider", Kind::Str),
    ("bootstrap_data_file", Kind::Str),
    ("cloud_config_passwordless_sudo", Kind::Bool),
    ("guest_os_type", Kind::Str),
    ("iso_boot_disk_size", Kind::Str),
    // Watching.
    ("watch_source_timeout_sec", Kind::Int),
    ("watch_publish_timeout_sec", Kind::Int),
    // Publishing.
    ("publish_location_name", Kind::Str),
    ("publish_to_default_location", Kind::Bool),
    ("publish_image_name", Kind::Str),
    ("publish_image_description", Kind::Str),
    ("publish_request_ttl_sec", Kind::Int),
    // Communicator (the SDK's keys).
    ("communicator", Kind::Str),
    ("pause_before_connecting", Kind::Str),
    ("ssh_host", Kind::Str),
    ("ssh_port", Kind::Int),
    ("ssh_username", Kind::Str),
    ("ssh_password", Kind::Str),
    ("ssh_keypair_name", Kind::Str),
    ("temporary_key_pair_name", Kind::Str),
    ("temporary_key_pair_type", Kind::Str),
    ("temporary_key_pair_bits", Kind::Int),
    ("ssh_ciphers", Kind::StrList),
    ("ssh_clear_authorized_keys", Kind::Bool),
    ("ssh_key_exchange_algorithms", Kind::StrList),
    ("ssh_private_key_file", Kind::Str),
    ("ssh_certificate_file", Kind::Str),
    ("ssh_pty", Kind::Bool),
    ("ssh_timeout", Kind::Str),
    ("ssh_wait_timeout", Kind::Str),
    ("ssh_agent_auth", Kind::Bool),
    ("ssh_disable_agent_forwarding", Kind::Bool),
    ("ssh_handshake_attempts", Kind::Int),
    ("ssh_bastion_host", Kind::Str),
    ("ssh_bastion_port", Kind::Int),
    ("ssh_bastion_agent_auth", Kind::Bool),
    ("ssh_bastion_username", Kind::Str),
    ("ssh_bastion_password", Kind::Str),
    ("ssh_bastion_interactive", Kind::Bool),
    ("ssh_bastion_private_key_file", Kind::Str),
    ("ssh_bastion_certificate_file", Kind::Str),
    ("ssh_file_transfer_method", Kind::Str),
    ("ssh_proxy_host", Kind::Str),
    ("ssh_proxy_port", Kind::Int),
    ("ssh_proxy_username", Kind::Str),
    ("ssh_proxy_password", Kind::Str),
    ("ssh_keep_alive_interval", Kind::Str),
    ("ssh_read_write_timeout", Kind::Str),
    ("ssh_remote_tunnels", Kind::StrList),
    ("ssh_local_tunnels", Kind::StrList),
    ("ssh_public_key", Kind::Bytes),
    ("ssh_private_key", Kind::Bytes),
    ("winrm_username", Kind::Str),
    ("winrm_password", Kind::Str),
    ("winrm_host", Kind::Str),
    ("winrm_no_proxy", Kind::Bool),
    ("winrm_port", Kind::Int),
    ("winrm_timeout", Kind::Str),
    ("winrm_use_ssl", Kind::Bool),
    ("winrm_insecure", Kind::Bool),
    ("winrm_use_ntlm", Kind::Bool),
];

/// Keys Packer sends to JSON-template builders that are not part of the HCL2 spec (Go's SDK
/// consumes them in its decoder before the unknown-key check).
pub(crate) const JSON_ONLY_KEYS: &[(&str, Kind)] = &[("packer_template_path", Kind::Str)];

/// The type of a key, or `None` for an unknown key.
pub(crate) fn kind_of(key: &str) -> Option<Kind> {
    OPTIONS
        .iter()
        .chain(JSON_ONLY_KEYS)
        .find(|(name, _)| *name == key)
        .map(|(_, kind)| *kind)
}

/// The builder's HCL2 object spec: one optional attribute per option.
///
/// No attribute is marked required: Packer would then report a missing `class_name` with
/// its own generic message, and only that one; Prepare reports it together with every other
/// problem instead.
pub fn hcl_spec() -> Spec {
    let attrs: BTreeMap<String, Spec> = OPTIONS
        .iter()
        .map(|(name, kind)| {
            (
                (*name).to_string(),
                Spec::Attr {
                    name: (*name).to_string(),
                    ty: kind.cty(),
                    required: false,
                },
            )
        })
        .collect();
    Spec::Object(attrs)
}
