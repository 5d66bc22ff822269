//! The phases of one ContentLibraryItemImportRequest reconcile, in the order `reconcile` runs
//! them: read the open request, validate source and target, create the item, upload, complete.

use std::ops::ControlFlow;
use std::time::Duration;

use serde_json::{json, Value};

use super::{
    annotation, default_item_name, fetch, is_done, parse_source, problem, s, store_content,
    ImportController, Item, Source, SourceProblem, Target, ANNOTATION_IMPORT_FAILURE_REASON,
    ANNOTATION_ISO_CREDENTIALS, DEFAULT_ISO_CREDENTIALS,
};
use crate::catalog::Gr;
use crate::controllers::{conditions, create_library_item, CtlError, NewLibraryItem};
use crate::store::Subresource;
use vmop_types::api as k;
use vmop_types::conditions::import as cond;
use vmop_types::naming;

impl ImportController {
    /// Phase: reads the request; `None` when it is gone, done or deleting. Stamps startTime.
    pub(super) fn fetch_open(&self, ns: &str, name: &str) -> Result<Option<Value>, CtlError> {
        let Some(req) = self.requests.get(ns, name)? else {
            return Ok(None);
        };
        if is_done(&req)
            || req
                .pointer("/metadata/deletionTimestamp")
                .is_some_and(|v| !v.is_null())
        {
            return Ok(None);
        }
        self.requests.status(ns, name, |o| {
            if o.pointer("/status/startTime").is_none() {
                o["status"]["startTime"] = json!(crate::store::now_rfc3339());
            }
        })?;
        Ok(Some(req))
    }

    /// Phase: the source URL parses (SourceValid); continues with the URL and the source.
    pub(super) async fn validate_source(
        &self,
        ns: &str,
        name: &str,
        req: &Value,
    ) -> Result<ControlFlow<Option<Duration>, (String, Source)>, CtlError> {
        let url = s(req, "/spec/source/url").to_string();
        let source = match parse_source(&url) {
            Ok(src) => src,
            Err(p) => {
                return self
                    .fail(ns, name, cond::SOURCE_VALID, &p)
                    .map(ControlFlow::Break)
            }
        };
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::SOURCE_VALID, true, "", "");
        })?;
        self.step().await;
        Ok(ControlFlow::Continue((url, source)))
    }

    /// Phase: the target library exists and takes imports, the item type is OVF or ISO
    /// (TargetValid); continues with the target.
    pub(super) async fn validate_target(
        &self,
        ns: &str,
        name: &str,
        req: &Value,
        url: String,
    ) -> Result<ControlFlow<Option<Duration>, Target>, CtlError> {
        let invalid = |p: SourceProblem| {
            self.fail(ns, name, cond::TARGET_VALID, &p)
                .map(ControlFlow::Break)
        };
        // Hub shape: spec.target.library is the name.
        let lib_name = match req.pointer("/spec/target/library") {
            Some(Value::String(n)) => n.clone(),
            Some(v) => s(v, "/name").to_string(),
            None => String::new(),
        };
        let library = match self
            .store
            .get(&Gr::from(&k::CONTENT_LIBRARY), Some(ns), &lib_name)
        {
            Ok(l) => l,
            Err(_) => {
                return invalid(problem(
                    "TargetLibraryInvalid",
                    format!("ContentLibrary {ns}/{lib_name:?} not found"),
                ));
            }
        };
        let flag = |k: &str| {
            library
                .pointer(&format!("/spec/{k}"))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        };
        if !flag("allowImport") || !(flag("allowPublish") || flag("allowDelete")) {
            return invalid(problem(
                "TargetLibraryInvalid",
                format!("ContentLibrary {ns}/{lib_name} is not writable or does not allow imports"),
            ));
        }
        let item_type = match s(req, "/spec/target/item/type") {
            "" | "OVF" => "OVF",
            "ISO" => "ISO",
            other => {
                return invalid(problem(
                    "TargetLibraryItemInvalid",
                    format!("item type {other:?} is not OVF or ISO"),
                ));
            }
        };
        let item_name = Some(s(req, "/spec/target/item/name"))
            .filter(|n| !n.is_empty())
            .map(String::from)
            .unwrap_or_else(|| default_item_name(&url));
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::TARGET_VALID, true, "", "");
        })?;
        self.step().await;
        Ok(ControlFlow::Continue(Target {
            url,
            lib_name,
            item_type,
            item_name,
        }))
    }

    /// Phase: the (empty) ContentLibraryItem (ItemCreated).
    pub(super) async fn create_item(
        &self,
        ns: &str,
        name: &str,
        t: &Target,
    ) -> Result<Item, CtlError> {
        let uuid = uuid::Uuid::new_v4().to_string();
        let item_res = naming::item_name_for_item(&uuid);
        create_library_item(
            &self.store,
            &NewLibraryItem {
                ns,
                res: &item_res,
                uuid: &uuid,
                library: &t.lib_name,
                name: &t.item_name,
                description: None,
                item_type: t.item_type,
                size: 0,
            },
        )?;
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::ITEM_CREATED, true, "", "");
            o["status"]["itemName"] = json!(item_res);
        })?;
        self.step().await;
        Ok(Item {
            uuid,
            res: item_res,
        })
    }

    /// Phase: downloads the source into the item's storage (TemplateUploaded), unless a fault
    /// annotation fails it.
    pub(super) async fn upload(
        &self,
        ns: &str,
        name: &str,
        req: &Value,
        source: Source,
        t: &Target,
        item: &Item,
    ) -> Result<ControlFlow<Option<Duration>>, CtlError> {
        let failed = |p: SourceProblem| {
            self.fail(ns, name, cond::TEMPLATE_UPLOADED, &p)
                .map(ControlFlow::Break)
        };
        if let Some(r) = annotation(req, ANNOTATION_IMPORT_FAILURE_REASON).filter(|r| !r.is_empty())
        {
            let reason: &'static str = match r {
                "UploadSessionExpired" => "UploadSessionExpired",
                "SourceSSLCertificateUntrusted" => "SourceSSLCertificateUntrusted",
                _ => "UploadFailure",
            };
            return failed(problem(reason, "simulated import failure"));
        }
        let fetched = tokio::task::spawn_blocking(move || fetch(&source))
            .await
            .unwrap_or_else(|e| Err(problem("UploadFailure", format!("download task: {e}"))));
        let bytes = match fetched {
            Ok(b) => b,
            Err(p) => return failed(p),
        };
        let size = bytes.len() as u64;
        if let Err(e) = store_content(
            &self.cfg.state_dir,
            &t.lib_name,
            &item.uuid,
            &t.item_name,
            t.item_type,
            &t.url,
            &bytes,
        ) {
            return failed(problem("UploadFailure", e.to_string()));
        }
        let _ = self.store.modify(
            &Gr::from(&k::CONTENT_LIBRARY_ITEM),
            Some(ns),
            &item.res,
            Subresource::Status,
            |o| {
                o["status"]["sizeInBytes"] = json!(size.to_string());
                Ok(())
            },
        );
        let url = &t.url;
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::TEMPLATE_UPLOADED, true, "", "");
            o["status"]["fileUploadStatus"] = json!({"sessionUUID": uuid::Uuid::new_v4().to_string(), "completedFiles": [default_item_name(url)]});
        })?;
        self.step().await;
        Ok(ControlFlow::Continue(()))
    }

    /// Phase: the VirtualMachineImage (ItemReady), then Complete.
    pub(super) fn complete(
        &self,
        ns: &str,
        name: &str,
        req: &Value,
        t: &Target,
        item: &Item,
    ) -> Result<Option<Duration>, CtlError> {
        let creds = annotation(req, ANNOTATION_ISO_CREDENTIALS)
            .unwrap_or(DEFAULT_ISO_CREDENTIALS)
            .to_string();
        self.create_image(ns, &item.res, &item.uuid, &t.item_name, t.item_type, &creds)?;
        self.requests.status(ns, name, |o| {
            conditions::set(o, cond::ITEM_READY, true, "", "");
            conditions::set(o, cond::COMPLETE, true, "", "");
            o["status"]["completionTime"] = json!(crate::store::now_rfc3339());
        })?;
        Ok(None)
    }
}
