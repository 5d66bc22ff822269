//! ISO builds, part of "wait source": once the VM is powered on with network status, print
//! `status.network.config` (what the person installing the OS needs), ask for a web console
//! with a VirtualMachineWebConsoleRequest carrying a fresh RSA-2048 public key, decrypt the
//! answer (RSA-OAEP, SHA-512) and print the console URL. The request is left to expire (the
//! Supervisor deletes it after 120 s).

use ::kube::api::{DynamicObject, PostParams};
use base64::Engine;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use serde_json::{json, Value as Json};
use thiserror::Error;

use super::Ctx;
use crate::kube::wait::{wait_for, Deadline, Target, Verdict, WaitError};
use crate::kube::ObjectError;

#[derive(Debug, Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error(transparent)]
    Api(#[from] ObjectError),
    #[error("generating the RSA key for the web console request: {0}")]
    Key(String),
    #[error("building the VirtualMachineWebConsoleRequest {name}: {source}")]
    Encode {
        name: String,
        source: serde_json::Error,
    },
    #[error("reading the answer of VirtualMachineWebConsoleRequest {object}: {problem}")]
    Answer { object: String, problem: String },
    #[error("internal error: not connected to the Supervisor")]
    NotConnected,
}

/// `PUBLIC KEY` PEM around PKCS#1 DER: what vm-operator parses (and what upstream sends).
pub fn public_key_pem(key: &RsaPublicKey) -> Result<String, String> {
    let der = key.to_pkcs1_der().map_err(|e| e.to_string())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
    let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END PUBLIC KEY-----\n");
    Ok(out)
}

/// Decodes and decrypts `status.response` into the ticket URL.
pub fn decrypt_response(key: &RsaPrivateKey, response: &str) -> Result<String, String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(response.trim())
        .map_err(|e| format!("status.response is not base64: {e}"))?;
    let pt = key
        .decrypt(Oaep::new::<sha2::Sha512>(), &raw)
        .map_err(|e| format!("decrypting status.response: {e}"))?;
    String::from_utf8(pt).map_err(|_| "the decrypted ticket URL is not UTF-8".to_string())
}

fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `https://<proxy>/vm/web-console?host=…&namespace=…&port=…&ticket=…&uuid=…` (keys sorted)
/// from the decrypted ticket URL (`wss://host:port/…/<ticket>`).
pub fn console_url(
    ticket_url: &str,
    proxy: &str,
    namespace: &str,
    uid: &str,
) -> Result<String, String> {
    let (scheme, rest) = ticket_url
        .split_once("://")
        .ok_or_else(|| format!("ticket {ticket_url:?} is not a URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
            (h.to_string(), p.to_string())
        }
        _ => {
            let default =
                if scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("http") {
                    "80"
                } else {
                    "443"
                };
            (authority.to_string(), default.to_string())
        }
    };
    let ticket = path
        .split(['?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('/')
        .find(|s| !s.is_empty())
        .ok_or_else(|| format!("ticket URL {ticket_url:?} has no ticket path"))?;
    Ok(format!(
        "https://{proxy}/vm/web-console?host={}&namespace={}&port={}&ticket={}&uuid={}",
        query_escape(&host),
        query_escape(namespace),
        query_escape(&port),
        query_escape(ticket),
        query_escape(uid)
    ))
}

/// The VM is powered on and reports network status: returns `status.network.config`.
pub fn judge_vm_network(data: &Json) -> Verdict<Json> {
    let power = data
        .pointer("/status/powerState")
        .and_then(Json::as_str)
        .unwrap_or("");
    match data.pointer("/status/network") {
        Some(n) if power == "PoweredOn" && n.is_object() => {
            Verdict::Done(n.get("config").cloned().unwrap_or(Json::Null))
        }
        _ => Verdict::Pending(Some(format!(
            "powerState {}",
            if power.is_empty() { "unset" } else { power }
        ))),
    }
}

/// Shows the network config and the web console URL; both waits share `deadline`.
pub async fn run(ctx: &mut Ctx<'_>, deadline: &Deadline) -> Result<(), ConsoleError> {
    let cluster = ctx.cluster().ok_or(ConsoleError::NotConnected)?.clone();
    let ns = cluster.namespace.clone();
    let name = ctx.config.source_name.clone();
    let vms = cluster.api(&cluster.kinds.vm);
    let object = format!("VirtualMachine {ns}/{name}");
    let config = wait_for(
        Target {
            api: &vms,
            object: object.clone(),
            name: &name,
            what: format!("{object} to be powered on with network status"),
        },
        deadline.remaining(),
        &ctx.cancel,
        |o| judge_vm_network(&o.data),
    )
    .await
    .map_err(|e| deadline.whole(e))?;
    let pretty = serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string());
    ctx.say(&format!(
        "VM network config (use this to install the guest OS):\n{pretty}"
    ))
    .await;

    // Key generation is CPU work; keep it off the async workers.
    let private = tokio::task::spawn_blocking(|| {
        RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ConsoleError::Key(e.to_string()))?
    .map_err(ConsoleError::Key)?;
    let pem = public_key_pem(&RsaPublicKey::from(&private)).map_err(ConsoleError::Key)?;
    let res = ::kube::api::ApiResource::from_gvk_with_plural(
        &::kube::api::GroupVersionKind::gvk(
            crate::kube::resources::VMOP_GROUP,
            cluster.kinds.vmop.as_str(),
            "VirtualMachineWebConsoleRequest",
        ),
        "virtualmachinewebconsolerequests",
    );
    let body = json!({
        "apiVersion": format!("{}/{}", crate::kube::resources::VMOP_GROUP, cluster.kinds.vmop.as_str()),
        "kind": "VirtualMachineWebConsoleRequest",
        "metadata": {"name": name, "namespace": ns,
            "labels": super::create_source::labels(&ctx.state.build_id, &name)},
        "spec": {"name": name, "publicKey": pem},
    });
    let obj: DynamicObject =
        serde_json::from_value(body).map_err(|source| ConsoleError::Encode {
            name: name.clone(),
            source,
        })?;
    let api = cluster.api(&res);
    ctx.say(&format!(
        "Creating VirtualMachineWebConsoleRequest {ns}/{name}"
    ))
    .await;
    api.create(&PostParams::default(), &obj)
        .await
        .map_err(|e| {
            ObjectError::new(
                "creating",
                "VirtualMachineWebConsoleRequest",
                Some(&ns),
                &name,
                e,
            )
        })?;
    let req_object = format!("VirtualMachineWebConsoleRequest {ns}/{name}");
    let (response, proxy, uid) = wait_for(
        Target {
            api: &api,
            object: req_object.clone(),
            name: &name,
            what: format!("{req_object} to be answered"),
        },
        deadline.remaining(),
        &ctx.cancel,
        |o| {
            let s = |p: &str| {
                o.data
                    .pointer(p)
                    .and_then(Json::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let response = s("/status/response");
            if response.is_empty() {
                Verdict::Pending(None)
            } else {
                Verdict::Done((
                    response,
                    s("/status/proxyAddr"),
                    o.metadata.uid.clone().unwrap_or_default(),
                ))
            }
        },
    )
    .await
    .map_err(|e| deadline.whole(e))?;
    let answer = |problem: String| ConsoleError::Answer {
        object: req_object.clone(),
        problem,
    };
    let ticket = decrypt_response(&private, &response).map_err(answer)?;
    let url = console_url(&ticket, &proxy, &ns, &uid).map_err(answer)?;
    ctx.say(&format!(
        "Web console URL (valid for about 2 minutes): {url}"
    ))
    .await;
    ctx.say("Install the guest OS through the web console; waiting for the VM to get an IPv4 address...")
        .await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_urls() {
        assert_eq!(
            console_url("wss://10.0.0.5:902/ticket/abc123", "proxy.local:443", "demo", "u-1").unwrap(),
            "https://proxy.local:443/vm/web-console?host=10.0.0.5&namespace=demo&port=902&ticket=abc123&uuid=u-1"
        );
        assert_eq!(
            console_url("wss://esx.example/ticket/t?x=1", "p", "n s", "u").unwrap(),
            "https://p/vm/web-console?host=esx.example&namespace=n%20s&port=443&ticket=t&uuid=u"
        );
        assert!(console_url("nonsense", "p", "n", "u").is_err());
        assert!(console_url("wss://h:1", "p", "n", "u").is_err());
    }

    #[test]
    fn network_status_gates_the_console() {
        let off = json!({"status": {"powerState": "PoweredOff", "network": {}}});
        assert!(matches!(judge_vm_network(&off), Verdict::Pending(_)));
        let on_no_net = json!({"status": {"powerState": "PoweredOn"}});
        assert!(matches!(judge_vm_network(&on_no_net), Verdict::Pending(_)));
        let on = json!({"status": {"powerState": "PoweredOn", "network": {"config": {"interfaces": []}}}});
        assert_eq!(
            judge_vm_network(&on),
            Verdict::Done(json!({"interfaces": []}))
        );
    }

    #[test]
    fn key_round_trip_through_pem_and_oaep() {
        let mut rng = rand::thread_rng();
        let sk = RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let pk = RsaPublicKey::from(&sk);
        let pem = public_key_pem(&pk).unwrap();
        assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let ct = pk
            .encrypt(
                &mut rng,
                Oaep::new::<sha2::Sha512>(),
                b"wss://h:902/ticket/t",
            )
            .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(ct);
        assert_eq!(decrypt_response(&sk, &b64).unwrap(), "wss://h:902/ticket/t");
        assert!(decrypt_response(&sk, "!!").is_err());
        assert!(decrypt_response(&sk, "AAAA").is_err());
    }
}
