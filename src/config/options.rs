//! The builder's options, each declared once in [`table`]: its name, type, default (as the
//! reference page states it and as Prepare applies it), what the page says it does, and the
//! section of the page it belongs to.
//!
//! Everything else is derived from the table: the HCL2 spec Packer gets (`spec.rs`), the JSON
//! decoding and its unknown-key check (`raw.rs`), the defaults Prepare applies (`prepare/`), the
//! option tables of `docs/builder-reference.md` ([`render_group`], held to the page by a test),
//! and the name → effective value view of a prepared [`Config`] ([`OptionDef::effective`]).
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use super::names::Rule;
use super::Config;

mod table;

pub(crate) use table::GROUPS;

/// The wire type of one option: what the HCL2 spec declares and the JSON decoder expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Str,
    /// Whole numbers (cty `number`).
    Int,
    Bool,
    StrList,
    StrMap,
    /// Go `[]byte` fields of the SDK (`ssh_public_key`, `ssh_private_key`): cty `list(number)`.
    Bytes,
}

impl Kind {
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

/// An option's type as the reference page names it; strings come in three flavours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Type {
    Str,
    /// A file path (`~/` expands to the home directory).
    Path,
    /// A Go-syntax duration string (`"5m"`).
    Duration,
    Int,
    Bool,
    StrList,
    StrMap,
    Bytes,
}

impl Type {
    pub(crate) fn kind(self) -> Kind {
        match self {
            Type::Str | Type::Path | Type::Duration => Kind::Str,
            Type::Int => Kind::Int,
            Type::Bool => Kind::Bool,
            Type::StrList => Kind::StrList,
            Type::StrMap => Kind::StrMap,
            Type::Bytes => Kind::Bytes,
        }
    }

    /// The type column of the reference page.
    #[cfg(test)]
    pub(crate) fn doc(self) -> &'static str {
        match self {
            Type::Str => "string",
            Type::Path => "string (path)",
            Type::Duration => "duration",
            Type::Int => "number",
            Type::Bool => "bool",
            Type::StrList => "list of strings",
            Type::StrMap => "map of strings",
            Type::Bytes => "list of numbers",
        }
    }
}

/// What an option is when it is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Default {
    /// No value; the text says what that means (empty: the page shows `—`).
    Unset(&'static str),
    /// Prepare reports the option missing; the text says when (empty: always).
    Required(&'static str),
    Bool(bool),
    Int(i64),
    Str(&'static str),
    /// A duration, in seconds.
    Secs(u64),
    /// Worked out by Prepare from other options or the environment, as the text says.
    Derived(&'static str),
    /// An older name of another option: unset, it takes that option's value.
    AliasOf(&'static str),
}

impl Default {
    /// The default column of the reference page.
    #[cfg(test)]
    pub(crate) fn doc(self) -> String {
        match self {
            Default::Unset("") => "—".into(),
            Default::Unset(text) | Default::Derived(text) => text.into(),
            Default::Required("") => "— (**required**)".into(),
            Default::Required(when) => format!("— (**required** {when})"),
            Default::Bool(b) => format!("`{b}`"),
            Default::Int(i) => format!("`{i}`"),
            Default::Str(s) => format!("`{s}`"),
            Default::Secs(0) => "`0s`".into(),
            Default::Secs(s) => format!("`{}`", super::bounds::human(Duration::from_secs(s))),
            Default::AliasOf(other) => format!("`{other}`'s"),
        }
    }

    /// The value Prepare gives the option when it is not set, for the defaults it applies
    /// itself (`None` for required, derived and alias defaults).
    #[cfg(test)]
    pub(crate) fn value(self) -> Option<Value> {
        match self {
            Default::Unset(_) => Some(Value::Unset),
            Default::Bool(b) => Some(Value::Bool(b)),
            Default::Int(i) => Some(Value::Int(i)),
            Default::Str(s) => Some(Value::Str(s.into())),
            Default::Secs(s) => Some(Value::Duration(Duration::from_secs(s))),
            Default::Required(_) | Default::Derived(_) | Default::AliasOf(_) => None,
        }
    }
}

/// The values a number or duration option accepts (ports and key sizes have checks of their
/// own in Prepare).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    Any,
    /// A whole number from 0 to `max` (0: the default); `unit` names it in messages.
    Upto {
        max: i64,
        unit: &'static str,
    },
    /// A duration of at most this many seconds.
    AtMost(u64),
}

/// What Prepare does with an option's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// Used as the page describes.
    Used,
    /// Refused at Prepare, with this reason (one line), when set to anything but its off value
    /// (`false`, an empty list) and its communicator is selected.
    Rejected(&'static str),
    /// Set by Packer itself (`packer_*`, the SDK's in-memory key fields), never by users.
    Packer,
}

/// A section of the reference page, each with one table of options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Group {
    Connection,
    Source,
    Import,
    Waiting,
    Publishing,
    Communicator,
    Ssh,
    WinRm,
    Packer,
}

impl Group {
    /// The name in the page's `<!-- options: NAME -->` marker.
    #[cfg(test)]
    pub(crate) fn marker(self) -> &'static str {
        match self {
            Group::Connection => "connection",
            Group::Source => "source",
            Group::Import => "import",
            Group::Waiting => "waiting",
            Group::Publishing => "publishing",
            Group::Communicator => "communicator",
            Group::Ssh => "ssh",
            Group::WinRm => "winrm",
            Group::Packer => "packer",
        }
    }
}

/// An option's value in a prepared [`Config`], for comparing with its documented default.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// Not set (`None`, an empty list or map).
    Unset,
    Bool(bool),
    Int(i64),
    Str(String),
    Duration(Duration),
    List(Vec<String>),
    Map(BTreeMap<String, String>),
}

/// Conversion of a [`Config`] field to a [`Value`].
pub(crate) trait AsValue {
    fn value(&self) -> Value;
}

impl AsValue for bool {
    fn value(&self) -> Value {
        Value::Bool(*self)
    }
}
impl AsValue for u16 {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl AsValue for u32 {
    fn value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl AsValue for i64 {
    fn value(&self) -> Value {
        Value::Int(*self)
    }
}
impl AsValue for String {
    fn value(&self) -> Value {
        Value::Str(self.clone())
    }
}
impl AsValue for PathBuf {
    fn value(&self) -> Value {
        Value::Str(self.display().to_string())
    }
}
impl AsValue for Duration {
    fn value(&self) -> Value {
        Value::Duration(*self)
    }
}
impl<T: AsValue> AsValue for Vec<T> {
    fn value(&self) -> Value {
        if self.is_empty() {
            return Value::Unset;
        }
        Value::List(
            self.iter()
                .map(|v| match v.value() {
                    Value::Str(s) => s,
                    other => format!("{other:?}"),
                })
                .collect(),
        )
    }
}
impl AsValue for BTreeMap<String, String> {
    fn value(&self) -> Value {
        if self.is_empty() {
            Value::Unset
        } else {
            Value::Map(self.clone())
        }
    }
}
impl<T: AsValue> AsValue for Option<T> {
    fn value(&self) -> Value {
        self.as_ref().map_or(Value::Unset, AsValue::value)
    }
}

/// One option.
#[derive(Clone, Copy)]
pub(crate) struct OptionDef {
    pub name: &'static str,
    pub ty: Type,
    pub default: Default,
    /// The option's value in a prepared config (read by the defaults test).
    #[cfg_attr(not(test), allow(dead_code))]
    pub get: fn(&Config) -> Value,
    /// The description column of the reference page (Markdown, one line), which the
    /// reference-page test holds the page to.
    #[cfg_attr(not(test), allow(dead_code))]
    pub doc: &'static str,
    pub used: Use,
    /// `packer_template_path`: sent for JSON templates only, so not in the HCL2 spec.
    pub json_only: bool,
    /// A name, host, user name or keyword: leading or trailing whitespace is refused (paths,
    /// passwords, descriptions and certificates are taken as given).
    pub trimmed: bool,
    /// The Supervisor's naming rule the value follows, checked in Prepare.
    pub name_rule: Option<Rule>,
    /// The values a number or duration accepts; the page's description states it.
    pub range: Range,
}

impl std::fmt::Debug for OptionDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OptionDef")
            .field("name", &self.name)
            .finish()
    }
}

impl OptionDef {
    pub(crate) fn kind(&self) -> Kind {
        self.ty.kind()
    }
}

/// What the tests read: the effective value and the page's rendering.
#[cfg(test)]
impl OptionDef {
    /// The value Prepare put into `config` for this option.
    pub(crate) fn effective(&self, config: &Config) -> Value {
        (self.get)(config)
    }

    /// The description column: for a rejected option, the reason Prepare gives, then the doc.
    pub(crate) fn description(&self) -> String {
        match self.used {
            Use::Rejected(why) => {
                let when = if self.ty == Type::StrList {
                    "when not empty"
                } else {
                    "when `true`"
                };
                let rest = if self.doc.is_empty() {
                    String::new()
                } else {
                    format!(" {}", self.doc)
                };
                format!("**Rejected** at Prepare {when}: {why}.{rest}")
            }
            _ => self.doc.to_string(),
        }
    }

    /// This option's row of the reference page.
    fn row(&self, group: Group) -> String {
        if group == Group::Packer {
            format!(
                "| `{}` | {} | {} |",
                self.name,
                self.ty.doc(),
                self.description()
            )
        } else {
            format!(
                "| `{}` | {} | {} | {} |",
                self.name,
                self.ty.doc(),
                self.default.doc(),
                self.description()
            )
        }
    }
}

/// Constructor for the table: a used option.
pub(crate) const fn opt(
    name: &'static str,
    ty: Type,
    default: Default,
    get: fn(&Config) -> Value,
    doc: &'static str,
) -> OptionDef {
    OptionDef {
        name,
        ty,
        default,
        get,
        doc,
        used: Use::Used,
        json_only: false,
        trimmed: false,
        name_rule: None,
        range: Range::Any,
    }
}

impl OptionDef {
    /// Marks the option refused at Prepare with `why`.
    pub(crate) const fn rejected(mut self, why: &'static str) -> Self {
        self.used = Use::Rejected(why);
        self
    }

    /// Marks the option as Packer's own.
    pub(crate) const fn packer(mut self) -> Self {
        self.used = Use::Packer;
        self
    }

    /// Refuses stray whitespace in the value.
    pub(crate) const fn trimmed(mut self) -> Self {
        self.trimmed = true;
        self
    }

    /// Checks the value against a Supervisor naming rule (and refuses stray whitespace).
    pub(crate) const fn named(mut self, rule: Rule) -> Self {
        self.trimmed = true;
        self.name_rule = Some(rule);
        self
    }

    /// A whole number from 0 (the default) to `max`.
    pub(crate) const fn upto(mut self, max: i64, unit: &'static str) -> Self {
        self.range = Range::Upto { max, unit };
        self
    }

    /// A duration of at most `secs` seconds.
    pub(crate) const fn at_most(mut self, secs: u64) -> Self {
        self.range = Range::AtMost(secs);
        self
    }

    /// Marks the option as sent for JSON templates only.
    pub(crate) const fn json_only(mut self) -> Self {
        self.json_only = true;
        self
    }
}

/// Every option, in the page's order.
pub(crate) fn all() -> impl Iterator<Item = &'static OptionDef> {
    GROUPS.iter().flat_map(|(_, options)| options.iter())
}

/// The options of `group`, in the page's order.
pub(crate) fn group(group: Group) -> impl Iterator<Item = &'static OptionDef> {
    GROUPS
        .iter()
        .filter(move |(g, _)| *g == group)
        .flat_map(|(_, options)| options.iter())
}

/// The option named `name`, if there is one.
pub(crate) fn find(name: &str) -> Option<&'static OptionDef> {
    all().find(|o| o.name == name)
}

/// The option named `name`, which the code knows to exist.
///
/// # Panics
/// When the table has no such option: a typo in the code, caught by every test that prepares.
pub(crate) fn get(name: &str) -> &'static OptionDef {
    find(name).unwrap_or_else(|| panic!("{name} is not in the option table"))
}

/// The rejected options and their reasons.
pub(crate) fn rejected() -> impl Iterator<Item = (&'static OptionDef, &'static str)> {
    all().filter_map(|o| match o.used {
        Use::Rejected(why) => Some((o, why)),
        _ => None,
    })
}

#[cfg(test)]
/// The Markdown table of `group`, as `docs/builder-reference.md` holds it between
/// `<!-- options: NAME -->` and `<!-- /options -->`.
pub(crate) fn render_group(group: Group) -> String {
    let head = if group == Group::Packer {
        "| option | type | description |\n| --- | --- | --- |\n"
    } else {
        "| option | type | default | description |\n| --- | --- | --- | --- |\n"
    };
    let mut out = head.to_string();
    for o in self::group(group) {
        out.push_str(&o.row(group));
        out.push('\n');
    }
    out
}
