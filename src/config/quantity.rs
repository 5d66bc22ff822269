//! Kubernetes resource quantities ("20Gi", "500M", "1.5Ti", "1e9"), as the API server parses
//! them, so a bad `iso_boot_disk_size` is caught in Prepare instead of at PVC creation.

/// Parses a quantity and returns its value in bytes (rounded down), or why it is invalid.
pub(crate) fn parse_bytes(s: &str) -> Result<f64, String> {
    let bad = |why: &str| {
        format!(
            "{} is not a valid Kubernetes quantity ({why}); use e.g. \"20Gi\" or \"40G\"",
            super::bounds::quote(s)
        )
    };
    let (sign, body) = match s.as_bytes().first() {
        Some(b'-') => (-1.0, &s[1..]),
        Some(b'+') => (1.0, &s[1..]),
        _ => (1.0, s),
    };
    let num_len = body
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    let (number, suffix) = body.split_at(num_len);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(bad("expected a number"));
    }
    let value: f64 = number.parse().map_err(|_| bad("expected a number"))?;
    let multiplier = match suffix {
        "" => 1.0,
        "Ki" => 1024f64,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        other => {
            let exp = other.strip_prefix('e').or_else(|| other.strip_prefix('E'));
            match exp {
                Some(e) if !e.is_empty() => {
                    let digits = e.strip_prefix(['+', '-']).unwrap_or(e);
                    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(bad("bad exponent"));
                    }
                    let e: i32 = e.parse().map_err(|_| bad("bad exponent"))?;
                    10f64.powi(e)
                }
                _ => {
                    return Err(bad(&format!(
                        "unknown suffix {}",
                        super::bounds::quote(other)
                    )))
                }
            }
        }
    };
    Ok(sign * value * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binary_decimal_and_exponent_forms() {
        assert_eq!(parse_bytes("20Gi"), Ok(20.0 * 1024.0 * 1024.0 * 1024.0));
        assert_eq!(parse_bytes("500M"), Ok(5e8));
        assert_eq!(parse_bytes("1.5Ki"), Ok(1536.0));
        assert_eq!(parse_bytes("1e9"), Ok(1e9));
        assert_eq!(parse_bytes("1E+3"), Ok(1e3));
        assert_eq!(parse_bytes("1024"), Ok(1024.0));
        assert_eq!(parse_bytes("-1Gi"), Ok(-1024.0 * 1024.0 * 1024.0));
    }

    #[test]
    fn rejects_garbage() {
        for s in [
            "", "Gi", "20GB", "20 Gi", "twenty", "1.2.3Gi", "20gi", "1e", "1e+",
        ] {
            assert!(parse_bytes(s).is_err(), "{s:?}");
        }
        assert!(parse_bytes("20GB")
            .unwrap_err()
            .contains("unknown suffix \"GB\""));
    }
}
