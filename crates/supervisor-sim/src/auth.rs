//! Bearer-token authentication and a tiny RBAC: the admin token may do everything; the demo
//! token is limited to namespace `demo` (plus reads of cluster-scoped kinds), like a Supervisor
//! user granted edit on one vSphere Namespace.

use crate::catalog::ResourceInfo;
use crate::error::ApiError;

/// Namespace the restricted user may use.
pub const DEMO_NAMESPACE: &str = "demo";

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// User name (appears in 403 messages).
    pub name: String,
    /// `None`: cluster admin; `Some(ns)`: only these namespaces.
    pub namespaces: Option<Vec<String>>,
}

impl User {
    /// Whether this user may use the simulator's admin endpoints (`/sim/v1/...`).
    pub fn is_admin(&self) -> bool {
        self.namespaces.is_none()
    }
}

/// Token table.
#[derive(Debug, Clone)]
pub struct Auth {
    tokens: Vec<(String, User)>,
}

/// Name of the admin user in kubeconfigs and messages.
pub const ADMIN_USER: &str = "sim-admin";
/// Name of the namespace-restricted user.
pub const DEMO_USER: &str = "demo-user";

impl Auth {
    /// An admin token and a token restricted to [`DEMO_NAMESPACE`].
    pub fn new(admin_token: &str, demo_token: &str) -> Self {
        Auth {
            tokens: vec![
                (
                    admin_token.to_string(),
                    User {
                        name: ADMIN_USER.to_string(),
                        namespaces: None,
                    },
                ),
                (
                    demo_token.to_string(),
                    User {
                        name: DEMO_USER.to_string(),
                        namespaces: Some(vec![DEMO_NAMESPACE.to_string()]),
                    },
                ),
            ],
        }
    }

    /// Random tokens.
    pub fn random() -> Self {
        Self::new(&random_token(), &random_token())
    }

    /// The admin token.
    pub fn admin_token(&self) -> &str {
        self.tokens
            .first()
            .map(|t| t.0.as_str())
            .unwrap_or_default()
    }

    /// The restricted user's token.
    pub fn demo_token(&self) -> &str {
        self.tokens.get(1).map(|t| t.0.as_str()).unwrap_or_default()
    }

    /// Checks an `Authorization` header value.
    pub fn authenticate(&self, header: Option<&str>) -> Result<User, ApiError> {
        let token = header
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or_else(ApiError::unauthorized)?;
        self.tokens
            .iter()
            .find(|(t, _)| constant_time_eq(t.as_bytes(), token.as_bytes()))
            .map(|(_, u)| u.clone())
            .ok_or_else(ApiError::unauthorized)
    }

    /// RBAC check for `verb` on a resource in `ns` (None = cluster scope / all namespaces).
    pub fn authorize(
        &self,
        user: &User,
        verb: &str,
        info: &ResourceInfo,
        ns: Option<&str>,
        name: Option<&str>,
    ) -> Result<(), ApiError> {
        let Some(allowed) = &user.namespaces else {
            return Ok(());
        };
        let read = matches!(verb, "get" | "list" | "watch");
        let ok = match ns {
            Some(n) => allowed.iter().any(|a| a == n),
            None => !info.namespaced && read,
        };
        if ok {
            return Ok(());
        }
        let gr = info.gr.to_string();
        let subject = match name {
            Some(n) => format!("{gr} \"{n}\" is forbidden"),
            None => format!("{gr} is forbidden"),
        };
        let scope = match ns {
            Some(n) => format!("in the namespace \"{n}\""),
            None => "at the cluster scope".to_string(),
        };
        Err(ApiError::forbidden(format!(
            "{subject}: User \"{}\" cannot {verb} resource \"{}\" in API group \"{}\" {scope}",
            user.name, info.gr.resource, info.gr.group
        )))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A random 32-hex-character token.
pub fn random_token() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}
