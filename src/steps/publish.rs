//! Step 7: publish the VM to a content library with a VirtualMachinePublishRequest and wait
//! (by watching) until it is ready, failing at once on a failure condition.
use std::collections::{BTreeMap, HashSet};

use ::kube::api::DynamicObject;
use serde_json::{json, Value as Json};
use thiserror::Error;

use super::create_source::{labels, LABEL_BUILD_ID};
use super::Ctx;
use crate::config::Config;
use crate::kube::create::create_owned;
use crate::kube::publish_status::{judge_publish, PublishEvent};
use crate::kube::retry::read;
use crate::kube::wait::{wait_for, Target, WaitError};
use crate::kube::{LibraryVersion, ObjectError, VmopVersion};
use crate::state::{ObjectKind, PublishedImage};

#[derive(Debug, Error)]
pub enum PublishError {
    #[error("building the VirtualMachinePublishRequest {name}: {source}")]
    Encode {
        name: String,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Api(#[from] ObjectError),
    #[error("publishing VirtualMachine {vm} to content library {library}: {source}")]
    Wait {
        vm: String,
        library: String,
        source: WaitError,
    },
    #[error("internal error: not connected to the Supervisor")]
    NotConnected,
}

/// The publish request. `spec.source` and the target location's apiVersion/kind are spelled out
/// rather than left to defaults, so the request says exactly what it publishes where.
pub fn publish_request_json(
    version: VmopVersion,
    cfg: &Config,
    namespace: &str,
    library: &str,
    labels: &BTreeMap<String, String>,
) -> Json {
    let mut item = json!({});
    if let Some(n) = cfg.publish_image_name.as_deref().filter(|n| !n.is_empty()) {
        item["name"] = json!(n);
    }
    if let Some(d) = cfg
        .publish_image_description
        .as_deref()
        .filter(|d| !d.is_empty())
    {
        item["description"] = json!(d);
    }
    let api_version = version.api_version();
    let mut spec = json!({
        "source": {"apiVersion": api_version, "kind": "VirtualMachine", "name": cfg.source_name},
        "target": {
            "item": item,
            "location": {"apiVersion": LibraryVersion::V1alpha1.api_version(), "kind": "ContentLibrary", "name": library},
        },
    });
    if let Some(ttl) = cfg.publish_request_ttl_sec {
        spec["ttlSecondsAfterFinished"] = json!(ttl);
    }
    json!({
        "apiVersion": api_version,
        "kind": "VirtualMachinePublishRequest",
        "metadata": {"name": cfg.source_name, "namespace": namespace, "labels": labels},
        "spec": spec,
    })
}

/// What the user reads when a publish condition turns true.
pub fn condition_line(type_: &str) -> String {
    use vmop_types::conditions::publish as cond;
    match type_ {
        cond::SOURCE_VALID => "Publish request: source VM is valid".to_string(),
        cond::TARGET_VALID => "Publish request: target content library is valid".to_string(),
        cond::UPLOADED => "Publish request: VM uploaded to the content library".to_string(),
        cond::IMAGE_AVAILABLE => "Publish request: VirtualMachineImage is available".to_string(),
        cond::COMPLETE => "Publish request: complete".to_string(),
        other => format!("Publish request: {other}"),
    }
}

/// What the user reads, once, when a condition is False with a reason the VM Operator
/// documentation does not name: the build keeps waiting, but the user sees why.
pub fn unknown_reason_line(describe: &str) -> String {
    format!("Publish request: {describe} (reason not documented by VM Operator; still waiting)")
}

/// The line to show for an event, once per condition (and per unknown reason).
fn event_line(event: PublishEvent<'_>, announced: &mut HashSet<String>) -> Option<String> {
    match event {
        PublishEvent::Reached(c) => announced
            .insert(c.type_.clone())
            .then(|| condition_line(&c.type_)),
        PublishEvent::UnknownReason(c) => announced
            .insert(format!("{}={}", c.type_, c.reason))
            .then(|| unknown_reason_line(&c.describe())),
    }
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), PublishError> {
    let cfg = ctx.config;
    let Some(library) = ctx.state.publish_library.clone() else {
        return Ok(());
    };
    let cluster = ctx.cluster().ok_or(PublishError::NotConnected)?.clone();
    let ns = cluster.namespace.clone();
    let name = cfg.source_name.clone();
    let body = publish_request_json(
        cluster.kinds.vmop,
        cfg,
        &ns,
        &library,
        &labels(&ctx.state.build_id, &name),
    );
    let obj: DynamicObject =
        serde_json::from_value(body).map_err(|source| PublishError::Encode {
            name: name.clone(),
            source,
        })?;
    let which = if cfg.publish_to_default_location {
        "the namespace's default content library"
    } else {
        "content library"
    };
    ctx.say(&format!(
        "Publishing VM {ns}/{name} to {which} {library:?}..."
    ))
    .await;
    let api = cluster.api(&cluster.kinds.publish_request);
    let kind = ObjectKind::VirtualMachinePublishRequest;
    ctx.state.ledger.intend(kind, &ns, &name);
    let created = create_owned(&api, &obj, LABEL_BUILD_ID, &ctx.state.build_id).await;
    if let Err(e) = created {
        ctx.state.ledger.forget(kind, &name);
        return Err(ObjectError::new("creating", kind.as_str(), Some(&ns), &name, e).into());
    }
    ctx.state
        .ledger
        .record(ObjectKind::VirtualMachinePublishRequest, &ns, &name);

    // Conditions are reported as they turn true; the judge runs synchronously inside the wait,
    // so it hands lines to a task that says them in order.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let ui = ctx.ui.clone();
    let printer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            ui.say(&line).await;
        }
    });
    ctx.say(&format!(
        "Waiting for VirtualMachinePublishRequest {ns}/{name} to complete..."
    ))
    .await;
    let mut announced: HashSet<String> = HashSet::new();
    let result = wait_for(
        Target {
            api: &api,
            object: format!("VirtualMachinePublishRequest {ns}/{name}"),
            name: &name,
            what: format!("VirtualMachinePublishRequest {ns}/{name} to be ready"),
        },
        cfg.watch_publish_timeout,
        &ctx.cancel,
        |obj| {
            judge_publish(&obj.data, |event| {
                if let Some(line) = event_line(event, &mut announced) {
                    let _ = tx.send(line);
                }
            })
        },
    )
    .await;
    drop(tx);
    let _ = printer.await;
    let published = result.map_err(|source| PublishError::Wait {
        vm: format!("{ns}/{name}"),
        library: library.clone(),
        source,
    })?;

    // The image's display name is the content library item's name.
    let vmi = cluster.api(&cluster.kinds.vmi);
    let display = match read("getting the published VirtualMachineImage", || {
        vmi.get_opt(&published.image_name)
    })
    .await
    {
        Ok(Some(img)) => img
            .data
            .get("status")
            .and_then(|s| s.get("name"))
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        Ok(None) => String::new(),
        Err(e) => {
            return Err(ObjectError::new(
                "getting",
                "VirtualMachineImage",
                Some(&ns),
                &published.image_name,
                e,
            )
            .into())
        }
    };
    ctx.say(&format!(
        "Published as image {}{} in content library {library:?}",
        published.image_name,
        if display.is_empty() {
            String::new()
        } else {
            format!(" ({display:?})")
        }
    ))
    .await;
    ctx.state.published = Some(PublishedImage {
        vmi_name: published.image_name,
        display_name: display,
        library,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_names_source_target_and_ttl() {
        let cfg = Config {
            source_name: "source-abcde".into(),
            publish_image_name: Some("golden".into()),
            publish_image_description: Some("built by packer".into()),
            publish_request_ttl_sec: Some(60),
            ..Config::default()
        };
        let r = publish_request_json(
            VmopVersion::V1alpha5,
            &cfg,
            "demo",
            "lib",
            &labels("b", "source-abcde"),
        );
        assert_eq!(r["kind"], "VirtualMachinePublishRequest");
        assert_eq!(r["spec"]["source"]["name"], "source-abcde");
        assert_eq!(r["spec"]["target"]["location"]["name"], "lib");
        assert_eq!(r["spec"]["target"]["item"]["name"], "golden");
        assert_eq!(
            r["spec"]["target"]["item"]["description"],
            "built by packer"
        );
        assert_eq!(r["spec"]["ttlSecondsAfterFinished"], 60);
        assert_eq!(r["metadata"]["labels"]["packer.io/build-id"], "b");
        let plain = Config {
            source_name: "s".into(),
            ..Config::default()
        };
        let r = publish_request_json(
            VmopVersion::V1alpha3,
            &plain,
            "demo",
            "lib",
            &labels("b", "s"),
        );
        assert!(r["spec"]["target"]["item"].get("name").is_none());
        assert!(r["spec"].get("ttlSecondsAfterFinished").is_none());
    }
}
