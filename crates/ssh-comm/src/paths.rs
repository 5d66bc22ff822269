//! Remote path handling, shell quoting and exclude patterns shared by scp and sftp.

/// Quotes `s` for a POSIX shell (the remote login shell runs our scp commands).
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:@,%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Splits a remote file path into (directory, file name); `"f"` → `(".", "f")`.
pub fn split_remote(path: &str) -> (String, String) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/".to_string(), trimmed[1..].to_string()),
        Some(i) => (trimmed[..i].to_string(), trimmed[i + 1..].to_string()),
        None => (".".to_string(), trimmed.to_string()),
    }
}

/// Joins remote path parts with `/`.
pub fn join_remote(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else if dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Whether `rel` (a `/`-separated path relative to the transferred directory's root) is
/// excluded. A pattern containing `/` is matched against the whole relative path, one without
/// against every path component, so `*.log` excludes log files at any depth and `build`
/// excludes every directory or file named `build`. `*` and `?` never match `/`; an excluded
/// directory excludes everything below it.
pub fn is_excluded(rel: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        let p = p.trim_start_matches("./").trim_end_matches('/');
        if p.is_empty() {
            return false;
        }
        if p.contains('/') {
            // The path or any ancestor of it.
            let mut end = rel.len();
            loop {
                if glob(p.as_bytes(), &rel.as_bytes()[..end]) {
                    return true;
                }
                match rel[..end].rfind('/') {
                    Some(i) => end = i,
                    None => return false,
                }
            }
        } else {
            rel.split('/').any(|c| glob(p.as_bytes(), c.as_bytes()))
        }
    })
}

/// The path of `name`, an entry of the directory at `rel`, relative to the transferred
/// directory's root; `None` when `patterns` exclude it.
pub fn included_child(rel: &str, name: &str, patterns: &[String]) -> Option<String> {
    let child = if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    };
    (!is_excluded(&child, patterns)).then_some(child)
}

/// A remote directory to download: its path without trailing `/` (`/` for the root), and
/// whether only its contents are meant (the rsync rule: `src` ends with `/`).
pub fn dir_source(src: &str) -> (&str, bool) {
    let trimmed = src.trim_end_matches('/');
    let path = if trimmed.is_empty() { "/" } else { trimmed };
    (path, src.ends_with('/'))
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    // Iterative matcher with single-star backtracking: linear in practice, no recursion depth.
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        match p.get(pi) {
            Some(b'*') => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some(b'?') if s[si] != b'/' => {
                pi += 1;
                si += 1;
                continue;
            }
            Some(&c) if c == s[si] && c != b'*' && c != b'?' => {
                pi += 1;
                si += 1;
                continue;
            }
            _ => {}
        }
        match star {
            Some((sp, ss)) if s[ss] != b'/' => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            _ => return false,
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("/tmp/a.txt"), "/tmp/a.txt");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("$(rm -rf /)"), "'$(rm -rf /)'");
    }

    #[test]
    fn splitting() {
        assert_eq!(split_remote("/tmp/x"), ("/tmp".into(), "x".into()));
        assert_eq!(split_remote("/x"), ("/".into(), "x".into()));
        assert_eq!(split_remote("x"), (".".into(), "x".into()));
        assert_eq!(split_remote("a/b/c"), ("a/b".into(), "c".into()));
        assert_eq!(join_remote("/", "x"), "/x");
        assert_eq!(join_remote("a", "x"), "a/x");
    }

    #[test]
    fn excludes() {
        let pats = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_excluded("a/b/x.log", &pats(&["*.log"])));
        assert!(!is_excluded("a/b/x.txt", &pats(&["*.log"])));
        assert!(is_excluded("build/out/x", &pats(&["build"])));
        assert!(is_excluded("a/skip/x", &pats(&["a/skip"])));
        assert!(!is_excluded("b/a/skip/x", &pats(&["a/skip"])));
        assert!(is_excluded("a/s1/x", &pats(&["a/s?"])));
        assert!(!is_excluded("ab", &pats(&["a"])));
        assert!(!is_excluded("a/b", &pats(&["a*b"])));
        assert!(is_excluded("axxb", &pats(&["a*b"])));
        assert!(is_excluded("x", &pats(&["*"])));
        assert!(!is_excluded("x", &pats(&[""])));
        assert!(is_excluded("dir/sub", &pats(&["dir/"])));
    }

    #[test]
    fn children_and_directory_sources() {
        let ex = vec!["*.log".to_string()];
        assert_eq!(included_child("", "a", &ex).as_deref(), Some("a"));
        assert_eq!(included_child("a/b", "c", &ex).as_deref(), Some("a/b/c"));
        assert_eq!(included_child("a", "x.log", &ex), None);
        assert_eq!(dir_source("/srv/d/"), ("/srv/d", true));
        assert_eq!(dir_source("d"), ("d", false));
        assert_eq!(dir_source("/"), ("/", true));
    }
}
