//! Offline kubeconfig checks done in Prepare: the files exist, parse, and name the context
//! the build will use. No API call is made (the Supervisor may not be reachable from where
//! `packer validate` runs).
//!
//! Several files (a `KUBECONFIG` list) are merged the way kubectl merges them: for clusters,
//! contexts and users the first file that defines a name wins, and `current-context` comes from
//! the first file that sets it.
//!
//! The TLS material of the context's cluster and user is parsed too (CA, client certificate,
//! client key; `tls.rs`), and TLS verification turned off gives a warning.
use std::path::{Path, PathBuf};

use serde_yaml::Value as Yaml;

use super::files;
use super::problem::Problem;

/// What Prepare learned from the kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KubeconfigSummary {
    /// The files that exist (in order); missing entries of a `KUBECONFIG` list are skipped.
    pub files: Vec<PathBuf>,
    /// The context that will be used.
    pub context: String,
    /// That context's namespace, if it sets one.
    pub namespace: Option<String>,
    /// What Prepare should warn about (TLS verification off).
    pub warnings: Vec<String>,
}

/// One context: its cluster, user and namespace references.
struct ContextRef {
    name: String,
    cluster: Option<String>,
    user: Option<String>,
    namespace: Option<String>,
}

/// A cluster or user entry: its name, its body, and the file it came from (relative paths in
/// it are relative to that file's directory, as kubectl reads them).
pub(crate) struct Named {
    pub name: String,
    pub body: Yaml,
    pub file: PathBuf,
}

#[derive(Default)]
struct Merged {
    current_context: Option<String>,
    contexts: Vec<ContextRef>,
    clusters: Vec<Named>,
    users: Vec<Named>,
}

fn str_field<'a>(map: &'a Yaml, key: &str) -> Option<&'a str> {
    map.get(key).and_then(Yaml::as_str)
}

/// Reads one file into `merged`; returns a problem description on failure.
fn merge_file(path: &Path, merged: &mut Merged) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let invalid = |why: String| format!("{} is not a valid kubeconfig: {why}", path.display());
    let doc: Yaml = serde_yaml::from_str(&text).map_err(|e| invalid(e.to_string()))?;
    if doc.is_null() {
        // kubectl treats an empty file as an empty config.
        return Ok(());
    }
    if !doc.is_mapping() {
        return Err(invalid("the document is not a YAML map".into()));
    }
    if !["clusters", "contexts", "users", "current-context"]
        .iter()
        .any(|k| doc.get(k).is_some())
    {
        return Err(invalid(
            "it has none of clusters, contexts, users, current-context".into(),
        ));
    }
    if merged.current_context.is_none() {
        if let Some(cur) = str_field(&doc, "current-context").filter(|c| !c.is_empty()) {
            merged.current_context = Some(cur.to_string());
        }
    }
    let list = |key: &str| -> Result<Vec<Yaml>, String> {
        match doc.get(key) {
            None | Some(Yaml::Null) => Ok(Vec::new()),
            Some(Yaml::Sequence(items)) => Ok(items.clone()),
            Some(_) => Err(invalid(format!("{key} is not a list"))),
        }
    };
    for (key, what, into) in [
        ("clusters", "cluster", &mut merged.clusters),
        ("users", "user", &mut merged.users),
    ] {
        for item in list(key)? {
            let name =
                str_field(&item, "name").ok_or_else(|| invalid(format!("a {what} has no name")))?;
            if !into.iter().any(|n| n.name == name) {
                into.push(Named {
                    name: name.to_string(),
                    body: item.get(what).cloned().unwrap_or(Yaml::Null),
                    file: path.to_path_buf(),
                });
            }
        }
    }
    for item in list("contexts")? {
        let name =
            str_field(&item, "name").ok_or_else(|| invalid("a context has no name".into()))?;
        let ctx = item.get("context");
        let field = |k: &str| {
            ctx.and_then(|c| str_field(c, k))
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        if !merged.contexts.iter().any(|c| c.name == name) {
            merged.contexts.push(ContextRef {
                name: name.to_string(),
                cluster: field("cluster"),
                user: field("user"),
                namespace: field("namespace"),
            });
        }
    }
    Ok(())
}

/// The option a kubeconfig problem is reported under, unless it is about the context named by
/// `kubeconfig_context`.
const PATH: &str = "kubeconfig_path";

fn problems(messages: Vec<String>) -> Vec<Problem> {
    messages
        .into_iter()
        .map(|m| Problem::invalid(PATH, m))
        .collect()
}

/// Checks the kubeconfig files (missing ones are skipped; at least one must exist) and the
/// context: it exists and names a defined cluster (with a server and sound TLS material) and
/// user. Every problem names `kubeconfig_path` or, for an unknown context it names,
/// `kubeconfig_context`.
pub(crate) fn check(
    paths: &[PathBuf],
    context: Option<&str>,
) -> Result<KubeconfigSummary, Vec<Problem>> {
    let (merged, files) = read_all(paths)?;
    let chosen = pick_context(&merged, context)?;
    let warnings = check_references(&merged, chosen).map_err(problems)?;
    Ok(KubeconfigSummary {
        files,
        context: chosen.name.clone(),
        namespace: chosen.namespace.clone(),
        warnings,
    })
}

/// Reads and merges the files that exist, in order; returns them with the merged config.
fn read_all(paths: &[PathBuf]) -> Result<(Merged, Vec<PathBuf>), Vec<Problem>> {
    let mut merged = Merged::default();
    let mut files = Vec::new();
    let mut failures = Vec::new();
    for path in paths {
        match files::not_a_file(path) {
            // kubectl skips the missing entries of a KUBECONFIG list.
            Some(_) if !path.exists() => continue,
            Some(why) => {
                failures.push(why);
                continue;
            }
            None => {}
        }
        match merge_file(path, &mut merged) {
            Ok(()) => files.push(path.clone()),
            Err(e) => failures.push(e),
        }
    }
    if files.is_empty() && failures.is_empty() {
        let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        failures.push(if list.len() == 1 {
            format!("kubeconfig file {} not found", list.join(""))
        } else {
            format!("no kubeconfig file found (looked for {})", list.join(", "))
        });
    }
    if failures.is_empty() {
        Ok((merged, files))
    } else {
        Err(problems(failures))
    }
}

/// The context to use: `kubeconfig_context`, else the kubeconfig's current context.
fn pick_context<'a>(
    merged: &'a Merged,
    context: Option<&str>,
) -> Result<&'a ContextRef, Vec<Problem>> {
    let available = || {
        let names: Vec<&str> = merged.contexts.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            "it defines no contexts".to_string()
        } else {
            format!("available: {}", names.join(", "))
        }
    };
    let (wanted, from_option) = match (context, merged.current_context.as_deref()) {
        (Some(c), _) => (c, true),
        (None, Some(c)) => (c, false),
        (None, None) => {
            return Err(problems(vec![format!(
                "the kubeconfig sets no current-context; set kubeconfig_context ({})",
                available()
            )]))
        }
    };
    if let Some(found) = merged.contexts.iter().find(|c| c.name == wanted) {
        return Ok(found);
    }
    let not_found = format!(
        "context {wanted:?} not found in the kubeconfig ({})",
        available()
    );
    Err(vec![if from_option {
        Problem::invalid("kubeconfig_context", not_found)
    } else {
        Problem::invalid(
            PATH,
            format!("the kubeconfig's current-context: {not_found}"),
        )
    }])
}

/// The context's cluster and user exist and are sound; returns the warnings (TLS off).
fn check_references(merged: &Merged, context: &ContextRef) -> Result<Vec<String>, Vec<String>> {
    let wanted = &context.name;
    let mut problems = Vec::new();
    let mut warnings = Vec::new();
    match &context.cluster {
        None => problems.push(format!("kubeconfig context {wanted:?} names no cluster")),
        Some(c) => match merged.clusters.iter().find(|n| &n.name == c) {
            None => problems.push(format!(
                "kubeconfig context {wanted:?} refers to cluster {c:?}, which is not defined"
            )),
            Some(n) if str_field(&n.body, "server").is_none() => {
                problems.push(format!("kubeconfig cluster {c:?} has no server address"))
            }
            Some(n) => {
                problems.extend(super::tls::cluster(n));
                warnings.extend(super::tls::insecure_warning(n));
            }
        },
    }
    if let Some(u) = &context.user {
        match merged.users.iter().find(|n| &n.name == u) {
            None => problems.push(format!(
                "kubeconfig context {wanted:?} refers to user {u:?}, which is not defined"
            )),
            Some(n) => problems.extend(super::tls::user(n)),
        }
    }
    if problems.is_empty() {
        Ok(warnings)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`super::check`] with its problems as the lines Prepare reports.
    fn check(paths: &[PathBuf], context: Option<&str>) -> Result<KubeconfigSummary, Vec<String>> {
        super::check(paths, context).map_err(|e| e.iter().map(ToString::to_string).collect())
    }

    const GOOD: &str = "apiVersion: v1\nkind: Config\ncurrent-context: sim\nclusters:\n- name: sim\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: sim\n  context:\n    cluster: sim\n    user: u\n    namespace: demo\n- name: other\n  context:\n    cluster: sim\n    user: u\nusers:\n- name: u\n  user:\n    token: t\n";

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    #[test]
    fn current_context_and_namespace() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "k", GOOD);
        let s = check(std::slice::from_ref(&p), None).expect("valid");
        assert_eq!(s.context, "sim");
        assert_eq!(s.namespace.as_deref(), Some("demo"));
        assert_eq!(s.files, vec![p.clone()]);
        let s = check(&[p], Some("other")).expect("valid");
        assert_eq!(s.namespace, None);
    }

    #[test]
    fn unknown_context_lists_the_available_ones() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(dir.path(), "k", GOOD);
        let e = check(&[p], Some("nope")).unwrap_err();
        assert_eq!(
            e,
            vec!["kubeconfig_context: context \"nope\" not found in the kubeconfig (available: sim, other)".to_string()]
        );
    }

    #[test]
    fn multi_path_skips_missing_files_and_merges_first_wins() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = write(
            dir.path(),
            "a",
            "current-context: x\ncontexts:\n- name: x\n  context: {cluster: sim, user: u}\n",
        );
        let b = write(dir.path(), "b", GOOD);
        let missing = dir.path().join("missing");
        let s = check(&[missing, a.clone(), b.clone()], None).expect("valid");
        assert_eq!(s.context, "x");
        assert_eq!(s.files, vec![a, b]);
    }

    #[test]
    fn missing_and_invalid_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let missing = dir.path().join("nope");
        let e = check(std::slice::from_ref(&missing), None).unwrap_err();
        assert_eq!(
            e,
            vec![format!(
                "kubeconfig_path: kubeconfig file {} not found",
                missing.display()
            )]
        );
        let e = check(&[missing.clone(), dir.path().join("nope2")], None).unwrap_err();
        assert!(
            e[0].starts_with("kubeconfig_path: no kubeconfig file found (looked for "),
            "{e:?}"
        );
        let bad = write(dir.path(), "bad", "just: [a, list\n");
        assert!(check(&[bad], None).unwrap_err()[0].contains("is not a valid kubeconfig"));
        let nokeys = write(dir.path(), "nokeys", "foo: bar\n");
        assert!(check(&[nokeys], None).unwrap_err()[0].contains("none of clusters"));
        let list = write(dir.path(), "list", "- a\n- b\n");
        assert!(check(&[list], None).unwrap_err()[0].contains("not a YAML map"));
    }

    #[test]
    fn dangling_references() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = write(
            dir.path(),
            "k",
            "current-context: c\ncontexts:\n- name: c\n  context: {cluster: gone, user: nobody}\n",
        );
        let e = check(&[p], None).unwrap_err();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].contains("cluster \"gone\""));
        assert!(e[1].contains("user \"nobody\""));
        let p = write(
            dir.path(),
            "k2",
            "contexts:\n- name: c\n  context: {cluster: x}\n",
        );
        assert!(check(&[p], None).unwrap_err()[0].contains("sets no current-context"));
    }
}
