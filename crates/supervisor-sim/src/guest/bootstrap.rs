//! Bootstrap data of a simulated guest: what the VM's Secret (or vApp properties) asks the guest
//! to configure, reduced to the parts the simulator honours (accounts, keys, files, commands).
//!
//! Three providers feed the same [`BootstrapPlan`]: CloudInit user-data (`#cloud-config`),
//! Sysprep unattend XML (administrator / local account passwords), and vApp properties (OVF
//! `guestinfo.*` / Ubuntu-OVF conventions). Values may be plain, base64 or gzip+base64, as
//! vm-operator accepts them.

use std::io::Read;

use base64::Engine;
use serde_yaml::Value as Yaml;

/// Errors while decoding bootstrap data.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    /// The cloud-config document is not valid YAML.
    #[error("parsing cloud-config user-data: {0}")]
    CloudConfig(#[source] serde_yaml::Error),
    /// The user-data is neither `#cloud-config` nor a shell script.
    #[error("user-data is not a #cloud-config document or a script (starts with {0:?})")]
    UnsupportedUserData(String),
}

/// One account the guest must accept logins for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GuestUser {
    pub name: String,
    /// Plain-text password; `None` when password login is impossible (no password, or locked).
    pub password: Option<String>,
    /// OpenSSH `authorized_keys` lines.
    pub authorized_keys: Vec<String>,
    pub sudo: Option<String>,
    pub shell: Option<String>,
}

/// A `write_files` entry, already decoded to bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFile {
    pub path: String,
    pub content: Vec<u8>,
    pub permissions: Option<u32>,
    pub owner: Option<String>,
    pub append: bool,
}

/// What a guest does at first boot and which logins it accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootstrapPlan {
    pub users: Vec<GuestUser>,
    pub write_files: Vec<WriteFile>,
    /// Each entry is one shell command line (list-form commands are shell-quoted).
    pub runcmd: Vec<String>,
    /// Whether password authentication is allowed at all (`ssh_pwauth`).
    pub ssh_pwauth: bool,
    /// vApp properties, written to `/etc/vapp-properties.json`.
    pub vapp_properties: Vec<(String, String)>,
    pub hostname: Option<String>,
}

impl BootstrapPlan {
    /// The account named `name`, if any.
    pub fn user(&self, name: &str) -> Option<&GuestUser> {
        self.users.iter().find(|u| u.name == name)
    }

    fn user_mut(&mut self, name: &str) -> &mut GuestUser {
        if let Some(i) = self.users.iter().position(|u| u.name == name) {
            &mut self.users[i]
        } else {
            self.users.push(GuestUser {
                name: name.to_string(),
                ..GuestUser::default()
            });
            let last = self.users.len() - 1;
            &mut self.users[last]
        }
    }
}

/// Decodes a bootstrap value that may be plain text, base64, or gzip+base64 (vm-operator accepts
/// all three in raw CloudInit/Sysprep secrets). Plain text wins when base64 decoding does not
/// yield UTF-8 or gzip, so a cloud-config that happens to be valid base64 is not mangled.
pub fn decode_value(raw: &[u8]) -> Vec<u8> {
    if is_gzip(raw) {
        if let Some(out) = gunzip(raw) {
            return out;
        }
    }
    let compact: Vec<u8> = raw
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let looks_b64 = !compact.is_empty()
        && compact
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    if looks_b64 {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&compact)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
            .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&compact));
        if let Ok(bytes) = decoded {
            if is_gzip(&bytes) {
                if let Some(out) = gunzip(&bytes) {
                    return out;
                }
            }
            if std::str::from_utf8(&bytes).is_ok() {
                return bytes;
            }
        }
    }
    raw.to_vec()
}

fn is_gzip(b: &[u8]) -> bool {
    b.len() > 2 && b[0] == 0x1f && b[1] == 0x8b
}

fn gunzip(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Parses CloudInit user-data (after [`decode_value`]) into `plan`.
pub fn apply_cloud_init(plan: &mut BootstrapPlan, user_data: &[u8]) -> Result<(), BootstrapError> {
    let text = String::from_utf8_lossy(user_data);
    let trimmed = text.trim_start();
    if trimmed.starts_with("#!") {
        // A user-data script runs once at first boot like a runcmd.
        plan.runcmd.push(text.to_string());
        return Ok(());
    }
    if !trimmed.starts_with("#cloud-config") {
        let head: String = trimmed.chars().take(20).collect();
        return Err(BootstrapError::UnsupportedUserData(head));
    }
    let doc: Yaml = serde_yaml::from_str(&text).map_err(BootstrapError::CloudConfig)?;
    let Yaml::Mapping(map) = doc else {
        // An empty cloud-config is valid and configures nothing.
        return Ok(());
    };
    let get = |k: &str| map.get(Yaml::String(k.to_string()));
    if let Some(v) = get("ssh_pwauth") {
        plan.ssh_pwauth = yaml_bool(v).unwrap_or(false);
    }
    if let Some(h) = get("hostname").and_then(yaml_str) {
        plan.hostname = Some(h);
    }
    apply_cloud_users(plan, &map);
    if let Some(Yaml::Mapping(ch)) = get("chpasswd") {
        apply_chpasswd(plan, ch);
    }
    if let Some(Yaml::Sequence(files)) = get("write_files") {
        let entries = files.iter().filter_map(|f| match f {
            Yaml::Mapping(m) => parse_write_file(m),
            _ => None,
        });
        plan.write_files.extend(entries);
    }
    if let Some(Yaml::Sequence(cmds)) = get("runcmd") {
        plan.runcmd.extend(cmds.iter().filter_map(runcmd_line));
    }
    Ok(())
}

/// `users`, and the top-level `ssh_authorized_keys` / `password` keys, which configure the
/// distribution's default user; ours is `ubuntu` like the Ubuntu cloud images the seed library
/// pretends to hold.
fn apply_cloud_users(plan: &mut BootstrapPlan, map: &serde_yaml::Mapping) {
    let get = |k: &str| map.get(Yaml::String(k.to_string()));
    let top_keys = string_list(get("ssh_authorized_keys").or_else(|| get("ssh-authorized-keys")));
    let top_password = get("password").and_then(yaml_str);
    let mut default_user_wanted = !top_keys.is_empty() || top_password.is_some();
    if let Some(Yaml::Sequence(users)) = get("users") {
        for u in users {
            match u {
                Yaml::String(s) if s == "default" => default_user_wanted = true,
                Yaml::String(s) => {
                    plan.user_mut(s);
                }
                Yaml::Mapping(m) => apply_cloud_user(plan, m),
                _ => {}
            }
        }
    }
    if !default_user_wanted {
        return;
    }
    let du = plan.user_mut(DEFAULT_USER);
    du.authorized_keys.extend(top_keys);
    if let Some(p) = top_password {
        du.password = Some(p);
    }
    if du.sudo.is_none() {
        du.sudo = Some("ALL=(ALL) NOPASSWD:ALL".into());
    }
}

/// One `runcmd` entry as a shell command line (a list is shell-quoted word by word).
fn runcmd_line(c: &Yaml) -> Option<String> {
    match c {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Sequence(argv) => {
            let words: Vec<String> = argv.iter().filter_map(yaml_str).collect();
            Some(
                words
                    .iter()
                    .map(|w| shell_quote(w))
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        }
        _ => None,
    }
}

/// The distribution default user for top-level cloud-config keys and vApp passwords.
pub const DEFAULT_USER: &str = "ubuntu";

fn apply_cloud_user(plan: &mut BootstrapPlan, m: &serde_yaml::Mapping) {
    let get = |k: &str| m.get(Yaml::String(k.to_string()));
    let Some(name) = get("name").and_then(yaml_str) else {
        return;
    };
    let keys = string_list(get("ssh_authorized_keys").or_else(|| get("ssh-authorized-keys")));
    let password = get("plain_text_passwd")
        .and_then(yaml_str)
        // `passwd` is a crypt hash in real cloud-init; we accept it as given so a hash only
        // matches itself, and a plain value (common in tests) works.
        .or_else(|| get("passwd").and_then(yaml_str));
    // cloud-init locks the password by default.
    let locked = get("lock_passwd").and_then(yaml_bool).unwrap_or(true);
    let sudo = get("sudo").and_then(|v| match v {
        Yaml::Sequence(s) => s.iter().filter_map(yaml_str).next(),
        other => yaml_str(other),
    });
    let shell = get("shell").and_then(yaml_str);
    let u = plan.user_mut(&name);
    u.authorized_keys.extend(keys);
    u.password = if locked { None } else { password };
    if sudo.is_some() {
        u.sudo = sudo;
    }
    if shell.is_some() {
        u.shell = shell;
    }
}

fn apply_chpasswd(plan: &mut BootstrapPlan, ch: &serde_yaml::Mapping) {
    let get = |k: &str| ch.get(Yaml::String(k.to_string()));
    // Old form: `list: "user:pass\n..."` or a list of `user:pass` strings.
    match get("list") {
        Some(Yaml::String(s)) => {
            for line in s.lines() {
                set_pair(plan, line);
            }
        }
        Some(Yaml::Sequence(items)) => {
            for i in items.iter().filter_map(yaml_str) {
                set_pair(plan, &i);
            }
        }
        _ => {}
    }
    // New form: `users: [{name, password, type}]`.
    if let Some(Yaml::Sequence(users)) = get("users") {
        for u in users {
            if let Yaml::Mapping(m) = u {
                let name = m.get(Yaml::String("name".into())).and_then(yaml_str);
                let pw = m.get(Yaml::String("password".into())).and_then(yaml_str);
                if let (Some(n), Some(p)) = (name, pw) {
                    plan.user_mut(&n).password = Some(p);
                }
            }
        }
    }
}

fn set_pair(plan: &mut BootstrapPlan, line: &str) {
    if let Some((user, pass)) = line.trim().split_once(':') {
        if !user.is_empty() {
            plan.user_mut(user).password = Some(pass.to_string());
        }
    }
}

fn parse_write_file(m: &serde_yaml::Mapping) -> Option<WriteFile> {
    let get = |k: &str| m.get(Yaml::String(k.to_string()));
    let path = get("path").and_then(yaml_str)?;
    let content = get("content").and_then(yaml_str).unwrap_or_default();
    let encoding = get("encoding")
        .and_then(yaml_str)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let b64 = |s: &str| {
        let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .ok()
    };
    let bytes = match encoding.as_str() {
        "b64" | "base64" => b64(&content)?,
        "gz+b64" | "gzip+base64" | "gz+base64" | "gzip+b64" => gunzip(&b64(&content)?)?,
        "gz" | "gzip" => gunzip(content.as_bytes())?,
        _ => content.into_bytes(),
    };
    let permissions = get("permissions").and_then(|v| match v {
        Yaml::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
        // YAML 1.1 reads 0644 as octal; serde_yaml (1.2) gives decimal 644.
        Yaml::Number(n) => n
            .as_u64()
            .and_then(|d| u32::from_str_radix(&d.to_string(), 8).ok()),
        _ => None,
    });
    Some(WriteFile {
        path,
        content: bytes,
        permissions,
        owner: get("owner").and_then(yaml_str),
        append: get("append").and_then(yaml_bool).unwrap_or(false),
    })
}

/// Extracts accounts from a Sysprep unattend answer file: the administrator password
/// (`UserAccounts/AdministratorPassword/Value`) and `LocalAccounts/LocalAccount` entries.
pub fn apply_sysprep(plan: &mut BootstrapPlan, xml: &[u8]) {
    let text = String::from_utf8_lossy(xml);
    for block in elements(&text, "AdministratorPassword") {
        if let Some(pw) = password_block(block, "AdministratorPassword") {
            plan.user_mut("Administrator").password = Some(pw);
        }
    }
    for block in elements(&text, "LocalAccount") {
        let name = elements(block, "Name").next().map(xml_text);
        let pw = elements(block, "Password")
            .next()
            .and_then(|p| password_block(p, "Password"));
        if let (Some(n), Some(p)) = (name, pw) {
            if !n.is_empty() {
                plan.user_mut(&n).password = Some(p);
            }
        }
    }
    if let Some(h) = elements(&text, "ComputerName").next() {
        plan.hostname = Some(xml_text(h));
    }
    plan.ssh_pwauth = true;
}

/// A `<Value>`/`<PlainText>` pair; when PlainText is false the value is base64 UTF-16LE of the
/// password followed by the element name (Windows' "obfuscation").
fn password_block(block: &str, suffix: &str) -> Option<String> {
    let value = xml_text(elements(block, "Value").next()?);
    let plain = elements(block, "PlainText")
        .next()
        .map(|p| xml_text(p).eq_ignore_ascii_case("true"))
        .unwrap_or(true);
    if plain {
        return Some(value);
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let s = String::from_utf16(&units).ok()?;
    Some(s.strip_suffix(suffix).unwrap_or(&s).to_string())
}

/// Inner texts of every `<tag ...>…</tag>` (namespace prefixes ignored), non-nested scan.
fn elements<'a>(text: &'a str, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut rest = text;
    std::iter::from_fn(move || loop {
        let start = rest.find('<')?;
        let after = &rest[start + 1..];
        let end_of_tag = after.find('>')?;
        let head = &after[..end_of_tag];
        let name = head
            .split(|c: char| c.is_whitespace() || c == '/')
            .next()
            .unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == tag && !head.starts_with('/') && !head.ends_with('/') {
            let body = &after[end_of_tag + 1..];
            let close = format!("</{name}>");
            let Some(close_at) = body.find(&close) else {
                rest = body;
                continue;
            };
            let inner = &body[..close_at];
            rest = &body[close_at + close.len()..];
            return Some(inner);
        }
        rest = &after[end_of_tag + 1..];
    })
}

fn xml_text(s: &str) -> String {
    s.trim()
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Applies vApp properties: every property is recorded; OVF conventions are honoured:
/// `user-data`/`guestinfo.userdata` (cloud-init, encoding per `guestinfo.userdata.encoding` or
/// auto-detected), `public-keys`/`guestinfo.public-keys`, `password`/`guestinfo.password` for the
/// user named by `user`/`username`/`guestinfo.user` (default [`DEFAULT_USER`]).
pub fn apply_vapp(
    plan: &mut BootstrapPlan,
    props: &[(String, String)],
) -> Result<(), BootstrapError> {
    plan.vapp_properties.extend(props.iter().cloned());
    let find = |keys: &[&str]| {
        props
            .iter()
            .find(|(k, _)| keys.iter().any(|want| k.eq_ignore_ascii_case(want)))
            .map(|(_, v)| v.clone())
    };
    if let Some(ud) = find(&[
        "user-data",
        "userdata",
        "guestinfo.userdata",
        "guestinfo.user-data",
    ]) {
        if !ud.trim().is_empty() {
            apply_cloud_init(plan, &decode_value(ud.as_bytes()))?;
        }
    }
    let user = find(&["user", "username", "guestinfo.user", "guestinfo.username"])
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_USER.to_string());
    let keys = find(&["public-keys", "guestinfo.public-keys", "ssh-public-keys"]);
    let password = find(&["password", "guestinfo.password", "default-password"]);
    if keys.is_some() || password.is_some() {
        let u = plan.user_mut(&user);
        if let Some(k) = keys {
            u.authorized_keys.extend(
                k.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            );
        }
        let has_password = password.as_deref().is_some_and(|p| !p.is_empty());
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            u.password = Some(p);
        }
        if u.sudo.is_none() {
            u.sudo = Some("ALL=(ALL) NOPASSWD:ALL".into());
        }
        if has_password {
            plan.ssh_pwauth = true;
        }
    }
    if let Some(h) = find(&["hostname", "guestinfo.hostname"]) {
        plan.hostname = Some(h);
    }
    Ok(())
}

fn yaml_str(v: &Yaml) -> Option<String> {
    match v {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Number(n) => Some(n.to_string()),
        Yaml::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn yaml_bool(v: &Yaml) -> Option<bool> {
    match v {
        Yaml::Bool(b) => Some(*b),
        Yaml::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Some(true),
            "false" | "no" | "off" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn string_list(v: Option<&Yaml>) -> Vec<String> {
    match v {
        Some(Yaml::Sequence(s)) => s.iter().filter_map(yaml_str).collect(),
        Some(Yaml::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Single-quotes a word for `sh -c`.
pub fn shell_quote(w: &str) -> String {
    if !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
    {
        return w.to_string();
    }
    format!("'{}'", w.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CC: &str = "#cloud-config\nssh_pwauth: true\nusers:\n  - default\n  - name: packer\n    plain_text_passwd: s3cret\n    lock_passwd: false\n    sudo: ALL=(ALL) NOPASSWD:ALL\n    shell: /bin/bash\n    ssh_authorized_keys:\n      - ssh-ed25519 AAAA test\n  - name: locked\n    passwd: x\nssh_authorized_keys: [ssh-ed25519 BBBB top]\nwrite_files:\n  - path: /etc/motd\n    content: aGVsbG8=\n    encoding: b64\n    permissions: '0600'\nruncmd:\n  - echo one\n  - [sh, -c, \"echo it's\"]\n";

    #[test]
    fn cloud_config_users_files_and_commands() {
        let mut p = BootstrapPlan::default();
        apply_cloud_init(&mut p, CC.as_bytes()).unwrap();
        assert!(p.ssh_pwauth);
        let packer = p.user("packer").unwrap();
        assert_eq!(packer.password.as_deref(), Some("s3cret"));
        assert_eq!(packer.authorized_keys, vec!["ssh-ed25519 AAAA test"]);
        assert_eq!(packer.shell.as_deref(), Some("/bin/bash"));
        assert_eq!(p.user("locked").unwrap().password, None);
        assert_eq!(
            p.user(DEFAULT_USER).unwrap().authorized_keys,
            vec!["ssh-ed25519 BBBB top"]
        );
        assert_eq!(p.write_files[0].content, b"hello");
        assert_eq!(p.write_files[0].permissions, Some(0o600));
        assert_eq!(p.runcmd, vec!["echo one", "sh -c 'echo it'\\''s'"]);
    }

    #[test]
    fn values_plain_base64_gzip() {
        use base64::Engine;
        use std::io::Write;
        let plain = b"#cloud-config\nusers: []\n";
        assert_eq!(decode_value(plain), plain);
        let b64 = base64::engine::general_purpose::STANDARD.encode(plain);
        assert_eq!(decode_value(b64.as_bytes()), plain);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(plain).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode_value(&gz), plain);
        let gzb64 = base64::engine::general_purpose::STANDARD.encode(&gz);
        assert_eq!(decode_value(gzb64.as_bytes()), plain);
    }

    #[test]
    fn sysprep_admin_and_local_accounts() {
        let xml = r#"<unattend><settings><component><UserAccounts>
          <AdministratorPassword><Value>P@ss&amp;1</Value><PlainText>true</PlainText></AdministratorPassword>
          <LocalAccounts><LocalAccount wcm:action="add"><Password><Value>UABhAHMAcwBQAGEAcwBzAHcAbwByAGQA</Value><PlainText>false</PlainText></Password><Name>builder</Name></LocalAccount></LocalAccounts>
        </UserAccounts></component></settings></unattend>"#;
        let mut p = BootstrapPlan::default();
        apply_sysprep(&mut p, xml.as_bytes());
        assert_eq!(
            p.user("Administrator").unwrap().password.as_deref(),
            Some("P@ss&1")
        );
        assert_eq!(p.user("builder").unwrap().password.as_deref(), Some("Pass"));
    }

    #[test]
    fn vapp_conventions() {
        let mut p = BootstrapPlan::default();
        apply_vapp(
            &mut p,
            &[
                ("password".into(), "pw".into()),
                ("public-keys".into(), "ssh-ed25519 CCCC k".into()),
                ("other".into(), "x".into()),
            ],
        )
        .unwrap();
        let u = p.user(DEFAULT_USER).unwrap();
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert_eq!(u.authorized_keys.len(), 1);
        assert_eq!(p.vapp_properties.len(), 3);
    }
}
