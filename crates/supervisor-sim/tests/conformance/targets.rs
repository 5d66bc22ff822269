//! The two API servers the corpus is replayed against: an in-process `supervisor-sim`
//! (controllers off, no default seed) and a real kube-apiserver (started with
//! `scripts/kube-up.sh`, or given by `CONFORMANCE_KUBECONFIG`), both set up alike.
//!
//! The restricted user: the simulator's `demo-user` token; on the real server the admin token
//! with `Impersonate-User: demo-user`, with RBAC that grants what the simulator grants (everything
//! in namespace `demo`, reads of cluster-scoped kinds).

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use supervisor_sim::{RunOptions, Sim};

/// Who sends a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum User {
    Admin,
    Restricted,
    BadToken,
}

/// One API server and how to reach it.
pub struct Target {
    pub label: &'static str,
    pub http: reqwest::Client,
    pub base: String,
    pub admin_token: String,
    /// The restricted user's own token (simulator), or None to impersonate it (real server).
    pub restricted_token: Option<String>,
}

impl Target {
    /// The request builder for `method path` as `user`.
    pub fn request(&self, method: &str, path: &str, user: User) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let rb = self.http.request(method, format!("{}{}", self.base, path));
        match (user, &self.restricted_token) {
            (User::Admin, _) => rb.bearer_auth(&self.admin_token),
            (User::Restricted, Some(t)) => rb.bearer_auth(t),
            (User::Restricted, None) => rb
                .bearer_auth(&self.admin_token)
                .header("Impersonate-User", "demo-user"),
            (User::BadToken, _) => rb.bearer_auth("not-a-valid-token"),
        }
    }
}

fn client(ca_pem: &[u8]) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem).unwrap())
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The project cache (`scripts/cache-dir.sh`).
pub fn cache_dir() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/cache-dir.sh"))
        .output()
        .unwrap();
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// Starts the simulator: API only, no default seed (the setup creates namespace `demo`).
pub async fn start_sim() -> (Sim, Target) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = RunOptions {
        controllers: false,
        default_seed: false,
        // A short watch history, so that an old resourceVersion is gone (410) as it is on the
        // real server, whose watch cache starts when the CRD is established.
        history_limit: 20,
        ..Default::default()
    };
    let sim = Sim::start(opts, listener).await.unwrap();
    let target = Target {
        label: "supervisor-sim",
        http: client(sim.tls.as_ref().unwrap().ca_pem.as_bytes()),
        base: sim.url.clone(),
        admin_token: sim.auth.admin_token().to_string(),
        restricted_token: Some(sim.auth.demo_token().to_string()),
    };
    (sim, target)
}

/// A real control plane started by this test; stopped by `scripts/kube-down.sh` on drop
/// (also when the test panics).
pub struct KubeUp {
    dir: tempfile::TempDir,
}

impl Drop for KubeUp {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(repo_root().join("scripts/kube-down.sh"))
            .arg(self.dir.path())
            .output();
    }
}

/// The real server: `CONFORMANCE_KUBECONFIG` (a fresh server) or one started here.
pub fn start_real() -> (Option<KubeUp>, PathBuf) {
    if let Ok(k) = std::env::var("CONFORMANCE_KUBECONFIG") {
        return (None, PathBuf::from(k));
    }
    let dir = tempfile::tempdir().unwrap();
    let up = KubeUp { dir };
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/kube-up.sh"))
        .arg(up.dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kube-up.sh failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let kubeconfig = up.dir.path().join("kubeconfig");
    (Some(up), kubeconfig)
}

/// Reads server, CA and token from a kubeconfig of the current context's cluster and user.
pub fn real_target(kubeconfig: &Path) -> Target {
    let text = std::fs::read_to_string(kubeconfig).unwrap();
    let kc: Value = serde_yaml::from_str(&text).unwrap();
    let cluster = &kc["clusters"][0]["cluster"];
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster["certificate-authority-data"].as_str().unwrap())
        .unwrap();
    Target {
        label: "kube-apiserver",
        http: client(&ca),
        base: cluster["server"].as_str().unwrap().to_string(),
        admin_token: kc["users"][0]["user"]["token"]
            .as_str()
            .unwrap()
            .to_string(),
        restricted_token: None,
    }
}

fn kubectl(kubeconfig: &Path, args: &[&str], stdin: Option<&str>) {
    use std::io::Write as _;
    let mut child = Command::new("kubectl")
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// RBAC on the real server equal to the simulator's demo-user.
const DEMO_USER_RBAC: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: conformance-demo-user-all}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: demo-user, namespace: demo}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: conformance-demo-user-all}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: demo-user}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: conformance-demo-user-cluster-read}
rules:
- apiGroups: [""]
  resources: [namespaces]
  verbs: [get, list, watch]
- apiGroups: [storage.k8s.io]
  resources: [storageclasses]
  verbs: [get, list, watch]
- apiGroups: [vmoperator.vmware.com]
  resources: [clustervirtualmachineimages]
  verbs: [get, list, watch]
- apiGroups: [imageregistry.vmware.com]
  resources: [clustercontentlibraries, clustercontentlibraryitems]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: conformance-demo-user-cluster-read}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: conformance-demo-user-cluster-read}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: demo-user}]
"#;

/// Installs the CRDs (server-side apply), namespace `demo` and the restricted user's RBAC.
pub fn setup_real(kubeconfig: &Path) {
    let crds = cache_dir().join("crds");
    let crds = crds.to_string_lossy();
    kubectl(kubeconfig, &["apply", "--server-side", "-f", &crds], None);
    kubectl(
        kubeconfig,
        &[
            "wait",
            "--for",
            "condition=established",
            "--timeout=30s",
            "-f",
            &crds,
        ],
        None,
    );
    kubectl(kubeconfig, &["create", "namespace", "demo"], None);
    kubectl(kubeconfig, &["apply", "-f", "-"], Some(DEMO_USER_RBAC));
}

/// Creates namespace `demo` on the simulator, as `setup_real` does on the real server.
pub async fn setup_sim(t: &Target) {
    let ns =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}});
    let resp = t
        .request("POST", "/api/v1/namespaces", User::Admin)
        .header("content-type", "application/json")
        .body(ns.to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "creating namespace demo");
}
