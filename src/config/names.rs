//! Names checked the way the Supervisor will check them, so a bad one stops `packer validate`
//! instead of the build: Kubernetes object names (DNS-1123 subdomains and labels), content
//! library item names, and no stray whitespace in names, hosts and keywords. Which option
//! follows which rule is declared in the option table (`options/table.rs`).
use super::bounds::quote;

/// Which naming rule an option's value follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// A namespace or label: at most 63 characters, no dots.
    Label,
    /// A Kubernetes object name: dot-separated labels, at most 253 characters.
    Subdomain,
    /// A vSphere content library item name: 1 to 80 characters, no control characters.
    LibraryItem,
    /// `image_name`: an object name when it looks like one (`vmi-…`, `cvmi-…`), else a
    /// display name, checked as a library item name.
    ImageName,
}

/// Whitespace problems of `value`, as a message without the option name.
pub(crate) fn padding(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err(format!("{} is only whitespace", quote(value)));
    }
    if value.trim() != value {
        return Err(format!(
            "{} has leading or trailing whitespace; remove it",
            quote(value)
        ));
    }
    Ok(())
}

/// Checks `value` against `rule`; the message names the value and what is wrong.
pub(crate) fn check(rule: Rule, value: &str) -> Result<(), String> {
    let result = match rule {
        Rule::Label => dns1123_label(value, 63),
        Rule::Subdomain => dns1123_subdomain(value),
        Rule::LibraryItem => library_item(value),
        Rule::ImageName if value.starts_with("vmi-") || value.starts_with("cvmi-") => {
            dns1123_subdomain(value)
        }
        Rule::ImageName => library_item(value),
    };
    result.map_err(|why| format!("{} is not a valid name: {why}", quote(value)))
}

/// Checks a DNS-1123 label: lowercase letters, digits and '-', starting and ending with an
/// alphanumeric, at most `max` characters.
pub(crate) fn dns1123_label(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("it is empty".into());
    }
    if s.len() > max {
        return Err(format!("longer than {max} characters"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "{c:?} is not allowed (use lowercase letters, digits and '-')"
        ));
    }
    if s.starts_with('-') || s.ends_with('-') {
        return Err("it must start and end with a letter or digit".into());
    }
    Ok(())
}

/// A DNS-1123 subdomain (Kubernetes object names): dot-separated labels, at most 253 characters.
pub(crate) fn dns1123_subdomain(s: &str) -> Result<(), String> {
    if s.len() > 253 {
        return Err("longer than 253 characters".into());
    }
    s.split('.').try_for_each(|label| dns1123_label(label, 63))
}

/// A content library item name: what vSphere accepts as an item's name.
fn library_item(s: &str) -> Result<(), String> {
    let count = s.chars().count();
    if count == 0 {
        return Err("it is empty".into());
    }
    if count > 80 {
        return Err(format!(
            "{count} characters long; at most 80 are allowed (content library item names)"
        ));
    }
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!("control character {c:?} is not allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_refused() {
        assert!(padding("x").is_ok());
        assert_eq!(padding("   ").unwrap_err(), "\"   \" is only whitespace");
        assert!(padding(" x").unwrap_err().contains("leading or trailing"));
        assert!(padding("x\n").is_err());
    }

    #[test]
    fn object_names_follow_dns1123() {
        assert!(check(Rule::Subdomain, "best-effort-small").is_ok());
        assert!(check(Rule::Subdomain, "a.b-c.d").is_ok());
        let e = check(Rule::Subdomain, "Best_Effort").unwrap_err();
        assert!(
            e.starts_with("\"Best_Effort\" is not a valid name: 'B'"),
            "{e}"
        );
        assert!(check(Rule::Subdomain, &"a".repeat(254)).is_err());
        assert!(check(Rule::Subdomain, "a..b").is_err());
        assert!(check(Rule::Label, "a.b").is_err());
        assert!(check(Rule::Label, &"a".repeat(64)).is_err());
    }

    #[test]
    fn image_names_are_object_or_display_names() {
        assert!(check(Rule::ImageName, "vmi-0123456789abcdef0").is_ok());
        assert!(check(Rule::ImageName, "vmi-ABC").is_err());
        assert!(check(Rule::ImageName, "Ubuntu 24.04 LTS").is_ok());
        assert!(check(Rule::ImageName, "bad\u{7}name").is_err());
        assert!(check(Rule::LibraryItem, &"n".repeat(81)).is_err());
        assert!(check(Rule::LibraryItem, &"n".repeat(80)).is_ok());
    }
}
