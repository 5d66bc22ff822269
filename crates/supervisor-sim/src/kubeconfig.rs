//! The kubeconfig the simulator writes: cluster `supervisor-sim` (with the CA), users
//! `sim-admin` (everything) and `demo-user` (namespace `demo` only), contexts `supervisor-sim`
//! (current; admin, namespace demo) and `supervisor-sim-demo-user`.

use crate::auth::{Auth, ADMIN_USER, DEMO_USER};
use base64::Engine;
use serde_json::json;

/// Name of the cluster and the default context.
pub const CONTEXT: &str = "supervisor-sim";
/// Context of the namespace-restricted user.
pub const DEMO_CONTEXT: &str = "supervisor-sim-demo-user";

/// Renders the kubeconfig YAML.
pub fn render(server_url: &str, ca_pem: Option<&str>, auth: &Auth) -> String {
    let mut cluster = json!({"server": server_url});
    if let Some(ca) = ca_pem {
        cluster["certificate-authority-data"] =
            json!(base64::engine::general_purpose::STANDARD.encode(ca));
    }
    let doc = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": CONTEXT, "cluster": cluster}],
        "users": [
            {"name": ADMIN_USER, "user": {"token": auth.admin_token()}},
            {"name": DEMO_USER, "user": {"token": auth.demo_token()}},
        ],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": ADMIN_USER, "namespace": crate::seed::NAMESPACE}},
            {"name": DEMO_CONTEXT, "context": {"cluster": CONTEXT, "user": DEMO_USER, "namespace": crate::seed::NAMESPACE}},
        ],
        "current-context": CONTEXT,
    });
    serde_yaml::to_string(&doc).unwrap_or_default()
}
