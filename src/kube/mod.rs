//! Talking to the Supervisor: kubeconfig, discovery of the served VM Operator version, and
//! error rendering that names the cluster and the object.
pub mod create;
pub mod publish_status;
pub mod resources;
pub mod retry;
pub mod status;
pub mod wait;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ::kube::api::{Api, ApiResource, DynamicObject};
use ::kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use ::kube::Client;
use thiserror::Error;

pub use resources::{Kinds, LibraryVersion, VmopVersion};

/// How long discovery may take before the cluster counts as unreachable.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// A `kube::Error` rendered for people: `401 Unauthorized: <message>` for API statuses, the
/// de-duplicated cause chain for transport errors. It has no `source()` on purpose: the text
/// already holds the whole chain, so callers' `error_chain` does not repeat it.
#[derive(Debug)]
pub struct ApiError(pub ::kube::Error);

/// The HTTP status the API server answered with, if it answered.
pub fn code_of(e: &::kube::Error) -> Option<u16> {
    match e {
        ::kube::Error::Api(s) => Some(s.code),
        _ => None,
    }
}

impl ApiError {
    /// The HTTP status the API server answered with, if it answered.
    pub fn code(&self) -> Option<u16> {
        code_of(&self.0)
    }

    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }

    pub fn is_gone(&self) -> bool {
        self.code() == Some(410)
    }

    /// Whether `e` is an answer with status `code`.
    pub fn code_is(e: &::kube::Error, code: u16) -> bool {
        code_of(e) == Some(code)
    }

    /// The answer arrived but does not fit the typed kind (a field of another type than
    /// vmop-types expects): asking again gets the same answer.
    pub fn is_unreadable(&self) -> bool {
        matches!(&self.0, ::kube::Error::SerdeError(e) if e.is_data())
    }

    /// Errors worth retrying inside a wait: transport trouble and server-side hiccups, not
    /// refusals that will repeat (forbidden, not found, invalid) nor objects we cannot read.
    pub fn is_transient(&self) -> bool {
        match self.code() {
            None => !self.is_unreadable(),
            Some(c) => c == 410 || c == 429 || c >= 500,
        }
    }
}

fn reason_phrase(code: u16) -> &'static str {
    match code {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// `<code> <phrase>: <message>`, e.g. `401 Unauthorized: invalid bearer token`.
pub fn render_status(code: u16, reason: &str, message: &str) -> String {
    let phrase = reason_phrase(code);
    let head = if phrase.is_empty() {
        format!("{code} {reason}").trim_end().to_string()
    } else {
        format!("{code} {phrase}")
    };
    // Servers often repeat the reason as the message ("Unauthorized"); say it once.
    let same = |s: &str| {
        let squash = |t: &str| t.replace(' ', "").to_ascii_lowercase();
        squash(s) == squash(phrase) || squash(s) == squash(reason)
    };
    let msg = message.trim();
    if !msg.is_empty() && !same(msg) {
        format!("{head}: {msg}")
    } else if !reason.is_empty() && !same(reason) {
        format!("{head}: {reason}")
    } else {
        head
    }
}

/// Joins an error chain, dropping kube's variant prefixes and parts already said.
pub fn render_chain(err: &(dyn std::error::Error + 'static)) -> String {
    const PREFIXES: &[&str] = &[
        "ServiceError: ",
        "HyperError: ",
        "HttpError: ",
        "ApiError: ",
    ];
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let mut s = e.to_string();
        for p in PREFIXES {
            if let Some(rest) = s.strip_prefix(p) {
                s = rest.to_string();
            }
        }
        // hyper's "client error (Connect)" says nothing the next cause does not.
        let noise = s.starts_with("client error (");
        if !s.is_empty() && !noise && !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        cur = e.source();
    }
    if parts.is_empty() {
        return err.to_string();
    }
    parts.join(": ")
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ::kube::Error::Api(s) => f.write_str(&render_status(s.code, &s.reason, &s.message)),
            other => f.write_str(&render_chain(other)),
        }
    }
}

impl std::error::Error for ApiError {}

impl From<::kube::Error> for ApiError {
    fn from(e: ::kube::Error) -> Self {
        ApiError(e)
    }
}

/// One failed operation on one object: `creating VirtualMachine demo/source-abcde: …`.
#[derive(Debug, Error)]
#[error("{verb} {kind} {target}: {source}")]
pub struct ObjectError {
    pub verb: &'static str,
    pub kind: String,
    /// `namespace/name`, or `name` for cluster-scoped objects.
    pub target: String,
    pub source: ApiError,
}

impl ObjectError {
    pub fn new(
        verb: &'static str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        source: ::kube::Error,
    ) -> Self {
        let target = match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name.to_string(),
        };
        ObjectError {
            verb,
            kind: kind.to_string(),
            target,
            source: ApiError(source),
        }
    }
}

/// Why the Supervisor could not be reached or used.
#[derive(Debug, Error)]
pub enum ConnectError {
    #[error("no kubeconfig file to read (set kubeconfig_path or KUBECONFIG)")]
    NoKubeconfig,
    #[error("reading kubeconfig {}: {}", path.display(), render_chain(source))]
    ReadKubeconfig {
        path: PathBuf,
        source: KubeconfigError,
    },
    #[error("merging kubeconfig {}: {}", path.display(), render_chain(source))]
    MergeKubeconfig {
        path: PathBuf,
        source: KubeconfigError,
    },
    #[error("kubeconfig has no current-context; set kubeconfig_context (contexts: {available})")]
    NoContext { available: String },
    #[error("kubeconfig has no context {context:?} (contexts: {available})")]
    UnknownContext { context: String, available: String },
    #[error("loading kubeconfig context {context}: {}", render_chain(source))]
    LoadContext {
        context: String,
        source: KubeconfigError,
    },
    #[error("connecting to Supervisor {server} (context {context}): {source}")]
    Client {
        server: String,
        context: String,
        source: ApiError,
    },
    #[error("connecting to Supervisor {server} (context {context}): no answer within {}s", DISCOVERY_TIMEOUT.as_secs())]
    Timeout { server: String, context: String },
    #[error(
        "Supervisor {server} (context {context}) does not serve the {group} API group (is the VM Service enabled on it?)"
    )]
    NoGroup {
        server: String,
        context: String,
        group: &'static str,
    },
    #[error("Supervisor {server} (context {context}) serves {group} versions {served}; this builder needs one of {needed}")]
    UnsupportedVersions {
        server: String,
        context: String,
        group: &'static str,
        served: String,
        needed: String,
    },
}

/// A connection to one Supervisor namespace with the API versions chosen for it.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
    /// The API server URL, for messages.
    pub server: String,
    pub context: String,
    pub kinds: Kinds,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("server", &self.server)
            .field("context", &self.context)
            .field("namespace", &self.namespace)
            .field("vmop", &self.kinds.vmop)
            .finish()
    }
}

/// Reads and merges kubeconfig files like kubectl: the first file to set a value wins.
pub fn load_kubeconfigs(paths: &[PathBuf]) -> Result<Kubeconfig, ConnectError> {
    let mut merged: Option<Kubeconfig> = None;
    for path in paths {
        let kc = Kubeconfig::read_from(path).map_err(|source| ConnectError::ReadKubeconfig {
            path: path.clone(),
            source,
        })?;
        merged = Some(match merged {
            None => kc,
            Some(m) => m
                .merge(kc)
                .map_err(|source| ConnectError::MergeKubeconfig {
                    path: path.clone(),
                    source,
                })?,
        });
    }
    merged.ok_or(ConnectError::NoKubeconfig)
}

/// The context to use and the namespace it implies.
pub fn choose_context(
    kc: &Kubeconfig,
    context: Option<&str>,
    namespace: Option<&str>,
) -> Result<(String, String), ConnectError> {
    let available = || {
        let names: Vec<&str> = kc.contexts.iter().map(|c| c.name.as_str()).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let name = match context
        .map(str::to_string)
        .or_else(|| kc.current_context.clone())
    {
        Some(n) if !n.is_empty() => n,
        _ => {
            return Err(ConnectError::NoContext {
                available: available(),
            })
        }
    };
    let Some(named) = kc.contexts.iter().find(|c| c.name == name) else {
        return Err(ConnectError::UnknownContext {
            context: name,
            available: available(),
        });
    };
    let ns = namespace
        .map(str::to_string)
        .filter(|n| !n.is_empty())
        .or_else(|| {
            named
                .context
                .as_ref()
                .and_then(|c| c.namespace.clone())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| "default".to_string());
    Ok((name, ns))
}

impl Cluster {
    /// Builds a client from the kubeconfig files and discovers the API versions to use.
    pub async fn connect(
        paths: &[PathBuf],
        context: Option<&str>,
        namespace: Option<&str>,
    ) -> Result<Cluster, ConnectError> {
        let kc = load_kubeconfigs(paths)?;
        let (context, namespace) = choose_context(&kc, context, namespace)?;
        let opts = KubeConfigOptions {
            context: Some(context.clone()),
            cluster: None,
            user: None,
        };
        let config = ::kube::Config::from_custom_kubeconfig(kc, &opts)
            .await
            .map_err(|source| ConnectError::LoadContext {
                context: context.clone(),
                source,
            })?;
        let server = config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_string();
        let client = Client::try_from(config).map_err(|e| ConnectError::Client {
            server: server.clone(),
            context: context.clone(),
            source: ApiError(e),
        })?;
        let groups = match tokio::time::timeout(DISCOVERY_TIMEOUT, client.list_api_groups()).await {
            Err(_) => return Err(ConnectError::Timeout { server, context }),
            Ok(Err(e)) => {
                return Err(ConnectError::Client {
                    server,
                    context,
                    source: ApiError(e),
                })
            }
            Ok(Ok(g)) => g,
        };
        let versions_of = |group: &str| -> Option<Vec<String>> {
            groups
                .groups
                .iter()
                .find(|g| g.name == group)
                .map(|g| g.versions.iter().map(|v| v.version.clone()).collect())
        };
        let Some(vmop_served) = versions_of(resources::VMOP_GROUP) else {
            return Err(ConnectError::NoGroup {
                server,
                context,
                group: resources::VMOP_GROUP,
            });
        };
        let Some(vmop) = resources::pick_version(&vmop_served, resources::SUPPORTED_VMOP_VERSIONS)
            .and_then(VmopVersion::parse)
        else {
            return Err(ConnectError::UnsupportedVersions {
                server,
                context,
                group: resources::VMOP_GROUP,
                served: vmop_served.join(", "),
                needed: resources::SUPPORTED_VMOP_VERSIONS.join(" or "),
            });
        };
        let library = versions_of(resources::IMAGEREGISTRY_GROUP)
            .and_then(|served| {
                resources::pick_version(&served, resources::SUPPORTED_LIBRARY_VERSIONS)
            })
            .and_then(LibraryVersion::parse);
        let storage_v1 = versions_of(resources::STORAGE_GROUP)
            .is_some_and(|served| served.iter().any(|v| v == "v1"));
        Ok(Cluster {
            client,
            namespace,
            server,
            context,
            kinds: Kinds::new(vmop, library, storage_v1),
        })
    }

    /// Untyped API for any namespaced kind in the build's namespace, for what works on every
    /// kind alike (cleanup's deletes). Steps use the typed APIs ([`Cluster::vmop`] and the
    /// others in [`resources`]).
    pub fn api(&self, res: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, res)
    }

    /// `Supervisor https://… (context c, namespace n)` for messages.
    pub fn describe(&self) -> String {
        format!(
            "Supervisor {} (context {}, namespace {})",
            self.server, self.context, self.namespace
        )
    }
}

/// Used by tests and messages: a kubeconfig path for display.
pub fn display_paths(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| Path::display(p).to_string())
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    const KC_A: &str = r#"
apiVersion: v1
kind: Config
current-context: a
clusters:
- name: ca
  cluster: {server: "https://127.0.0.1:1111"}
users:
- name: ua
  user: {token: aaa}
contexts:
- name: a
  context: {cluster: ca, user: ua, namespace: demo}
- name: nons
  context: {cluster: ca, user: ua}
"#;
    const KC_B: &str = r#"
apiVersion: v1
kind: Config
current-context: b
clusters:
- name: cb
  cluster: {server: "https://127.0.0.1:2222"}
users:
- name: ub
  user: {token: bbb}
contexts:
- name: b
  context: {cluster: cb, user: ub, namespace: other}
- name: a
  context: {cluster: cb, user: ub, namespace: shadowed}
"#;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn merged_kubeconfigs_first_value_wins() {
        let dir = tempfile::tempdir().unwrap();
        let a = write(dir.path(), "a", KC_A);
        let b = write(dir.path(), "b", KC_B);
        let kc = load_kubeconfigs(&[a, b]).unwrap();
        assert_eq!(kc.current_context.as_deref(), Some("a"));
        let (ctx, ns) = choose_context(&kc, None, None).unwrap();
        assert_eq!((ctx.as_str(), ns.as_str()), ("a", "demo"));
        let (ctx, ns) = choose_context(&kc, Some("b"), None).unwrap();
        assert_eq!((ctx.as_str(), ns.as_str()), ("b", "other"));
        let (_, ns) = choose_context(&kc, Some("nons"), None).unwrap();
        assert_eq!(ns, "default");
        let (_, ns) = choose_context(&kc, Some("b"), Some("mine")).unwrap();
        assert_eq!(ns, "mine");
        let err = choose_context(&kc, Some("zzz"), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("no context \"zzz\"") && err.contains("a, nons, b"),
            "{err}"
        );
    }

    #[test]
    fn missing_kubeconfig_names_the_file() {
        let err = load_kubeconfigs(&[PathBuf::from("/nonexistent/kc")])
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("reading kubeconfig /nonexistent/kc: "),
            "{err}"
        );
        assert!(matches!(
            load_kubeconfigs(&[]),
            Err(ConnectError::NoKubeconfig)
        ));
    }

    #[test]
    fn objects_that_do_not_fit_their_type_are_not_retried() {
        let data = serde_json::from_str::<u32>("\"x\"").unwrap_err();
        let unreadable = ApiError(::kube::Error::SerdeError(data));
        assert!(unreadable.is_unreadable() && !unreadable.is_transient());
        let truncated = serde_json::from_str::<Vec<u32>>("[1,").unwrap_err();
        let broken = ApiError(::kube::Error::SerdeError(truncated));
        assert!(!broken.is_unreadable() && broken.is_transient());
    }

    #[test]
    fn statuses_render_like_http() {
        assert_eq!(
            render_status(401, "Unauthorized", "bad token"),
            "401 Unauthorized: bad token"
        );
        assert_eq!(render_status(404, "NotFound", ""), "404 Not Found");
        assert_eq!(render_status(418, "Teapot", "short"), "418 Teapot: short");
        assert_eq!(
            render_status(401, "Unauthorized", "Unauthorized"),
            "401 Unauthorized"
        );
        assert_eq!(render_status(403, "Forbidden", ""), "403 Forbidden");
        assert_eq!(
            render_status(500, "", "boom"),
            "500 Internal Server Error: boom"
        );
    }
}
