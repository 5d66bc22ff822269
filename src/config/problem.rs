//! Configuration problems, typed: the option (or key, or config element) they are about, what
//! kind of problem, and the message. Rendered in one place ([`Problem`]'s `Display`) as the
//! one line Packer shows.
use std::fmt;

use super::bounds::{cap_line, quote};

/// What is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A config element Packer sent that cannot be read (`configuration #N`).
    Malformed,
    /// A key that names no option; the message is a suggestion (or empty).
    UnknownKey,
    /// A value of the wrong type, or a template string that does not render.
    BadType,
    /// A value that breaks the option's rules (range, name, file, keyword...).
    Invalid,
    /// An option that must be set is not.
    Required,
    /// Options that cannot be used together.
    Conflict,
    /// An option this plugin refuses.
    Unsupported,
}

/// One problem; every problem names its option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The option, the unknown key, or the config element (`configuration #N`).
    pub option: String,
    pub kind: ProblemKind,
    /// What is wrong, without the option's name.
    pub message: String,
}

impl Problem {
    pub(crate) fn new(option: &str, kind: ProblemKind, message: impl Into<String>) -> Self {
        Problem {
            option: option.to_string(),
            kind,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(option: &str, message: impl Into<String>) -> Self {
        Problem::new(option, ProblemKind::Invalid, message)
    }

    /// The element at `index` of Packer's `Configs` cannot be read.
    pub(crate) fn malformed(index: usize, message: impl Into<String>) -> Self {
        Problem::new(
            &format!("configuration #{index}"),
            ProblemKind::Malformed,
            message,
        )
    }

    /// `key` names no option; `suggestion` is `"; did you mean ...?"` or empty.
    pub(crate) fn unknown_key(key: &str, suggestion: impl Into<String>) -> Self {
        Problem::new(key, ProblemKind::UnknownKey, suggestion)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = match self.kind {
            ProblemKind::UnknownKey => format!(
                "unknown configuration key: {}{}",
                quote(&self.option),
                self.message
            ),
            _ => format!("{}: {}", self.option, self.message),
        };
        f.write_str(&cap_line(line))
    }
}
