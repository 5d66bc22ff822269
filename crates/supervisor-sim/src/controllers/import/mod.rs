//! ContentLibraryItemImportRequest controller (vm-operator-api.md §9.3): validates the source
//! URL and the target library, "downloads" the content (`file://` paths, `http://` on
//! loopback only), stores it as a new library item, creates the ContentLibraryItem
//! `clitem-<id>` and its VirtualMachineImage `vmi-<id>`, walking the conditions one at a time.
//! Failures end with `Complete=False` and the real reason, at once.
//!
//! A companion reconciler on ContentLibraryItem deletes the image of an item that is gone (the
//! store has no owner-reference garbage collector), so `clean_imported_image` removes the VMI.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpStream, ToSocketAddrs};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::conditions::{self, KindHandle};
use super::{create_item_image, ControllerConfig, CtlError, Key, NewItemImage, ReconcilerDyn};
use crate::catalog::Gr;
use crate::library;
use crate::store::Store;
use vmop_types::api as k;
use vmop_types::conditions::import as cond;
use vmop_types::naming;

mod phases;

/// Per-request fault annotation: fail the upload with this reason (e.g. `UploadFailure`).
pub const ANNOTATION_IMPORT_FAILURE_REASON: &str =
    "sim.supervisor.vmware.com/import-failure-reason";
/// Per-image annotation (seeded on ISO images, copied onto imported ISOs from the request):
/// `user:password` of the account the simulated OS installer creates.
pub const ANNOTATION_ISO_CREDENTIALS: &str = "sim.supervisor.vmware.com/iso-credentials";
/// Credentials an imported ISO gets when its request does not say.
pub const DEFAULT_ISO_CREDENTIALS: &str = "ubuntu:ubuntu";

/// Largest source the simulator downloads.
const MAX_SOURCE_BYTES: u64 = 256 * 1024 * 1024;
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a source could not be fetched: (condition reason, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    pub reason: &'static str,
    pub message: String,
}

fn problem(reason: &'static str, message: impl Into<String>) -> SourceProblem {
    SourceProblem {
        reason,
        message: message.into(),
    }
}

/// Where the content comes from, after URL validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    Http {
        host: String,
        port: u16,
        path: String,
    },
}

/// Checks a source URL: `file://` paths, `http://` to a 127.0.0.0/8 address (or `localhost`).
pub fn parse_source(url: &str) -> Result<Source, SourceProblem> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(problem(
            "SourceURLInvalid",
            format!("source URL {url:?} is not a URL"),
        ));
    };
    match scheme.to_ascii_lowercase().as_str() {
        "file" => {
            if !rest.starts_with('/') {
                return Err(problem(
                    "SourceURLInvalid",
                    format!("source URL {url:?}: a file URL needs an absolute path"),
                ));
            }
            Ok(Source::File(PathBuf::from(rest)))
        }
        "http" => {
            let (authority, path) = match rest.find('/') {
                Some(i) => (&rest[..i], &rest[i..]),
                None => (rest, "/"),
            };
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
                    let port = p.parse::<u16>().map_err(|_| {
                        problem(
                            "SourceURLInvalid",
                            format!("source URL {url:?}: bad port {p:?}"),
                        )
                    })?;
                    (h, port)
                }
                _ => (authority, 80),
            };
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| matches!(ip, IpAddr::V4(v4) if v4.octets()[0] == 127));
            if !loopback {
                return Err(problem(
                    "SourceURLHostInvalid",
                    format!("source URL {url:?}: host {host:?} is not reachable from the simulated Supervisor (only 127.0.0.0/8)"),
                ));
            }
            Ok(Source::Http {
                host: host.to_string(),
                port,
                path: path.to_string(),
            })
        }
        other => Err(problem(
            "SourceURLSchemeInvalid",
            format!("source URL {url:?}: scheme {other:?} is not supported (file or http)"),
        )),
    }
}

/// The file name an item gets when the request names none: the URL's last path element,
/// without its extension.
pub fn default_item_name(url: &str) -> String {
    let last = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .rsplit('/')
        .next()
        .unwrap_or("");
    let stem = last.rsplit_once('.').map(|(s, _)| s).unwrap_or(last);
    if stem.is_empty() {
        "imported-item".to_string()
    } else {
        stem.to_string()
    }
}

/// Reads the content of a validated source (blocking; run in `spawn_blocking`).
pub fn fetch(source: &Source) -> Result<Vec<u8>, SourceProblem> {
    match source {
        Source::File(p) => {
            let meta = std::fs::metadata(p).map_err(|e| {
                problem("SourceURLInvalid", format!("reading {}: {e}", p.display()))
            })?;
            if meta.len() > MAX_SOURCE_BYTES {
                return Err(problem(
                    "UploadFailure",
                    format!("{} is larger than {MAX_SOURCE_BYTES} bytes", p.display()),
                ));
            }
            std::fs::read(p)
                .map_err(|e| problem("UploadFailure", format!("reading {}: {e}", p.display())))
        }
        Source::Http { host, port, path } => http_get(host, *port, path),
    }
}

fn http_get(host: &str, port: u16, path: &str) -> Result<Vec<u8>, SourceProblem> {
    let fail = |m: String| problem("UploadFailure", m);
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| fail(format!("resolving {host}:{port}: {e}")))?
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| {
            problem(
                "SourceURLHostInvalid",
                format!("{host} does not resolve to a loopback address"),
            )
        })?;
    let mut s = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)
        .map_err(|e| fail(format!("connecting to {addr}: {e}")))?;
    let _ = s.set_read_timeout(Some(HTTP_TIMEOUT));
    let _ = s.set_write_timeout(Some(HTTP_TIMEOUT));
    // HTTP/1.0: the server closes after the body, so no chunked decoding is needed.
    let req =
        format!("GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\nUser-Agent: supervisor-sim\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| fail(format!("sending the request to {addr}: {e}")))?;
    let mut buf = Vec::new();
    s.take(MAX_SOURCE_BYTES + 64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|e| fail(format!("reading from {addr}: {e}")))?;
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| fail(format!("{addr}: no HTTP response header")))?;
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head
        .lines()
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .unwrap_or(0);
    if status != 200 {
        return Err(problem(
            "SourceURLInvalid",
            format!("GET http://{host}:{port}{path}: HTTP status {status}"),
        ));
    }
    Ok(buf[split + 4..].to_vec())
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/annotations")?.get(key)?.as_str()
}

fn is_done(req: &Value) -> bool {
    req.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.get("type").and_then(Value::as_str) == Some(cond::COMPLETE))
        })
}

/// Where a request imports to, once validated.
struct Target {
    url: String,
    lib_name: String,
    item_type: &'static str,
    item_name: String,
}

/// The ContentLibraryItem created for a request.
struct Item {
    uuid: String,
    res: String,
}

#[derive(Clone)]
pub struct ImportController {
    store: Store,
    requests: KindHandle,
    cfg: Arc<ControllerConfig>,
}

impl ImportController {
    pub(crate) fn new(store: Store, cfg: Arc<ControllerConfig>) -> Self {
        let requests = KindHandle::new(store.clone(), &k::CONTENT_LIBRARY_ITEM_IMPORT_REQUEST);
        ImportController {
            store,
            requests,
            cfg,
        }
    }

    async fn step(&self) {
        tokio::time::sleep(self.cfg.publish_step_delay).await;
    }

    /// Ends the request: `ctype` and Complete False with the reason.
    fn fail(
        &self,
        ns: &str,
        name: &str,
        ctype: &str,
        p: &SourceProblem,
    ) -> Result<Option<Duration>, CtlError> {
        tracing::info!(request = %format!("{ns}/{name}"), reason = p.reason, message = %p.message, "import failed");
        self.requests.status(ns, name, |o| {
            conditions::set(o, ctype, false, p.reason, &p.message);
            conditions::set(o, cond::COMPLETE, false, p.reason, &p.message);
            o["status"]["completionTime"] = json!(crate::store::now_rfc3339());
        })?;
        Ok(None)
    }

    /// One pass over an import request: a short sequence of phases, each ending the pass
    /// (`Break`) when the request failed or is done.
    async fn reconcile(&self, key: Key) -> Result<Option<Duration>, CtlError> {
        let (Some(ns), name) = key else {
            return Ok(None);
        };
        let Some(req) = self.fetch_open(&ns, &name)? else {
            return Ok(None);
        };
        let (url, source) = match self.validate_source(&ns, &name, &req).await? {
            ControlFlow::Continue(x) => x,
            ControlFlow::Break(after) => return Ok(after),
        };
        let target = match self.validate_target(&ns, &name, &req, url).await? {
            ControlFlow::Continue(t) => t,
            ControlFlow::Break(after) => return Ok(after),
        };
        let item = self.create_item(&ns, &name, &target).await?;
        if let ControlFlow::Break(after) = self
            .upload(&ns, &name, &req, source, &target, &item)
            .await?
        {
            return Ok(after);
        }
        self.complete(&ns, &name, &req, &target, &item)
    }

    fn create_image(
        &self,
        ns: &str,
        item_res: &str,
        uuid: &str,
        item_name: &str,
        item_type: &str,
        iso_credentials: &str,
    ) -> Result<String, CtlError> {
        let mut annotations = serde_json::Map::new();
        if item_type == "ISO" {
            annotations.insert(ANNOTATION_ISO_CREDENTIALS.into(), json!(iso_credentials));
        }
        create_item_image(
            &self.store,
            NewItemImage {
                ns,
                item_res,
                uuid,
                name: item_name,
                item_type,
                annotations,
                status: serde_json::Map::new(),
            },
        )
    }
}

/// Stores downloaded content as a library item: the original file as `source`, plus the
/// minimal root file system VMs deployed from an OVF boot from (ISOs boot an installer; their
/// VMs get the same minimal root once "installed").
fn store_content(
    state_dir: &Path,
    lib: &str,
    uuid: &str,
    item_name: &str,
    item_type: &str,
    url: &str,
    bytes: &[u8],
) -> Result<(), library::LibraryError> {
    let dir = library::item_dir(state_dir, lib, uuid);
    let io = |path: PathBuf| {
        let (library, item) = (lib.to_string(), uuid.to_string());
        move |source| library::LibraryError::Io {
            library,
            item,
            path,
            source,
        }
    };
    std::fs::create_dir_all(&dir).map_err(io(dir.clone()))?;
    std::fs::write(dir.join("source"), bytes).map_err(io(dir.join("source")))?;
    library::ensure_seed_item_content(state_dir, lib, uuid, item_name, None)?;
    let meta = json!({
        "uuid": uuid, "name": item_name, "type": item_type, "source": url,
        "sizeInBytes": bytes.len(), "created": chrono::Utc::now().to_rfc3339(),
    });
    let text = serde_json::to_vec_pretty(&meta).unwrap_or_default();
    std::fs::write(dir.join("item.json"), text).map_err(io(dir.join("item.json")))?;
    Ok(())
}

impl ReconcilerDyn for ImportController {
    fn reconcile_dyn(&self, key: Key) -> BoxFuture<'static, Result<Option<Duration>, CtlError>> {
        let me = self.clone();
        Box::pin(async move { me.reconcile(key).await })
    }

    fn shutdown_dyn(&self) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

/// Deletes the VirtualMachineImage of a ContentLibraryItem that is gone.
#[derive(Clone)]
pub struct ItemGcController {
    store: Store,
}

impl ItemGcController {
    pub(crate) fn new(store: Store) -> Self {
        ItemGcController { store }
    }

    fn reconcile(&self, key: Key) -> Result<Option<Duration>, CtlError> {
        let (Some(ns), name) = key else {
            return Ok(None);
        };
        match self
            .store
            .get_arc(&Gr::from(&k::CONTENT_LIBRARY_ITEM), Some(&ns), &name)
        {
            Err(e) if e.code == 404 => {}
            _ => return Ok(None),
        }
        let Some(vmi) = naming::vmi_name_for_item_resource(&name) else {
            return Ok(None);
        };
        let gr = Gr::from(&k::VIRTUAL_MACHINE_IMAGE);
        let Ok(img) = self.store.get_arc(&gr, Some(&ns), &vmi) else {
            return Ok(None);
        };
        // Only images this item owns (seeded images have no item object).
        if s(&img, "/spec/providerRef/name") != name {
            return Ok(None);
        }
        KindHandle::new(self.store.clone(), &k::VIRTUAL_MACHINE_IMAGE)
            .delete(&ns, &vmi, "deleting")?;
        Ok(None)
    }
}

impl ReconcilerDyn for ItemGcController {
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

    #[test]
    fn source_urls() {
        assert_eq!(
            parse_source("file:///tmp/x.ova"),
            Ok(Source::File("/tmp/x.ova".into()))
        );
        assert_eq!(
            parse_source("http://127.0.0.5:8080/a/b.ovf"),
            Ok(Source::Http {
                host: "127.0.0.5".into(),
                port: 8080,
                path: "/a/b.ovf".into()
            })
        );
        assert_eq!(parse_source("http://localhost/x.iso").map(|_| ()), Ok(()));
        assert_eq!(
            parse_source("http://10.0.0.1/x.ova").unwrap_err().reason,
            "SourceURLHostInvalid"
        );
        assert_eq!(
            parse_source("http://example.com:80/x.ova")
                .unwrap_err()
                .reason,
            "SourceURLHostInvalid"
        );
        assert_eq!(
            parse_source("ftp://127.0.0.1/x.ova").unwrap_err().reason,
            "SourceURLSchemeInvalid"
        );
        assert_eq!(
            parse_source("nonsense").unwrap_err().reason,
            "SourceURLInvalid"
        );
        assert_eq!(
            parse_source("file://relative").unwrap_err().reason,
            "SourceURLInvalid"
        );
    }

    #[test]
    fn item_names_from_urls() {
        assert_eq!(default_item_name("http://127.0.0.1/a/ubuntu.ova"), "ubuntu");
        assert_eq!(default_item_name("file:///x/y.iso?q=1"), "y");
        assert_eq!(default_item_name("http://127.0.0.1/"), "imported-item");
    }

    #[test]
    fn fetches_files_and_loopback_http() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.ova");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(fetch(&Source::File(p)).unwrap(), b"hello");
        assert_eq!(
            fetch(&Source::File(dir.path().join("missing")))
                .unwrap_err()
                .reason,
            "SourceURLInvalid"
        );
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            for body in [Some(&b"content"[..]), None] {
                let (mut c, _) = l.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = c.read(&mut buf);
                let resp = match body {
                    Some(b) => [&b"HTTP/1.0 200 OK\r\nContent-Length: 7\r\n\r\n"[..], b].concat(),
                    None => b"HTTP/1.0 404 Not Found\r\n\r\n".to_vec(),
                };
                c.write_all(&resp).unwrap();
            }
        });
        let src = |path: &str| Source::Http {
            host: "127.0.0.1".into(),
            port,
            path: path.into(),
        };
        assert_eq!(fetch(&src("/x.ova")).unwrap(), b"content");
        let e = fetch(&src("/missing.ova")).unwrap_err();
        assert!(e.message.contains("404"), "{e:?}");
        t.join().unwrap();
    }
}
