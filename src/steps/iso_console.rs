//! ISO builds, part of "wait source": once the VM is powered on with network status, print
//! `status.network.config` (what the person installing the OS needs), ask for a web console
//! with a VirtualMachineWebConsoleRequest carrying a fresh RSA-2048 public key, decrypt the
//! answer (RSA-OAEP, SHA-512) and print the console URL. The request is left to expire (the
//! Supervisor deletes it after 120 s).

use ::kube::api::{Api, PostParams};
use base64::Engine;
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};
use serde_json::Value as Json;
use thiserror::Error;
use vmop_types::vm::power;
use vmop_types::webconsole::WebConsoleRequestSpec;
use vmop_types::{VirtualMachine, VirtualMachineWebConsoleRequest};

use super::create_source::{labels, metadata};
use super::Ctx;
use crate::kube::wait::{wait_for, Deadline, Target, Verdict, WaitError};
use crate::kube::{Cluster, ObjectError};

#[derive(Debug, Error)]
pub enum ConsoleError {
    #[error(transparent)]
    Wait(#[from] WaitError),
    #[error(transparent)]
    Api(#[from] ObjectError),
    #[error("generating the RSA key for the web console request: {0}")]
    Key(String),
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

/// The VM is powered on and reports network status: returns `status.network.config` (kept
/// raw: it is shown to the user as it is).
pub fn judge_vm_network(vm: &VirtualMachine) -> Verdict<Json> {
    let status = vm.status.clone().unwrap_or_default();
    let power = status.power_state.as_deref().unwrap_or("");
    match status.network {
        Some(n) if power == power::ON => Verdict::Done(n.config.unwrap_or(Json::Null)),
        _ => Verdict::Pending(Some(format!(
            "powerState {}",
            if power.is_empty() { "unset" } else { power }
        ))),
    }
}

/// What a web console request's answer holds.
struct Answer {
    response: String,
    proxy: String,
    uid: String,
}

/// Judges a web console request for "answered".
fn judge_answer(req: &VirtualMachineWebConsoleRequest) -> Verdict<Answer> {
    let status = req.status.clone().unwrap_or_default();
    if status.response.is_empty() {
        return Verdict::Pending(None);
    }
    Verdict::Done(Answer {
        response: status.response,
        proxy: status.proxy_addr,
        uid: req.metadata.uid.clone().unwrap_or_default(),
    })
}

/// Shows the network config and the web console URL; both waits share `deadline`.
pub async fn run(ctx: &mut Ctx<'_>, deadline: &Deadline) -> Result<(), ConsoleError> {
    let cluster = ctx.cluster().ok_or(ConsoleError::NotConnected)?.clone();
    show_network_config(ctx, &cluster, deadline).await?;
    let private = console_key().await?;
    let pem = public_key_pem(&RsaPublicKey::from(&private)).map_err(ConsoleError::Key)?;
    let api = create_request(ctx, &cluster, pem).await?;
    let object = format!(
        "VirtualMachineWebConsoleRequest {}/{}",
        cluster.namespace, ctx.config.source_name
    );
    let target = Target {
        api: &api,
        object: object.clone(),
        name: &ctx.config.source_name,
        what: format!("{object} to be answered"),
    };
    let answer = wait_for(target, deadline.remaining(), &ctx.cancel, judge_answer)
        .await
        .map_err(|e| deadline.whole(e))?;
    let problem = |problem: String| ConsoleError::Answer {
        object: object.clone(),
        problem,
    };
    let ticket = decrypt_response(&private, &answer.response).map_err(problem)?;
    let url =
        console_url(&ticket, &answer.proxy, &cluster.namespace, &answer.uid).map_err(problem)?;
    ctx.say(&format!(
        "Web console URL (valid for about 2 minutes): {url}"
    ))
    .await;
    ctx.say("Install the guest OS through the web console; waiting for the VM to get an IPv4 address...")
        .await;
    Ok(())
}

/// Waits for the VM's network status and prints its intended configuration.
async fn show_network_config(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    deadline: &Deadline,
) -> Result<(), ConsoleError> {
    let name = ctx.config.source_name.as_str();
    let vms = cluster.vmop::<VirtualMachine>();
    let object = format!("VirtualMachine {}/{name}", cluster.namespace);
    let target = Target {
        api: &vms,
        object: object.clone(),
        name,
        what: format!("{object} to be powered on with network status"),
    };
    let config = wait_for(target, deadline.remaining(), &ctx.cancel, judge_vm_network)
        .await
        .map_err(|e| deadline.whole(e))?;
    let pretty = serde_json::to_string_pretty(&config).unwrap_or_else(|_| config.to_string());
    ctx.say(&format!(
        "VM network config (use this to install the guest OS):\n{pretty}"
    ))
    .await;
    Ok(())
}

/// A fresh RSA-2048 key; key generation is CPU work, kept off the async workers.
async fn console_key() -> Result<RsaPrivateKey, ConsoleError> {
    tokio::task::spawn_blocking(|| {
        RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| ConsoleError::Key(e.to_string()))?
    .map_err(ConsoleError::Key)
}

/// Creates the web console request for the VM, carrying the public key `pem`.
async fn create_request(
    ctx: &Ctx<'_>,
    cluster: &Cluster,
    pem: String,
) -> Result<Api<VirtualMachineWebConsoleRequest>, ConsoleError> {
    let (ns, name) = (cluster.namespace.as_str(), ctx.config.source_name.as_str());
    let spec = WebConsoleRequestSpec {
        name: name.to_string(),
        public_key: pem,
        ..WebConsoleRequestSpec::default()
    };
    let meta = metadata(name, ns, &labels(&ctx.state.build_id, name));
    let request = VirtualMachineWebConsoleRequest::new(&cluster.kinds.vmop, meta, spec);
    let api = cluster.vmop::<VirtualMachineWebConsoleRequest>();
    ctx.say(&format!(
        "Creating VirtualMachineWebConsoleRequest {ns}/{name}"
    ))
    .await;
    api.create(&PostParams::default(), &request)
        .await
        .map_err(|e| {
            ObjectError::new(
                "creating",
                "VirtualMachineWebConsoleRequest",
                Some(ns),
                name,
                e,
            )
        })?;
    Ok(api)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmop_types::vm::{VirtualMachineStatus, VmNetworkStatus};

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

    fn vm(power: &str, network: Option<VmNetworkStatus>) -> VirtualMachine {
        VirtualMachine {
            status: Some(VirtualMachineStatus {
                power_state: Some(power.to_string()),
                network,
                ..VirtualMachineStatus::default()
            }),
            ..VirtualMachine::default()
        }
    }

    #[test]
    fn network_status_gates_the_console() {
        let config: Json = serde_json::from_str(r#"{"interfaces": []}"#).unwrap();
        let network = VmNetworkStatus {
            config: Some(config.clone()),
            ..VmNetworkStatus::default()
        };
        let off = vm("PoweredOff", Some(VmNetworkStatus::default()));
        assert!(matches!(judge_vm_network(&off), Verdict::Pending(_)));
        let on_no_net = vm("PoweredOn", None);
        assert!(matches!(judge_vm_network(&on_no_net), Verdict::Pending(_)));
        assert_eq!(
            judge_vm_network(&vm("PoweredOn", Some(network))),
            Verdict::Done(config)
        );
    }

    #[test]
    fn an_answered_request_carries_response_proxy_and_uid() {
        let mut req = VirtualMachineWebConsoleRequest::default();
        assert!(matches!(judge_answer(&req), Verdict::Pending(None)));
        req.metadata.uid = Some("u-1".into());
        req.status = Some(vmop_types::webconsole::WebConsoleRequestStatus {
            response: "b64".into(),
            proxy_addr: "proxy:443".into(),
            ..Default::default()
        });
        match judge_answer(&req) {
            Verdict::Done(a) => assert_eq!(
                (a.response.as_str(), a.proxy.as_str(), a.uid.as_str()),
                ("b64", "proxy:443", "u-1")
            ),
            _ => panic!("not answered"),
        }
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
