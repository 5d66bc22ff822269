//! The phases of one VirtualMachinePublishRequest reconcile, in the order `reconcile` runs
//! them: the finalizer, defaults, validation (source, target), the upload, completion.

use std::ops::ControlFlow;
use std::time::Duration;

use serde_json::{json, Value};

use super::{annotation, s, Check, PublishController, Target, OLD_FINALIZER};
use crate::controllers::{
    conditions, create_library_item, CtlError, NewLibraryItem, PublishFailure,
    ANNOTATION_LIBRARY_CAPACITY,
};
use crate::library::{self, ItemMeta, LibraryError};
use vmop_types::conditions::publish as cond;
use vmop_types::conditions::publish::reason;
use vmop_types::naming;

impl PublishController {
    /// Phase: on deletion drops our finalizer, otherwise adds it if missing. `true` when the
    /// pass ends here (deleting, or the finalizer update brings us back).
    pub(super) fn handle_finalizer(
        &self,
        ns: &str,
        name: &str,
        req: &Value,
    ) -> Result<bool, CtlError> {
        let finalizers: Vec<String> = req
            .pointer("/metadata/finalizers")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let ours = |f: &String| f == naming::FINALIZER_PUBLISH || f == OLD_FINALIZER;
        if req
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            // Deletion only drops the finalizer: the published item and image stay.
            if finalizers.iter().any(ours) {
                self.requests
                    .modify(ns, name, "removing finalizer of", |o| {
                        if let Some(list) = o
                            .pointer_mut("/metadata/finalizers")
                            .and_then(Value::as_array_mut)
                        {
                            list.retain(|f| {
                                f.as_str().is_none_or(|f| {
                                    f != naming::FINALIZER_PUBLISH && f != OLD_FINALIZER
                                })
                            });
                        }
                    })?;
            }
            return Ok(true);
        }
        if !finalizers.iter().any(ours) {
            self.requests.modify(ns, name, "adding finalizer to", |o| {
                if !o["metadata"]["finalizers"].is_array() {
                    o["metadata"]["finalizers"] = json!([]);
                }
                if let Some(list) = o["metadata"]["finalizers"].as_array_mut() {
                    list.push(json!(naming::FINALIZER_PUBLISH));
                }
            })?;
            // The update event brings us back.
            return Ok(true);
        }
        Ok(false)
    }

    /// Phase: defaults and start time; writes sourceRef/targetRef and returns the target with
    /// the updated request.
    pub(super) fn apply_defaults(
        &self,
        ns: &str,
        name: &str,
        req: &Value,
    ) -> Result<(Target, Value), CtlError> {
        let source = Some(s(req, "/spec/source/name"))
            .filter(|x| !x.is_empty())
            .unwrap_or(name)
            .to_string();
        let item_name = Some(s(req, "/spec/target/item/name"))
            .filter(|x| !x.is_empty())
            .map(String::from)
            .unwrap_or_else(|| format!("{source}-image"));
        let description = s(req, "/spec/target/item/description").to_string();
        let location = s(req, "/spec/target/location/name").to_string();
        let src_api = Some(s(req, "/spec/source/apiVersion"))
            .filter(|x| !x.is_empty())
            .unwrap_or("vmoperator.vmware.com/v1alpha1")
            .to_string();
        let loc_api = Some(s(req, "/spec/target/location/apiVersion"))
            .filter(|x| !x.is_empty())
            .unwrap_or("imageregistry.vmware.com/v1alpha1")
            .to_string();
        let req = self.requests.status(ns, name, |o| {
            if o.pointer("/status/startTime").is_none_or(Value::is_null) {
                o["status"]["startTime"] = json!(crate::store::now_rfc3339());
            }
            o["status"]["sourceRef"] =
                json!({"apiVersion": src_api, "kind": "VirtualMachine", "name": source});
            o["status"]["targetRef"] = json!({
                "item": {"name": item_name, "description": description},
                "location": {"apiVersion": loc_api, "kind": "ContentLibrary", "name": location},
            });
            if conditions::get(o, cond::UPLOADED).is_none() {
                conditions::set(o, cond::UPLOADED, false, reason::NOT_STARTED, "");
            }
        })?;
        let target = Target {
            source,
            item_name,
            description,
            location,
        };
        Ok((target, req))
    }

    /// Phase: source then target checks (a step apart); continues with the target library.
    pub(super) async fn validate(
        &self,
        ns: &str,
        name: &str,
        t: &Target,
        req: &Value,
        failure: Option<&PublishFailure>,
    ) -> Result<ControlFlow<Option<Duration>, Value>, CtlError> {
        let fail_on = |prefix: &str| failure.filter(|f| f.reason.starts_with(prefix)).cloned();
        if let Check::Invalid(after) = self.check_source(ns, name, &t.source, fail_on("Source"))? {
            return Ok(ControlFlow::Break(after));
        }
        self.step().await;
        let uploaded = conditions::is_true(req, cond::UPLOADED);
        let library = match self.check_target(
            ns,
            name,
            &t.location,
            &t.item_name,
            uploaded,
            fail_on("Target"),
        )? {
            (Check::Ok, Some(lib)) => lib,
            (Check::Invalid(after), _) => return Ok(ControlFlow::Break(after)),
            (Check::Ok, None) => return Ok(ControlFlow::Break(None)),
        };
        self.step().await;
        Ok(ControlFlow::Continue(library))
    }

    /// Phase: one upload attempt (Queued, Uploading, the copy, the ContentLibraryItem,
    /// Uploaded); continues with the item's resource name and UUID.
    pub(super) async fn upload(
        &self,
        ns: &str,
        name: &str,
        t: &Target,
        req: &Value,
        library: &Value,
        failure: Option<PublishFailure>,
    ) -> Result<ControlFlow<Option<Duration>, (String, String)>, CtlError> {
        let obj = format!("{ns}/{name}");
        let attempts = req
            .pointer("/status/attempts")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            + 1;
        self.requests.status(ns, name, |o| {
            o["status"]["attempts"] = json!(attempts);
            o["status"]["lastAttemptTime"] = json!(crate::store::now_rfc3339());
            conditions::set(o, cond::UPLOADED, false, reason::QUEUED, "");
        })?;
        self.step().await;
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::UPLOADED, false, reason::UPLOADING, "");
        })?;
        self.step().await;
        if let Some(f) =
            failure.filter(|f| !f.reason.starts_with("Source") && !f.reason.starts_with("Target"))
        {
            tracing::info!(request = %obj, reason = %f.reason, "fault: publish fails");
            return self
                .upload_failed(ns, name, req, attempts, &f.reason, &f.message)
                .map(ControlFlow::Break);
        }
        let item_uuid = uuid::Uuid::new_v4().to_string();
        let size = match self.copy_root(ns, t, library, &item_uuid).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(request = %obj, error = %e, "publish upload failed");
                return self
                    .upload_failed(
                        ns,
                        name,
                        req,
                        attempts,
                        reason::UPLOAD_FAILURE,
                        &e.to_string(),
                    )
                    .map(ControlFlow::Break);
            }
        };
        let item_res = naming::item_name_for_item(&item_uuid);
        create_library_item(
            &self.store,
            &NewLibraryItem {
                ns,
                res: &item_res,
                uuid: &item_uuid,
                library: &t.location,
                name: &t.item_name,
                description: Some(&t.description),
                item_type: "OVF",
                size,
            },
        )?;
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::UPLOADED, true, "", "");
        })?;
        self.step().await;
        Ok(ControlFlow::Continue((item_res, item_uuid)))
    }

    /// Copies the source VM's root into the library's storage as item `item_uuid` (within the
    /// library's capacity); returns the bytes written.
    async fn copy_root(
        &self,
        ns: &str,
        t: &Target,
        library: &Value,
        item_uuid: &str,
    ) -> Result<u64, LibraryError> {
        let vm_root = crate::guest::vm_root(&self.cfg.state_dir, ns, &t.source);
        let capacity = annotation(library, ANNOTATION_LIBRARY_CAPACITY)
            .and_then(|c| c.parse::<u64>().ok())
            .or(self.cfg.current_faults().library_capacity_bytes);
        let meta = ItemMeta {
            display_name: t.item_name.clone(),
            description: t.description.clone(),
            item_type: "OVF".into(),
            source: format!("{ns}/{}", t.source),
        };
        let state = self.cfg.state_dir.clone();
        let (lib2, uuid2, root2) = (t.location.clone(), item_uuid.to_string(), vm_root.clone());
        tokio::task::spawn_blocking(move || {
            library::publish_root(&state, &lib2, &uuid2, &root2, &meta, capacity)
        })
        .await
        .unwrap_or_else(|e| {
            Err(LibraryError::Io {
                library: t.location.clone(),
                item: item_uuid.to_string(),
                path: vm_root.clone(),
                source: std::io::Error::other(e.to_string()),
            })
        })
    }

    /// Phase: the VirtualMachineImage, then Complete; returns the TTL requeue.
    pub(super) async fn complete(
        &self,
        ns: &str,
        name: &str,
        t: &Target,
        item_res: &str,
        item_uuid: &str,
    ) -> Result<Option<Duration>, CtlError> {
        let vmi = self.create_image(ns, item_res, item_uuid, &t.item_name, &t.source)?;
        self.requests.status(ns, name, |o| {
            o["status"]["imageName"] = json!(vmi);
            conditions::set(o, cond::IMAGE_AVAILABLE, true, "", "");
        })?;
        self.step().await;
        let done = self.requests.status(ns, name, |o| {
            conditions::set(o, cond::COMPLETE, true, "", "");
            o["status"]["ready"] = json!(true);
            o["status"]["completionTime"] = json!(crate::store::now_rfc3339());
        })?;
        self.ttl(ns, name, &done)
    }
}
