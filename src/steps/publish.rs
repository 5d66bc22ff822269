//! Step 7: publish the VM to a content library with a VirtualMachinePublishRequest and wait
//! (by watching) until it is ready, failing at once on a failure condition.
use std::collections::{BTreeMap, HashSet};

use ::kube::api::Api;
use thiserror::Error;
use vmop_types::api::{Scope, CONTENT_LIBRARY, VIRTUAL_MACHINE};
use vmop_types::meta::TypedRef;
use vmop_types::publish::{PublishItem, PublishSpec, PublishTarget};
use vmop_types::{LibraryVersion, VirtualMachinePublishRequest, VmopVersion};

use super::create_source::{labels, metadata, LABEL_BUILD_ID};
use super::Ctx;
use crate::config::Config;
use crate::kube::create::create_owned;
use crate::kube::publish_status::{judge_publish, PublishEvent, Published};
use crate::kube::retry::read;
use crate::kube::wait::{wait_for, Target, WaitError};
use crate::kube::{Cluster, ObjectError};
use crate::state::{ObjectKind, PublishedImage};

#[derive(Debug, Error)]
pub enum PublishError {
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
pub fn publish_request(
    version: VmopVersion,
    cfg: &Config,
    namespace: &str,
    library: &str,
    labels: &BTreeMap<String, String>,
) -> VirtualMachinePublishRequest {
    let non_empty = |o: &Option<String>| o.clone().filter(|s| !s.is_empty()).unwrap_or_default();
    let item = PublishItem {
        name: non_empty(&cfg.publish_image_name),
        description: non_empty(&cfg.publish_image_description),
        ..PublishItem::default()
    };
    let spec = PublishSpec {
        source: Some(TypedRef {
            api_version: version.api_version(),
            kind: VIRTUAL_MACHINE.kind.to_string(),
            name: cfg.source_name.clone(),
        }),
        target: Some(PublishTarget {
            item: Some(item),
            location: Some(TypedRef {
                api_version: LibraryVersion::V1alpha1.api_version(),
                kind: CONTENT_LIBRARY.kind.to_string(),
                name: library.to_string(),
            }),
            ..PublishTarget::default()
        }),
        ttl_seconds_after_finished: cfg.publish_request_ttl_sec,
        ..PublishSpec::default()
    };
    let meta = metadata(&cfg.source_name, namespace, labels);
    VirtualMachinePublishRequest::new(&version, meta, spec)
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
    let Some(library) = ctx.state.publish_library.clone() else {
        return Ok(());
    };
    let cluster = ctx.cluster().ok_or(PublishError::NotConnected)?.clone();
    let api = create_request(ctx, &cluster, &library).await?;
    let published = wait_published(ctx, &api, &library).await?;
    let display = display_name(&cluster, &published.image_name).await?;
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

/// Creates the publish request (in the ledger from just before it is sent).
async fn create_request(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    library: &str,
) -> Result<Api<VirtualMachinePublishRequest>, PublishError> {
    let cfg = ctx.config;
    let (ns, name) = (cluster.namespace.as_str(), cfg.source_name.as_str());
    let labels = labels(&ctx.state.build_id, name);
    let request = publish_request(cluster.kinds.vmop, cfg, ns, library, &labels);
    let which = if cfg.publish_to_default_location {
        "the namespace's default content library"
    } else {
        "content library"
    };
    ctx.say(&format!(
        "Publishing VM {ns}/{name} to {which} {library:?}..."
    ))
    .await;
    let api = cluster.vmop::<VirtualMachinePublishRequest>();
    let kind = ObjectKind::VirtualMachinePublishRequest;
    ctx.state.ledger.intend(kind, ns, name);
    let created = create_owned(&api, &request, LABEL_BUILD_ID, &ctx.state.build_id).await;
    if let Err(e) = created {
        ctx.state.ledger.forget(kind, name);
        return Err(ObjectError::new("creating", kind.as_str(), Some(ns), name, e).into());
    }
    ctx.state.ledger.record(kind, ns, name);
    Ok(api)
}

/// Watches the request until it is ready, saying each condition as it turns true.
async fn wait_published(
    ctx: &Ctx<'_>,
    api: &Api<VirtualMachinePublishRequest>,
    library: &str,
) -> Result<Published, PublishError> {
    let ns = api.namespace().unwrap_or_default();
    let name = ctx.config.source_name.as_str();
    // The judge runs synchronously inside the wait, so it hands lines to a task that says them
    // in order.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let ui = ctx.ui.clone();
    let printer = tokio::spawn(async move {
        while let Some(line) = rx.recv().await {
            ui.say(&line).await;
        }
    });
    let object = format!("VirtualMachinePublishRequest {ns}/{name}");
    ctx.say(&format!("Waiting for {object} to complete..."))
        .await;
    let mut announced: HashSet<String> = HashSet::new();
    let target = Target {
        api,
        object: object.clone(),
        name,
        what: format!("{object} to be ready"),
    };
    let result = wait_for(target, ctx.config.watch_publish_timeout, &ctx.cancel, |r| {
        judge_publish(r, |event| {
            if let Some(line) = event_line(event, &mut announced) {
                let _ = tx.send(line);
            }
        })
    })
    .await;
    drop(tx);
    let _ = printer.await;
    result.map_err(|source| PublishError::Wait {
        vm: format!("{ns}/{name}"),
        library: library.to_string(),
        source,
    })
}

/// The published image's display name (the content library item's name); empty if unknown.
async fn display_name(cluster: &Cluster, image: &str) -> Result<String, PublishError> {
    let vmi = cluster.images(Scope::Namespaced);
    match read("getting the published VirtualMachineImage", || {
        vmi.get_opt(image)
    })
    .await
    {
        Ok(img) => Ok(img
            .and_then(|i| i.status)
            .map(|s| s.name)
            .unwrap_or_default()),
        Err(e) => Err(ObjectError::new(
            "getting",
            "VirtualMachineImage",
            Some(&cluster.namespace),
            image,
            e,
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(r: VirtualMachinePublishRequest) -> serde_json::Value {
        serde_json::to_value(r).expect("serializes")
    }

    #[test]
    fn request_names_source_target_and_ttl() {
        let cfg = Config {
            source_name: "source-abcde".into(),
            publish_image_name: Some("golden".into()),
            publish_image_description: Some("built by packer".into()),
            publish_request_ttl_sec: Some(60),
            ..Config::default()
        };
        let r = wire(publish_request(
            VmopVersion::V1alpha5,
            &cfg,
            "demo",
            "lib",
            &labels("b", "source-abcde"),
        ));
        assert_eq!(r["kind"], "VirtualMachinePublishRequest");
        assert_eq!(r["spec"]["source"]["name"], "source-abcde");
        assert_eq!(r["spec"]["target"]["location"]["name"], "lib");
        assert_eq!(r["spec"]["target"]["item"]["name"], "golden");
        assert_eq!(
            r["spec"]["target"]["item"]["description"],
            "built by packer"
        );
        assert_eq!(r["spec"]["ttlSecondsAfterFinished"], 60);
        assert_eq!(r["metadata"]["labels"][LABEL_BUILD_ID], "b");
        assert_eq!(r["apiVersion"], VmopVersion::V1alpha5.api_version());
        assert_eq!(r["spec"]["source"]["kind"], "VirtualMachine");
        assert_eq!(
            r["spec"]["target"]["location"]["apiVersion"],
            LibraryVersion::V1alpha1.api_version()
        );
        let plain = Config {
            source_name: "s".into(),
            ..Config::default()
        };
        let r = wire(publish_request(
            VmopVersion::V1alpha3,
            &plain,
            "demo",
            "lib",
            &labels("b", "s"),
        ));
        assert!(r["spec"]["target"]["item"].get("name").is_none());
        assert!(r["spec"].get("ttlSecondsAfterFinished").is_none());
    }
}
