//! Step 4: create the bootstrap Secret (or the ISO boot disk), the VirtualMachine and, unless
//! the communicator is `none`, a LoadBalancer VirtualMachineService for it. Every object is
//! labelled with the build and recorded in the ledger as soon as the API server accepts it.
use std::collections::BTreeMap;

use ::kube::api::{ApiResource, DynamicObject};
use base64::Engine;
use serde_json::{json, Value as Json};
use thiserror::Error;

use super::Ctx;
use crate::bootstrap::{self, BootstrapError, KEY_UNATTEND, KEY_USER_DATA};
use crate::config::{BootstrapProvider, CommKind, Config};
use crate::kube::create::create_owned;
use crate::kube::{ObjectError, VmopVersion};
use crate::state::{ObjectKind, ResolvedImage};

/// Labels on every object of a build.
pub const LABEL_BUILD_ID: &str = "packer.io/build-id";
pub const LABEL_SOURCE_NAME: &str = "packer.io/source-name";
/// Upstream's VM label, which the VirtualMachineService selects on.
pub const LABEL_SOURCE_SELECTOR: &str = "source-selector";

#[derive(Debug, Error)]
pub enum CreateError {
    #[error("preparing the bootstrap data for {source_name}: {source}")]
    Bootstrap {
        source_name: String,
        source: BootstrapError,
    },
    #[error("building the {kind} object {name}: {source}")]
    Encode {
        kind: &'static str,
        name: String,
        source: serde_json::Error,
    },
    #[error("internal error: no resolved image")]
    NoImage,
    #[error("internal error: not connected to the Supervisor")]
    NotConnected,
    #[error(transparent)]
    Api(#[from] ObjectError),
}

/// Labels that trace an object back to this build.
pub fn labels(build_id: &str, source_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (LABEL_BUILD_ID.to_string(), build_id.to_string()),
        (LABEL_SOURCE_NAME.to_string(), source_name.to_string()),
        (LABEL_SOURCE_SELECTOR.to_string(), source_name.to_string()),
    ])
}

fn metadata(name: &str, namespace: &str, labels: &BTreeMap<String, String>) -> Json {
    json!({"name": name, "namespace": namespace, "labels": labels})
}

/// The bootstrap Secret; values go base64-encoded in `data` (what every API server stores).
pub fn secret_json(
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    data: &BTreeMap<String, String>,
) -> Json {
    let enc = base64::engine::general_purpose::STANDARD;
    let data: BTreeMap<&String, String> = data.iter().map(|(k, v)| (k, enc.encode(v))).collect();
    json!({
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(name, namespace, labels),
        "type": "Opaque",
        "data": data,
    })
}

/// The ISO flow's boot disk.
pub fn pvc_json(
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    storage_class: &str,
    size: &str,
) -> Json {
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata(name, namespace, labels),
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}},
            "storageClassName": storage_class,
        },
    })
}

/// `spec.bootstrap` for a provider; the Secret is named like the VM.
pub fn bootstrap_json(provider: BootstrapProvider, secret: &str) -> Json {
    match provider {
        BootstrapProvider::CloudInit => {
            json!({"cloudInit": {"rawCloudConfig": {"name": secret, "key": KEY_USER_DATA}}})
        }
        BootstrapProvider::Sysprep => {
            json!({"sysprep": {"rawSysprep": {"name": secret, "key": KEY_UNATTEND}}})
        }
        BootstrapProvider::VAppConfig => json!({"vAppConfig": {"rawProperties": secret}}),
    }
}

/// The VirtualMachine at the chosen API version.
pub fn vm_json(
    version: VmopVersion,
    cfg: &Config,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    image: &ResolvedImage,
) -> Json {
    let name = cfg.source_name.as_str();
    let image_ref = json!({"kind": image.kind, "name": image.name});
    let mut spec = json!({
        "className": cfg.class_name,
        "storageClass": cfg.storage_class,
        "powerState": "PoweredOn",
    });
    if is_iso(image) {
        let cdrom = json!([{"name": "cdrom", "image": image_ref, "connected": true, "allowGuestControl": true}]);
        spec["guestID"] = json!(cfg.guest_os_type);
        spec["volumes"] =
            json!([{"name": "vm-boot-disk", "persistentVolumeClaim": {"claimName": name}}]);
        if version.cdrom_under_hardware() {
            spec["hardware"] = json!({"cdrom": cdrom});
        } else {
            spec["cdrom"] = cdrom;
        }
    } else {
        spec["imageName"] = json!(image.name);
        spec["image"] = image_ref;
        spec["bootstrap"] = bootstrap_json(cfg.bootstrap_provider, name);
    }
    let mut vm = json!({
        "apiVersion": version.api_version(),
        "kind": "VirtualMachine",
        "metadata": metadata(name, namespace, labels),
        "spec": spec,
    });
    if version == VmopVersion::V1alpha1 {
        vmop_types::spoke_v1alpha1::vm_request(&mut vm);
    }
    vm
}

/// The LoadBalancer service in front of the VM's SSH or WinRM port.
pub fn service_json(
    version: VmopVersion,
    cfg: &Config,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> Json {
    let (port_name, port) = match cfg.comm.kind {
        CommKind::WinRm => ("winrm", cfg.comm.winrm.port),
        _ => ("ssh", cfg.comm.ssh.port),
    };
    json!({
        "apiVersion": version.api_version(),
        "kind": "VirtualMachineService",
        "metadata": metadata(&cfg.source_name, namespace, labels),
        "spec": {
            "type": "LoadBalancer",
            "selector": {LABEL_SOURCE_SELECTOR: cfg.source_name},
            "ports": [{"name": port_name, "protocol": "TCP", "port": port, "targetPort": port}],
        },
    })
}

pub fn is_iso(image: &ResolvedImage) -> bool {
    image.image_type.eq_ignore_ascii_case("ISO")
}

/// Creates one object and records it in the ledger the moment the server accepts it.
async fn create(
    ctx: &mut Ctx<'_>,
    kind: ObjectKind,
    res: &ApiResource,
    body: Json,
) -> Result<(), CreateError> {
    let cluster = ctx.cluster().ok_or(CreateError::NotConnected)?.clone();
    let name = ctx.config.source_name.clone();
    let obj: DynamicObject =
        serde_json::from_value(body).map_err(|source| CreateError::Encode {
            kind: kind.as_str(),
            name: name.clone(),
            source,
        })?;
    ctx.say(&format!("Creating {kind} {}/{name}", cluster.namespace))
        .await;
    // In the ledger before the request goes out: a build cancelled while it is in flight
    // still deletes what it may have created.
    ctx.state.ledger.intend(kind, &cluster.namespace, &name);
    let created = create_owned(&cluster.api(res), &obj, LABEL_BUILD_ID, &ctx.state.build_id).await;
    if let Err(e) = created {
        ctx.state.ledger.forget(kind, &name);
        return Err(ObjectError::new(
            "creating",
            kind.as_str(),
            Some(&cluster.namespace),
            &name,
            e,
        )
        .into());
    }
    ctx.state.ledger.record(kind, &cluster.namespace, &name);
    Ok(())
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), CreateError> {
    let cfg = ctx.config;
    let cluster = ctx.cluster().ok_or(CreateError::NotConnected)?.clone();
    let image = ctx.state.image.clone().ok_or(CreateError::NoImage)?;
    let ns = cluster.namespace.clone();
    let name = cfg.source_name.clone();
    let labels = labels(&ctx.state.build_id, &name);
    ctx.say(&format!(
        "Creating source objects named {name} in namespace {ns}"
    ))
    .await;

    if is_iso(&image) {
        ctx.say(&format!("Deploying VM from ISO image {}", image.name))
            .await;
        let body = pvc_json(
            &name,
            &ns,
            &labels,
            &cfg.storage_class,
            &cfg.iso_boot_disk_size,
        );
        create(
            ctx,
            ObjectKind::PersistentVolumeClaim,
            &cluster.kinds.pvc,
            body,
        )
        .await?;
    } else {
        ctx.say(&format!("Deploying VM from OVF image {}", image.name))
            .await;
        let public_key = ctx
            .state
            .temp_key
            .as_ref()
            .map(|k| k.public_openssh.clone())
            .or_else(|| ctx.state.user_public_key.clone());
        let ssh = &cfg.comm.ssh;
        // Prepare already read and checked the data file; fall back to reading it here only
        // when it did not (a Config built by other means).
        let data = match &cfg.bootstrap_data {
            Some(d) => d.clone(),
            None => bootstrap::load_secret_data(
                cfg.bootstrap_provider,
                cfg.bootstrap_data_file.as_deref(),
                || {
                    bootstrap::default_cloud_config(
                        &ssh.username,
                        ssh.password.as_deref(),
                        public_key.as_deref(),
                        cfg.cloud_config_passwordless_sudo,
                    )
                },
            )
            .map_err(|source| CreateError::Bootstrap {
                source_name: name.clone(),
                source,
            })?,
        };
        let body = secret_json(&name, &ns, &labels, &data);
        create(ctx, ObjectKind::Secret, &cluster.kinds.secret, body).await?;
    }

    let body = vm_json(cluster.kinds.vmop, cfg, &ns, &labels, &image);
    create(ctx, ObjectKind::VirtualMachine, &cluster.kinds.vm, body).await?;

    if cfg.comm.kind == CommKind::None {
        ctx.say("Skip creating VirtualMachineService as communicator type is 'none'")
            .await;
    } else {
        let body = service_json(cluster.kinds.vmop, cfg, &ns, &labels);
        create(
            ctx,
            ObjectKind::VirtualMachineService,
            &cluster.kinds.vm_service,
            body,
        )
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> Config {
        let mut c = Config {
            class_name: "best-effort-small".into(),
            storage_class: "wcp-storage".into(),
            source_name: "source-abcde".into(),
            guest_os_type: "ubuntu64Guest".into(),
            iso_boot_disk_size: "20Gi".into(),
            ..Config::default()
        };
        c.comm.ssh.port = 22;
        c.comm.winrm.port = 5985;
        c
    }

    fn ovf() -> ResolvedImage {
        ResolvedImage {
            kind: "ClusterVirtualMachineImage".into(),
            name: "vmi-0a0044d7c690bcbea".into(),
            display_name: "ubuntu".into(),
            image_type: "OVF".into(),
        }
    }

    #[test]
    fn ovf_vm_references_bootstrap_secret_and_image() {
        let l = labels("b1", "source-abcde");
        let vm = vm_json(VmopVersion::V1alpha5, &cfg(), "demo", &l, &ovf());
        assert_eq!(vm["apiVersion"], "vmoperator.vmware.com/v1alpha5");
        assert_eq!(vm["metadata"]["labels"]["source-selector"], "source-abcde");
        assert_eq!(vm["metadata"]["labels"]["packer.io/build-id"], "b1");
        assert_eq!(vm["spec"]["imageName"], "vmi-0a0044d7c690bcbea");
        assert_eq!(vm["spec"]["image"]["kind"], "ClusterVirtualMachineImage");
        assert_eq!(
            vm["spec"]["bootstrap"]["cloudInit"]["rawCloudConfig"]["name"],
            "source-abcde"
        );
        assert_eq!(
            vm["spec"]["bootstrap"]["cloudInit"]["rawCloudConfig"]["key"],
            "user-data"
        );
        assert!(vm["spec"].get("cdrom").is_none());
    }

    #[test]
    fn bootstrap_per_provider() {
        assert_eq!(
            bootstrap_json(BootstrapProvider::Sysprep, "s")["sysprep"]["rawSysprep"]["key"],
            "unattend"
        );
        assert_eq!(
            bootstrap_json(BootstrapProvider::VAppConfig, "s")["vAppConfig"]["rawProperties"],
            "s"
        );
    }

    #[test]
    fn iso_cdrom_moves_in_v1alpha5() {
        let iso = ResolvedImage {
            image_type: "ISO".into(),
            ..ovf()
        };
        let l = labels("b", "source-abcde");
        let v3 = vm_json(VmopVersion::V1alpha3, &cfg(), "demo", &l, &iso);
        assert_eq!(
            v3["spec"]["cdrom"][0]["image"]["name"],
            "vmi-0a0044d7c690bcbea"
        );
        assert_eq!(v3["spec"]["guestID"], "ubuntu64Guest");
        assert!(v3["spec"].get("hardware").is_none());
        assert!(v3["spec"].get("bootstrap").is_none());
        let v5 = vm_json(VmopVersion::V1alpha5, &cfg(), "demo", &l, &iso);
        assert_eq!(
            v5["spec"]["hardware"]["cdrom"][0]["image"]["kind"],
            "ClusterVirtualMachineImage"
        );
        assert!(v5["spec"].get("cdrom").is_none());
        assert_eq!(
            v5["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "source-abcde"
        );
    }

    #[test]
    fn service_selects_the_vm_on_the_communicator_port() {
        let mut c = cfg();
        let s = service_json(
            VmopVersion::V1alpha3,
            &c,
            "demo",
            &labels("b", "source-abcde"),
        );
        assert_eq!(s["spec"]["type"], "LoadBalancer");
        assert_eq!(s["spec"]["selector"]["source-selector"], "source-abcde");
        assert_eq!(s["spec"]["ports"][0]["name"], "ssh");
        assert_eq!(s["spec"]["ports"][0]["port"], 22);
        c.comm.kind = CommKind::WinRm;
        let s = service_json(
            VmopVersion::V1alpha3,
            &c,
            "demo",
            &labels("b", "source-abcde"),
        );
        assert_eq!(s["spec"]["ports"][0]["name"], "winrm");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 5985);
    }

    #[test]
    fn secret_data_is_base64() {
        let s = secret_json(
            "n",
            "ns",
            &labels("b", "n"),
            &BTreeMap::from([("user-data".to_string(), "hi".to_string())]),
        );
        assert_eq!(s["data"]["user-data"], "aGk=");
        assert_eq!(s["type"], "Opaque");
    }
}
