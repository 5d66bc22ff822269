//! VirtualMachinePublishRequest controller (vm-operator-api.md §4.3): finalizer, defaults,
//! source/target validation with the real reasons, then an "upload" that copies the VM root
//! into the library's storage as a new ContentLibraryItem and creates its VirtualMachineImage,
//! walking the conditions one at a time; TTL deletion; injected failures.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::conditions::{self, KindHandle};
use super::{
    create_item_image, ControllerConfig, CtlError, Key, NewItemImage, PublishFailure, ReconcilerDyn,
};
use crate::catalog::Gr;
use crate::store::Store;
use vmop_types::api as k;
use vmop_types::conditions::publish as cond;
use vmop_types::conditions::publish::reason;

mod phases;

const OLD_FINALIZER: &str = "virtualmachinepublishrequest.vmoperator.vmware.com";

#[derive(Clone)]
pub struct PublishController {
    store: Store,
    requests: KindHandle,
    cfg: Arc<ControllerConfig>,
}

fn s<'a>(v: &'a Value, p: &str) -> &'a str {
    v.pointer(p).and_then(Value::as_str).unwrap_or("")
}

fn annotation<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.pointer("/metadata/annotations")?.get(key)?.as_str()
}

/// What a request publishes: the source VM and the target item in its library.
struct Target {
    source: String,
    item_name: String,
    description: String,
    location: String,
}

enum Check {
    Ok,
    /// Not valid; requeue after the duration (None = wait for a watch event / never).
    Invalid(Option<Duration>),
}

impl PublishController {
    pub(crate) fn new(store: Store, cfg: Arc<ControllerConfig>) -> Self {
        let requests = KindHandle::new(store.clone(), &k::VIRTUAL_MACHINE_PUBLISH_REQUEST);
        PublishController {
            store,
            requests,
            cfg,
        }
    }

    async fn step(&self) {
        tokio::time::sleep(self.cfg.publish_step_delay).await;
    }

    fn injected_failure(&self, req: &Value) -> Option<PublishFailure> {
        if let Some(r) =
            annotation(req, super::ANNOTATION_PUBLISH_FAILURE_REASON).filter(|r| !r.is_empty())
        {
            let message = annotation(req, super::ANNOTATION_PUBLISH_FAILURE_MESSAGE)
                .unwrap_or("simulated publish failure")
                .to_string();
            return Some(PublishFailure {
                reason: r.to_string(),
                message,
            });
        }
        self.cfg.current_faults().publish_failure
    }

    /// One pass over a publish request: a short sequence of phases, each returning early when
    /// the request is not ready for the next one.
    async fn reconcile(&self, key: Key) -> Result<Option<Duration>, CtlError> {
        let (Some(ns), name) = key else {
            return Ok(None);
        };
        let Some(req) = self.requests.get(&ns, &name)? else {
            return Ok(None);
        };
        if self.handle_finalizer(&ns, &name, &req)? {
            return Ok(None);
        }
        if let Some(c) = conditions::get(&req, cond::COMPLETE) {
            if c.get("status").and_then(Value::as_str) == Some("True") {
                return self.ttl(&ns, &name, &req);
            }
            // Complete=False is only ever written for a final failure.
            return Ok(None);
        }
        let (target, req) = self.apply_defaults(&ns, &name, &req)?;
        let failure = self.injected_failure(&req);
        let library = match self
            .validate(&ns, &name, &target, &req, failure.as_ref())
            .await?
        {
            ControlFlow::Continue(lib) => lib,
            ControlFlow::Break(after) => return Ok(after),
        };
        let (item_res, item_uuid) = match self
            .upload(&ns, &name, &target, &req, &library, failure)
            .await?
        {
            ControlFlow::Continue(item) => item,
            ControlFlow::Break(after) => return Ok(after),
        };
        self.complete(&ns, &name, &target, &item_res, &item_uuid)
            .await
    }

    /// A failed upload: retried (each retry is a new attempt) until `attempts` reaches
    /// `spec.backoffLimit` (default 3), then Complete=False with reason `Fatal`.
    fn upload_failed(
        &self,
        ns: &str,
        name: &str,
        req: &Value,
        attempts: i64,
        why: &str,
        message: &str,
    ) -> Result<Option<Duration>, CtlError> {
        let limit = req
            .pointer("/spec/backoffLimit")
            .and_then(Value::as_i64)
            .unwrap_or(3)
            .max(1);
        if attempts >= limit {
            self.requests.status(ns, name, |o| {
                conditions::set(o, cond::UPLOADED, false, why, message);
                conditions::set(o, cond::COMPLETE, false, reason::FATAL, message);
                o["status"]["ready"] = json!(false);
            })?;
            return Ok(None);
        }
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::UPLOADED, false, why, message);
        })?;
        Ok(Some(self.cfg.publish_step_delay * 2))
    }

    fn fail(
        &self,
        ns: &str,
        name: &str,
        ctype: &str,
        why: &str,
        message: &str,
    ) -> Result<Option<Duration>, CtlError> {
        self.requests.status(ns, name, |o| {
            conditions::set(o, ctype, false, why, message);
            conditions::set(o, cond::COMPLETE, false, why, message);
            o["status"]["ready"] = json!(false);
        })?;
        Ok(None)
    }

    fn check_source(
        &self,
        ns: &str,
        name: &str,
        source: &str,
        fault: Option<PublishFailure>,
    ) -> Result<Check, CtlError> {
        if let Some(f) = fault {
            self.fail(ns, name, cond::SOURCE_VALID, &f.reason, &f.message)?;
            return Ok(Check::Invalid(None));
        }
        let vm = self
            .store
            .get_arc(&Gr::from(&k::VIRTUAL_MACHINE), Some(ns), source);
        let problem = match &vm {
            Err(_) => Some((
                reason::SOURCE_VM_NOT_EXIST,
                format!("Source VirtualMachine {ns}/{source} does not exist"),
            )),
            Ok(vm) if s(vm, "/status/uniqueID").is_empty() => Some((
                reason::SOURCE_VM_NOT_CREATED,
                format!("Source VirtualMachine {ns}/{source} has not been created yet"),
            )),
            Ok(_) => None,
        };
        match problem {
            Some((r, m)) => {
                self.requests.status(ns, name, |o| {
                    conditions::set(o, cond::SOURCE_VALID, false, r, &m);
                })?;
                // VM events requeue us; also retry like vm-operator's 60 s requeue, but sooner.
                Ok(Check::Invalid(Some(Duration::from_secs(10))))
            }
            None => {
                self.requests.status(ns, name, |o| {
                    conditions::set(o, cond::SOURCE_VALID, true, "", "");
                })?;
                Ok(Check::Ok)
            }
        }
    }

    fn check_target(
        &self,
        ns: &str,
        name: &str,
        location: &str,
        item_name: &str,
        uploaded: bool,
        fault: Option<PublishFailure>,
    ) -> Result<(Check, Option<Value>), CtlError> {
        if let Some(f) = fault {
            self.fail(ns, name, cond::TARGET_VALID, &f.reason, &f.message)?;
            return Ok((Check::Invalid(None), None));
        }
        let lib = self
            .store
            .get(&Gr::from(&k::CONTENT_LIBRARY), Some(ns), location)
            .ok();
        let problem: Option<(&str, String, Option<Duration>)> = match &lib {
            None => Some((
                reason::TARGET_CL_NOT_EXIST,
                format!("Target ContentLibrary {ns}/{location} does not exist"),
                Some(Duration::from_secs(10)),
            )),
            Some(l) => {
                let writable = l
                    .pointer("/spec/writable")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)
                    || l.pointer("/spec/allowPublish")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                let ready = conditions::get(l, vmop_types::conditions::READY)
                    .is_none_or(|c| c.get("status").and_then(Value::as_str) == Some("True"));
                if !writable {
                    Some((
                        reason::TARGET_CL_NOT_WRITABLE,
                        format!("Target ContentLibrary {ns}/{location} is not writable"),
                        Some(Duration::from_secs(10)),
                    ))
                } else if !ready {
                    Some((
                        reason::TARGET_CL_NOT_READY,
                        format!("Target ContentLibrary {ns}/{location} is not ready"),
                        Some(Duration::from_secs(10)),
                    ))
                } else if !uploaded && self.item_exists(ns, location, item_name) {
                    // vm-operator does not requeue this: the request is stuck.
                    Some((reason::TARGET_ITEM_ALREADY_EXISTS, format!("An item with name {item_name:?} already exists in the target content library {location}"), None))
                } else {
                    None
                }
            }
        };
        match problem {
            Some((r, m, after)) => {
                self.requests.status(ns, name, |o| {
                    conditions::set(o, cond::TARGET_VALID, false, r, &m);
                })?;
                Ok((Check::Invalid(after), None))
            }
            None => {
                self.requests.status(ns, name, |o| {
                    conditions::set(o, cond::TARGET_VALID, true, "", "");
                })?;
                Ok((Check::Ok, lib))
            }
        }
    }

    fn item_exists(&self, ns: &str, library: &str, item_name: &str) -> bool {
        let Ok((items, _)) = self.store.list_arc(
            &Gr::from(&k::CONTENT_LIBRARY_ITEM),
            Some(ns),
            &Default::default(),
        ) else {
            return false;
        };
        items.iter().any(|i| {
            s(i, "/status/name") == item_name && {
                let lib = Some(s(i, "/spec/libraryName"))
                    .filter(|x| !x.is_empty())
                    .unwrap_or(s(i, "/status/contentLibraryRef/name"));
                lib.is_empty() || lib == library
            }
        })
    }

    fn create_image(
        &self,
        ns: &str,
        item_res: &str,
        uuid: &str,
        item_name: &str,
        source_vm: &str,
    ) -> Result<String, CtlError> {
        // The new image inherits what the source VM's image said about the guest OS.
        let vm = self
            .store
            .get(&Gr::from(&k::VIRTUAL_MACHINE), Some(ns), source_vm)
            .unwrap_or(Value::Null);
        let src_img = match s(&vm, "/spec/image/kind") {
            "ClusterVirtualMachineImage" => self
                .store
                .get(
                    &Gr::from(&k::CLUSTER_VIRTUAL_MACHINE_IMAGE),
                    None,
                    s(&vm, "/spec/image/name"),
                )
                .ok(),
            _ => self
                .store
                .get(
                    &Gr::from(&k::VIRTUAL_MACHINE_IMAGE),
                    Some(ns),
                    s(&vm, "/spec/image/name"),
                )
                .ok(),
        }
        .unwrap_or(Value::Null);
        let mut status = serde_json::Map::new();
        for f in [
            "firmware",
            "hardwareVersion",
            "osInfo",
            "productInfo",
            "capabilities",
            "disks",
        ] {
            if let Some(v) = src_img.pointer(&format!("/status/{f}")) {
                status.insert(f.to_string(), v.clone());
            }
        }
        create_item_image(
            &self.store,
            NewItemImage {
                ns,
                item_res,
                uuid,
                name: item_name,
                item_type: "OVF",
                annotations: serde_json::Map::new(),
                status,
            },
        )
    }

    /// Deletes a finished request once `ttlSecondsAfterFinished` has passed.
    fn ttl(&self, ns: &str, name: &str, req: &Value) -> Result<Option<Duration>, CtlError> {
        let Some(ttl) = req
            .pointer("/spec/ttlSecondsAfterFinished")
            .and_then(Value::as_i64)
        else {
            return Ok(None);
        };
        let done = chrono::DateTime::parse_from_rfc3339(s(req, "/status/completionTime"))
            .map(|t| t.with_timezone(&chrono::Utc))
            .unwrap_or_else(|_| chrono::Utc::now());
        let due = done + chrono::Duration::seconds(ttl.max(0));
        let now = chrono::Utc::now();
        if now < due {
            let wait = (due - now).to_std().unwrap_or(Duration::from_secs(1));
            return Ok(Some(wait));
        }
        self.requests.delete(ns, name, "deleting expired")?;
        Ok(None)
    }
}

impl ReconcilerDyn for PublishController {
    fn reconcile_dyn(&self, key: Key) -> BoxFuture<'static, Result<Option<Duration>, CtlError>> {
        let this = self.clone();
        Box::pin(async move { this.reconcile(key).await })
    }
    fn shutdown_dyn(&self) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
