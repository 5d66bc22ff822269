//! Go duration syntax (`time.ParseDuration`): "5m", "1h30m", "10s", "500ms", "1.5h", "-2s".
//!
//! Written to accept exactly what Go accepts, because users copy values from templates of
//! other builders: a sequence of decimal numbers (optional fraction) each followed by a unit
//! `ns`, `us` (`µs`, `μs`), `ms`, `s`, `m`, `h`; an optional leading sign; a bare `0`.
use std::time::Duration;

use super::bounds::quote;

/// A parsed duration, keeping the sign so callers can reject negative values by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GoDuration {
    pub negative: bool,
    pub value: Duration,
}

const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("μs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60 * 1_000_000_000),
    ("h", 3_600 * 1_000_000_000),
];

/// Go caps durations at i64 nanoseconds (about 292 years).
const MAX_NANOS: u128 = i64::MAX as u128;

fn invalid(s: &str) -> String {
    format!(
        "invalid duration {} (use Go syntax such as \"90s\", \"5m\" or \"1h30m\")",
        quote(s)
    )
}

/// Parses `s`; the error text explains what is wrong, without the option name.
pub(crate) fn parse(s: &str) -> Result<GoDuration, String> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok(GoDuration {
            negative,
            value: Duration::ZERO,
        });
    }
    if rest.is_empty() {
        return Err(invalid(s));
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (nanos, after) = term(rest, s)?;
        total = total.checked_add(nanos).ok_or_else(|| invalid(s))?;
        if total > MAX_NANOS {
            return Err(format!("invalid duration {}: too large", quote(s)));
        }
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| invalid(s))?;
    let sub = u32::try_from(total % 1_000_000_000).map_err(|_| invalid(s))?;
    Ok(GoDuration {
        negative,
        value: Duration::new(secs, sub),
    })
}

/// One `<number><unit>` term at the start of `rest` (of the whole value `s`, for messages):
/// its nanoseconds and what follows it.
fn term<'a>(rest: &'a str, s: &str) -> Result<(u128, &'a str), String> {
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (int_part, after_int) = rest.split_at(int_len);
    let (frac_part, after_num) = match after_int.strip_prefix('.') {
        Some(f) => {
            let n = f.bytes().take_while(u8::is_ascii_digit).count();
            f.split_at(n)
        }
        None => ("", after_int),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(invalid(s));
    }
    let unit_len = after_num
        .char_indices()
        .find(|(_, c)| c.is_ascii_digit() || *c == '.')
        .map_or(after_num.len(), |(i, _)| i);
    let (unit, after_unit) = after_num.split_at(unit_len);
    let scale = unit_scale(unit, s)?;
    let int_value: u128 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| invalid(s))?
    };
    let mut nanos = int_value.checked_mul(scale).ok_or_else(|| invalid(s))?;
    // Fraction digits beyond nanosecond precision are dropped, as Go does.
    let mut frac_scale = scale;
    for digit in frac_part.bytes() {
        frac_scale /= 10;
        if frac_scale == 0 {
            break;
        }
        nanos += u128::from(digit - b'0') * frac_scale;
    }
    Ok((nanos, after_unit))
}

/// Nanoseconds per `unit`.
fn unit_scale(unit: &str, s: &str) -> Result<u128, String> {
    if let Some(&(_, scale)) = UNITS.iter().find(|(u, _)| *u == unit) {
        return Ok(scale);
    }
    Err(if unit.is_empty() {
        format!(
            "invalid duration {}: missing unit (use ns, us, ms, s, m or h)",
            quote(s)
        )
    } else {
        format!(
            "invalid duration {}: unknown unit {} (use ns, us, ms, s, m or h)",
            quote(s),
            quote(unit)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Duration {
        let d = parse(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert!(!d.negative, "{s}");
        d.value
    }

    #[test]
    fn accepts_go_syntax() {
        assert_eq!(ok("5m"), Duration::from_secs(300));
        assert_eq!(ok("1h30m"), Duration::from_secs(5400));
        assert_eq!(ok("10s"), Duration::from_secs(10));
        assert_eq!(ok("500ms"), Duration::from_millis(500));
        assert_eq!(ok("1.5h"), Duration::from_secs(5400));
        assert_eq!(ok(".5s"), Duration::from_millis(500));
        assert_eq!(ok("1s500ms"), Duration::from_millis(1500));
        assert_eq!(ok("2us"), Duration::from_micros(2));
        assert_eq!(ok("2µs"), Duration::from_micros(2));
        assert_eq!(ok("3ns"), Duration::from_nanos(3));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("+0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("1h1m1s"), Duration::from_secs(3661));
    }

    #[test]
    fn keeps_the_sign() {
        let d = parse("-2s").expect("valid");
        assert!(d.negative);
        assert_eq!(d.value, Duration::from_secs(2));
    }

    #[test]
    fn rejects_non_go_syntax() {
        for s in [
            "",
            "5",
            "5 minutes",
            "5min",
            "m",
            "1h 30m",
            "-",
            ".s",
            "1.2.3s",
            "5M",
            "3d",
            "abc",
        ] {
            assert!(parse(s).is_err(), "{s:?} should be rejected");
        }
        assert!(parse("5").unwrap_err().contains("missing unit"));
        assert!(parse("3d").unwrap_err().contains("unknown unit \"d\""));
        assert!(parse("99999999999h").unwrap_err().contains("too large"));
    }
}
