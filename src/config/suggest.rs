//! Suggestions for near misses: a value in the wrong case, a misspelt option name.

/// "; did you mean X?" when `got` differs from a valid value only by case.
pub(crate) fn suggest_case(got: &str, valid: &[&str]) -> String {
    valid
        .iter()
        .find(|v| v.eq_ignore_ascii_case(got))
        .map(|v| format!("; did you mean {v:?}? (values are case-sensitive)"))
        .unwrap_or_default()
}

/// The closest known name within a small edit distance, for typos in keys.
pub(crate) fn suggest<'a>(got: &str, names: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    names
        .filter(|n| !n.starts_with("packer_"))
        .map(|n| (edit_distance(got, n), n))
        .filter(|(d, n)| *d <= 2.max(n.len() / 6))
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let subst = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = subst.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
