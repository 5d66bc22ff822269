//! Typed reads of single options with the table's defaults: the one place defaults are applied.
//! Unset, empty and (for numbers and durations) zero mean the default.
use std::time::Duration;

use super::super::bounds::{self, quote};
use super::super::options::{self, Default};
use super::super::suggest::suggest_case;
use super::super::{duration, Keyword};
use super::Preparer;

/// `key`'s default from the table, which the code reading it knows to be of this shape.
fn default_of(key: &str) -> Default {
    options::get(key).default
}

fn table_error(key: &str, what: &str) -> ! {
    panic!("option table: the default of {key} is not {what}")
}

/// `"a", "b" or "c"`.
fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.join(""),
    }
}

impl Preparer<'_> {
    /// A string option: its value, else its default (empty for a required option).
    pub(super) fn text(&mut self, key: &str) -> String {
        self.d
            .non_empty(key)
            .unwrap_or_else(|| match default_of(key) {
                Default::Str(s) => s.to_string(),
                Default::Required(_) => String::new(),
                _ => table_error(key, "a string"),
            })
    }

    /// A bool option: its value, else its default.
    pub(super) fn flag(&mut self, key: &str) -> bool {
        self.d.bool(key).unwrap_or_else(|| match default_of(key) {
            Default::Bool(b) => b,
            _ => table_error(key, "a bool"),
        })
    }

    fn int_default(key: &str) -> i64 {
        match default_of(key) {
            Default::Int(i) => i,
            _ => table_error(key, "a number"),
        }
    }

    /// A keyword option (`communicator = "ssh"`): its value, else its default; an unknown
    /// word is reported (`unknown {noun} "x"; use ...`) and gives the default.
    pub(super) fn keyword<K: Keyword>(&mut self, key: &str, noun: &str) -> K {
        let default = match default_of(key) {
            Default::Str(s) => K::parse(s).unwrap_or_else(|| table_error(key, "a keyword")),
            _ => table_error(key, "a keyword"),
        };
        let Some(given) = self.d.non_empty(key) else {
            return default;
        };
        if let Some(value) = K::parse(&given) {
            return value;
        }
        let names: Vec<&str> = K::ALL.iter().map(|k| k.name()).collect();
        let hint = suggest_case(&given, &names);
        self.invalid(
            key,
            format!(
                "unknown {noun} {}; use {}{hint}",
                quote(&given),
                one_of(&names)
            ),
        );
        default
    }

    /// A whole-number option within its range (`bounds::int_range`); 0 or unset gives `None`
    /// (the default), out of range is an error.
    pub(super) fn bounded(&mut self, key: &str) -> Option<i64> {
        let v = self.d.int(key)?;
        let range = bounds::int_range(key)?;
        if v < range.min {
            let default = Self::int_default(key);
            let msg = format!(
                "must not be negative, got {} (0 means the default, {default})",
                self.d.shown(key)
            );
            self.invalid(key, msg);
            return None;
        }
        if v > range.max {
            let msg = format!(
                "must be at most {} {}, got {}",
                range.max,
                range.unit,
                self.d.shown(key)
            );
            self.invalid(key, msg);
            return None;
        }
        (v != 0).then_some(v)
    }

    /// A bounded count: its value, else its default.
    pub(super) fn count(&mut self, key: &str) -> u32 {
        self.bounded(key)
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or_else(|| u32::try_from(Self::int_default(key)).unwrap_or(0))
    }

    /// A `*_sec` timeout: 0 or unset means the default, negative or past the maximum is an
    /// error.
    pub(super) fn secs(&mut self, key: &str) -> Duration {
        let v = self.bounded(key).unwrap_or_else(|| Self::int_default(key));
        Duration::from_secs(v.unsigned_abs())
    }

    /// A Go-syntax duration: unset or zero means the default, negative is an error unless
    /// `negative_disables` (then it yields zero).
    pub(super) fn duration(&mut self, key: &str, negative_disables: bool) -> Duration {
        let default = match default_of(key) {
            Default::Secs(s) => Duration::from_secs(s),
            Default::AliasOf(other) => return self.alias_duration(key, other, negative_disables),
            _ => table_error(key, "a duration"),
        };
        self.duration_or(key, default, negative_disables)
    }

    /// An older name of the duration `target`: `target` wins when both are set; the alias is
    /// still type-checked.
    fn alias_duration(&mut self, key: &str, target: &str, negative_disables: bool) -> Duration {
        if self.d.non_empty(target).is_some() {
            let value = self.duration(target, negative_disables);
            let _ = self.duration_or(key, Duration::ZERO, negative_disables);
            return value;
        }
        let default = match default_of(target) {
            Default::Secs(s) => Duration::from_secs(s),
            _ => table_error(target, "a duration"),
        };
        self.duration_or(key, default, negative_disables)
    }

    fn duration_or(&mut self, key: &str, default: Duration, negative_disables: bool) -> Duration {
        let Some(s) = self.d.non_empty(key) else {
            return default;
        };
        match duration::parse(s.trim()) {
            Err(e) => {
                self.invalid(key, e);
                default
            }
            Ok(d) if d.negative && !d.value.is_zero() => {
                if negative_disables {
                    Duration::ZERO
                } else {
                    self.invalid(key, format!("must not be negative, got {}", quote(&s)));
                    default
                }
            }
            Ok(d) if d.value.is_zero() => default,
            Ok(d) => match bounds::check_duration(key, &s, d.value) {
                Ok(()) => d.value,
                Err(e) => {
                    self.invalid(key, e);
                    default
                }
            },
        }
    }

    /// A port option: its value, else its default from the table.
    pub(super) fn port(&mut self, key: &str) -> u16 {
        let default = u16::try_from(Self::int_default(key)).unwrap_or(0);
        self.port_or(key, default)
    }

    /// A port option whose default Prepare works out (`winrm_port`).
    pub(super) fn port_or(&mut self, key: &str, default: u16) -> u16 {
        match self.d.int(key) {
            None | Some(0) => default,
            Some(v) => u16::try_from(v).unwrap_or_else(|_| {
                let msg = format!(
                    "must be a port number between 1 and 65535, got {}",
                    self.d.shown(key)
                );
                self.invalid(key, msg);
                default
            }),
        }
    }
}
