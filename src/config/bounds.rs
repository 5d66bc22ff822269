//! The range of every number and duration option, and how user values are quoted in errors.
//!
//! Every bound is a value the build can represent (deadlines are `Instant`s, TTLs int64
//! seconds) and a sane maximum for a build: nobody waits a week for a VM to boot, and a value
//! past the maximum is a typo (`36000` for `3600`) or an attempt to break the plugin. The
//! ranges are declared in the option table (`options/table.rs`), and a test checks that the
//! description of each option in `docs/builder-reference.md` states its range.
use std::time::Duration;

use super::options::{self, Range};

/// How many characters of a value an error quotes; the rest is cut (a 10 MB value is never
/// echoed whole).
pub(crate) const QUOTE_MAX: usize = 80;

/// The longest problem line Prepare reports, a safety net behind [`quote`].
pub(crate) const LINE_MAX: usize = 600;

/// A whole-number option's range; 0 means the default for all of them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntRange {
    pub min: i64,
    pub max: i64,
    /// "seconds", "attempts", ... for the message.
    pub unit: &'static str,
}

/// The range of a whole-number option (from the option table), `None` for the options not
/// bounded there (ports and key bits have checks of their own in Prepare).
pub(crate) fn int_range(key: &str) -> Option<IntRange> {
    match options::get(key).range {
        Range::Upto { max, unit } => Some(IntRange { min: 0, max, unit }),
        _ => None,
    }
}

/// The longest value a duration option accepts (from the option table).
///
/// # Panics
/// When the table declares no maximum for `key`: every duration option has one.
pub(crate) fn max_duration(key: &str) -> Duration {
    match options::get(key).range {
        Range::AtMost(secs) => Duration::from_secs(secs),
        other => panic!("option table: {key} is a duration without a maximum ({other:?})"),
    }
}

/// Checks `d` against the option's maximum; the error (without the option's name) quotes
/// the value as given.
pub(crate) fn check_duration(key: &str, given: &str, d: Duration) -> Result<(), String> {
    let max = max_duration(key);
    if d > max {
        return Err(format!(
            "at most {} is allowed, got {}",
            human(max),
            quote(given)
        ));
    }
    Ok(())
}

/// "24h", "1h", "90s": a bound as the user writes it.
pub(crate) fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s % 3_600 == 0 {
        format!("{}h", s / 3_600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A user value quoted for an error: Rust-escaped, at most [`QUOTE_MAX`] characters of it,
/// and the full length when cut.
pub(crate) fn quote(s: &str) -> String {
    let count = s.chars().count();
    if count <= QUOTE_MAX {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(QUOTE_MAX).collect();
    format!("{head:?}… ({count} characters)")
}

/// A number as short text: whole numbers that fit exactly as digits, anything else (1e300,
/// 0.5, NaN) in the shortest form Rust prints, never 301 digits.
pub(crate) fn number(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{f:.0}")
    } else if f.is_finite() && (f.abs() >= 1e15 || (f != 0.0 && f.abs() < 1e-4)) {
        format!("{f:e}")
    } else {
        format!("{f}")
    }
}

/// Makes a problem one line of at most [`LINE_MAX`] characters: control characters (a
/// newline in a path) are escaped and the rest is cut. A safety net: values are quoted short.
pub(crate) fn cap_line(p: String) -> String {
    let p = if p.chars().any(char::is_control) {
        p.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect()
    } else {
        p
    };
    if p.chars().count() <= LINE_MAX {
        return p;
    }
    let head: String = p.chars().take(LINE_MAX).collect();
    format!("{head}… (cut)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_short() {
        assert_eq!(quote("abc"), "\"abc\"");
        let big = "x".repeat(10 * 1024 * 1024);
        let q = quote(&big);
        assert!(q.len() < 120, "{q}");
        assert!(q.ends_with("… (10485760 characters)"), "{q}");
        assert_eq!(quote(&"é".repeat(81)).matches('é').count(), 80);
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(1e300), "1e300");
        assert_eq!(number(-1e300), "-1e300");
        assert_eq!(number(22.0), "22");
        assert_eq!(number(1.5), "1.5");
        assert_eq!(number(f64::NAN), "NaN");
        assert_eq!(number(f64::INFINITY), "inf");
        assert_eq!(number(1e-300), "1e-300");
    }

    #[test]
    fn durations_have_a_maximum() {
        assert!(check_duration("ssh_timeout", "24h", Duration::from_secs(86_400)).is_ok());
        assert_eq!(
            check_duration("ssh_timeout", "25h", Duration::from_secs(90_000)).unwrap_err(),
            "at most 24h is allowed, got \"25h\""
        );
        assert!(
            check_duration("ssh_keep_alive_interval", "2h", Duration::from_secs(7200)).is_err()
        );
        assert_eq!(human(Duration::from_secs(90)), "90s");
    }

    #[test]
    fn long_lines_are_cut() {
        assert_eq!(cap_line("short".into()), "short");
        assert!(cap_line("y".repeat(5000)).chars().count() < LINE_MAX + 10);
        assert_eq!(cap_line("a: file x\ny".into()), "a: file x\\ny");
    }
}
