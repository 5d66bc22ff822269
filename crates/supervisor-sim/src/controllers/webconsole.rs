//! VirtualMachineWebConsoleRequest controller (vm-operator-api.md §8): once the named VM exists,
//! encrypts a ticket URL to the request's RSA public key (RSA-OAEP, SHA-512), sets
//! `status.response` (base64), `status.proxyAddr` and `status.expiryTime` (now + 120 s), labels
//! the request with its UID, and deletes it after expiry.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use futures::future::BoxFuture;
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::{Oaep, RsaPublicKey};
use serde_json::{json, Value};

use super::conditions::KindHandle;
use super::{ControllerConfig, CtlError, Key, ReconcilerDyn};
use crate::catalog::Gr;
use crate::store::Store;
use vmop_types::api as k;
use vmop_types::naming;

/// How long a console ticket lives (vm-operator's fixed value).
pub const EXPIRY: Duration = Duration::from_secs(120);
/// The console proxy address the simulator reports.
pub const PROXY_ADDR: &str = "127.0.0.1:9443";

/// Parses the request's key: a `PUBLIC KEY` PEM holding SPKI DER or (as the upstream builder
/// sends, and vm-operator parses) PKCS#1 DER; `RSA PUBLIC KEY` PEM is accepted too.
pub fn parse_public_key(pem: &str) -> Result<RsaPublicKey, String> {
    if let Ok(k) = RsaPublicKey::from_public_key_pem(pem) {
        return Ok(k);
    }
    if let Ok(k) = RsaPublicKey::from_pkcs1_pem(pem) {
        return Ok(k);
    }
    // A PUBLIC KEY label around PKCS#1 DER: decode the base64 body ourselves.
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|e| format!("public key is not PEM: {e}"))?;
    RsaPublicKey::from_pkcs1_der(&der)
        .map_err(|e| format!("public key is not an RSA public key: {e}"))
}

/// Encrypts `url` to `key` (RSA-OAEP, SHA-512) and base64-encodes it.
pub fn encrypt_url(key: &RsaPublicKey, url: &str) -> Result<String, String> {
    let mut rng = rand::thread_rng();
    let ct = key
        .encrypt(&mut rng, Oaep::new::<sha2::Sha512>(), url.as_bytes())
        .map_err(|e| format!("encrypting the ticket: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(ct))
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

#[derive(Clone)]
pub struct WebConsoleController {
    store: Store,
    requests: KindHandle,
}

impl WebConsoleController {
    pub(crate) fn new(store: Store, _cfg: Arc<ControllerConfig>) -> Self {
        let requests = KindHandle::new(store.clone(), &k::VIRTUAL_MACHINE_WEB_CONSOLE_REQUEST);
        WebConsoleController { store, requests }
    }

    /// One pass: an answered request waits for its expiry, then goes; an open one is answered
    /// once its VM exists.
    fn reconcile(&self, key: Key) -> Result<Option<Duration>, CtlError> {
        let (Some(ns), name) = key else {
            return Ok(None);
        };
        let Some(req) = self.requests.get(&ns, &name)? else {
            return Ok(None);
        };
        let now = chrono::Utc::now();
        if let Some(expiry) = expiry_time(&req) {
            return self.expire(&ns, &name, expiry - now);
        }
        let vm_gr = Gr::from(&k::VIRTUAL_MACHINE);
        let Ok(vm) = self.store.get(&vm_gr, Some(&ns), s(&req, "/spec/name")) else {
            // The VM may come later; check again shortly.
            return Ok(Some(Duration::from_secs(1)));
        };
        let Some(response) = answer(&req, &vm, &format!("{ns}/{name}")) else {
            return Ok(None);
        };
        self.label(&ns, &name, s(&req, "/metadata/uid"))?;
        let expiry = (now + chrono::Duration::seconds(EXPIRY.as_secs() as i64))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        self.requests.status(&ns, &name, |o| {
            o["status"] =
                json!({"response": response, "proxyAddr": PROXY_ADDR, "expiryTime": expiry});
        })?;
        Ok(Some(EXPIRY))
    }

    /// An answered request: wait out the time `left`, then delete it.
    fn expire(
        &self,
        ns: &str,
        name: &str,
        left: chrono::Duration,
    ) -> Result<Option<Duration>, CtlError> {
        if left > chrono::Duration::zero() {
            return Ok(Some(left.to_std().unwrap_or(Duration::from_secs(1))));
        }
        self.requests.delete(ns, name, "deleting")?;
        Ok(None)
    }

    /// Labels the request with its UID, as vm-operator does.
    fn label(&self, ns: &str, name: &str, uid: &str) -> Result<(), CtlError> {
        self.requests.modify(ns, name, "labelling", |o| {
            if !o["metadata"]["labels"].is_object() {
                o["metadata"]["labels"] = json!({});
            }
            o["metadata"]["labels"][naming::LABEL_WEBCONSOLE_UUID] = json!(uid);
        })?;
        Ok(())
    }
}

/// `status.expiryTime`, once the request was answered.
fn expiry_time(req: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = req.pointer("/status/expiryTime").and_then(Value::as_str)?;
    let t = chrono::DateTime::parse_from_rfc3339(t).ok()?;
    Some(t.with_timezone(&chrono::Utc))
}

/// The response for `req`: a new ticket URL on the VM's address, encrypted to the request's
/// key; `None` (logged) when the request cannot be answered.
fn answer(req: &Value, vm: &Value, obj: &str) -> Option<String> {
    let key = match parse_public_key(s(req, "/spec/publicKey")) {
        Ok(k) => k,
        Err(e) => {
            tracing::warn!(request = %obj, error = %e, "web console request has a bad public key");
            return None;
        }
    };
    let host = Some(s(vm, "/status/network/primaryIP4"))
        .filter(|h| !h.is_empty())
        .unwrap_or("127.0.0.1");
    let ticket = uuid::Uuid::new_v4().simple();
    let url = format!("wss://{host}:902/ticket/{ticket}");
    match encrypt_url(&key, &url) {
        Ok(r) => Some(r),
        Err(e) => {
            tracing::warn!(request = %obj, error = %e, "web console request cannot be answered");
            None
        }
    }
}

impl ReconcilerDyn for WebConsoleController {
    fn reconcile_dyn(&self, key: Key) -> BoxFuture<'static, Result<Option<Duration>, CtlError>> {
        let me = self.clone();
        Box::pin(async move { me.reconcile(key) })
    }

    fn shutdown_dyn(&self) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::EncodePublicKey;
    use rsa::RsaPrivateKey;

    #[test]
    fn encrypts_to_spki_and_pkcs1_in_public_key_pem() {
        let mut rng = rand::thread_rng();
        // Small key keeps the debug-build test fast; OAEP-SHA512 needs >= 1040 bits for our URL.
        let sk = RsaPrivateKey::new(&mut rng, 1536).unwrap();
        let pk = RsaPublicKey::from(&sk);
        let spki = pk.to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let der = pk.to_pkcs1_der().unwrap();
        let pkcs1_in_spki_label = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(der.as_bytes())
        );
        for pem in [spki, pkcs1_in_spki_label] {
            let key = parse_public_key(&pem).unwrap();
            let ct = encrypt_url(&key, "wss://127.0.0.1:902/ticket/abc").unwrap();
            let raw = base64::engine::general_purpose::STANDARD
                .decode(ct)
                .unwrap();
            let pt = sk.decrypt(Oaep::new::<sha2::Sha512>(), &raw).unwrap();
            assert_eq!(pt, b"wss://127.0.0.1:902/ticket/abc");
        }
        assert!(
            parse_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err()
        );
    }
}
