//! Step 4: create the bootstrap Secret (or the ISO boot disk), the VirtualMachine and, unless
//! the communicator is `none`, a LoadBalancer VirtualMachineService for it. Every object is
//! labelled with the build and recorded in the ledger as soon as the API server accepts it.
//! The objects are vmop-types' typed kinds (k8s-openapi's for Secret and PVC), built at the
//! VM Operator version the cluster serves.
use std::collections::BTreeMap;
use std::fmt::Debug;

use ::kube::api::Api;
use ::kube::Resource;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::ByteString;
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;
use vmop_types::image::image_type;
use vmop_types::meta::SecretKeySelector;
use vmop_types::service::{service_type, VmServicePort, VmServiceSpec};
use vmop_types::vm::{
    image_ref, power, Bootstrap, Cdrom, CloudInit, Hardware, PvcSource, Sysprep, VAppConfig,
    VirtualMachineSpec, Volume,
};
use vmop_types::{ObjectMeta, VirtualMachine, VirtualMachineService, VmopVersion};

use super::Ctx;
use crate::bootstrap::{self, BootstrapError, KEY_UNATTEND, KEY_USER_DATA};
use crate::config::{BootstrapProvider, CommKind, Config};
use crate::kube::create::create_owned;
use crate::kube::{Cluster, ObjectError};
use crate::state::{ObjectKind, ResolvedImage};

/// Labels on every object of a build, and upstream's VM label, which the VirtualMachineService
/// selects on.
pub use vmop_types::naming::{LABEL_BUILD_ID, LABEL_SOURCE_NAME, LABEL_SOURCE_SELECTOR};

#[derive(Debug, Error)]
pub enum CreateError {
    #[error("preparing the bootstrap data for {source_name}: {source}")]
    Bootstrap {
        source_name: String,
        source: BootstrapError,
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

/// `metadata` of an object the build creates.
pub fn metadata(name: &str, namespace: &str, labels: &BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels.clone()),
        ..ObjectMeta::default()
    }
}

/// The bootstrap Secret; values go base64-encoded in `data` (what every API server stores).
pub fn secret(
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    data: &BTreeMap<String, String>,
) -> Secret {
    let data = data
        .iter()
        .map(|(k, v)| (k.clone(), ByteString(v.as_bytes().to_vec())))
        .collect();
    Secret {
        metadata: metadata(name, namespace, labels),
        type_: Some("Opaque".to_string()),
        data: Some(data),
        ..Secret::default()
    }
}

/// The ISO flow's boot disk.
pub fn pvc(
    name: &str,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    storage_class: &str,
    size: &str,
) -> PersistentVolumeClaim {
    let requests = BTreeMap::from([("storage".to_string(), Quantity(size.to_string()))]);
    PersistentVolumeClaim {
        metadata: metadata(name, namespace, labels),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(requests),
                ..VolumeResourceRequirements::default()
            }),
            storage_class_name: Some(storage_class.to_string()),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// `spec.bootstrap` for a provider; the Secret is named like the VM.
pub fn bootstrap_spec(provider: BootstrapProvider, secret: &str) -> Bootstrap {
    let raw = |key: &str| {
        Some(SecretKeySelector {
            name: secret.to_string(),
            key: key.to_string(),
        })
    };
    match provider {
        BootstrapProvider::CloudInit => Bootstrap {
            cloud_init: Some(CloudInit {
                raw_cloud_config: raw(KEY_USER_DATA),
                ..CloudInit::default()
            }),
            ..Bootstrap::default()
        },
        BootstrapProvider::Sysprep => Bootstrap {
            sysprep: Some(Sysprep {
                raw_sysprep: raw(KEY_UNATTEND),
                ..Sysprep::default()
            }),
            ..Bootstrap::default()
        },
        BootstrapProvider::VAppConfig => Bootstrap {
            vapp_config: Some(VAppConfig {
                raw_properties: Some(secret.to_string()),
                ..VAppConfig::default()
            }),
            ..Bootstrap::default()
        },
    }
}

/// The VirtualMachine at the chosen API version (vmop-types writes the CD-ROMs where that
/// version keeps them, and v1alpha1's `spec.vmMetadata`).
pub fn vm(
    version: VmopVersion,
    cfg: &Config,
    namespace: &str,
    labels: &BTreeMap<String, String>,
    image: &ResolvedImage,
) -> VirtualMachine {
    let name = cfg.source_name.as_str();
    let mut spec = VirtualMachineSpec {
        class_name: Some(cfg.class_name.clone()),
        storage_class: Some(cfg.storage_class.clone()),
        power_state: Some(power::ON.to_string()),
        ..VirtualMachineSpec::default()
    };
    if is_iso(image) {
        let cdrom = Cdrom {
            name: "cdrom".to_string(),
            image: image_ref(&image.kind, &image.name),
            connected: Some(true),
            allow_guest_control: Some(true),
            ..Cdrom::default()
        };
        spec.guest_id = Some(cfg.guest_os_type.clone());
        spec.volumes = Some(vec![Volume {
            name: "vm-boot-disk".to_string(),
            persistent_volume_claim: Some(PvcSource {
                claim_name: name.to_string(),
                ..PvcSource::default()
            }),
            ..Volume::default()
        }]);
        spec.hardware = Some(Hardware {
            cdrom: Some(vec![cdrom]),
            ..Hardware::default()
        });
    } else {
        spec.image_name = Some(image.name.clone());
        spec.image = Some(image_ref(&image.kind, &image.name));
        spec.bootstrap = Some(bootstrap_spec(cfg.bootstrap_provider, name));
    }
    VirtualMachine::new(&version, metadata(name, namespace, labels), spec)
}

/// The LoadBalancer service in front of the VM's SSH or WinRM port.
pub fn service(
    version: VmopVersion,
    cfg: &Config,
    namespace: &str,
    labels: &BTreeMap<String, String>,
) -> VirtualMachineService {
    let (port_name, port) = match cfg.comm.kind {
        CommKind::WinRm => ("winrm", cfg.comm.winrm.port),
        _ => ("ssh", cfg.comm.ssh.port),
    };
    let spec = VmServiceSpec {
        type_: service_type::LOAD_BALANCER.to_string(),
        selector: BTreeMap::from([(LABEL_SOURCE_SELECTOR.to_string(), cfg.source_name.clone())]),
        ports: vec![VmServicePort {
            name: port_name.to_string(),
            protocol: "TCP".to_string(),
            port: i32::from(port),
            target_port: i32::from(port),
            ..VmServicePort::default()
        }],
        ..VmServiceSpec::default()
    };
    VirtualMachineService::new(
        &version,
        metadata(&cfg.source_name, namespace, labels),
        spec,
    )
}

pub fn is_iso(image: &ResolvedImage) -> bool {
    image.image_type.eq_ignore_ascii_case(image_type::ISO)
}

/// Creates one object and records it in the ledger the moment the server accepts it.
async fn create<K>(
    ctx: &mut Ctx<'_>,
    kind: ObjectKind,
    api: Api<K>,
    obj: K,
) -> Result<(), CreateError>
where
    K: Resource + Clone + Serialize + DeserializeOwned + Debug,
{
    let ns = api.namespace().unwrap_or_default().to_string();
    let name = ctx.config.source_name.clone();
    ctx.say(&format!("Creating {kind} {ns}/{name}")).await;
    // In the ledger before the request goes out: a build cancelled while it is in flight
    // still deletes what it may have created.
    ctx.state.ledger.intend(kind, &ns, &name);
    let created = create_owned(&api, &obj, LABEL_BUILD_ID, &ctx.state.build_id).await;
    if let Err(e) = created {
        ctx.state.ledger.forget(kind, &name);
        return Err(ObjectError::new("creating", kind.as_str(), Some(&ns), &name, e).into());
    }
    ctx.state.ledger.record(kind, &ns, &name);
    Ok(())
}

/// The bootstrap data: what Prepare read, or (for a Config built by other means) read now.
fn bootstrap_data(ctx: &Ctx<'_>) -> Result<BTreeMap<String, String>, BootstrapError> {
    let cfg = ctx.config;
    if let Some(d) = &cfg.bootstrap_data {
        return Ok(d.clone());
    }
    let public_key = ctx
        .state
        .temp_key
        .as_ref()
        .map(|k| k.public_openssh.clone())
        .or_else(|| ctx.state.user_public_key.clone());
    let ssh = &cfg.comm.ssh;
    bootstrap::load_secret_data(
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
}

/// ISO images: the PVC the OS is installed on.
async fn create_boot_disk(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    image: &ResolvedImage,
) -> Result<(), CreateError> {
    let cfg = ctx.config;
    ctx.say(&format!("Deploying VM from ISO image {}", image.name))
        .await;
    let labels = labels(&ctx.state.build_id, &cfg.source_name);
    let (sc, size) = (&cfg.storage_class, &cfg.iso_boot_disk_size);
    let disk = pvc(&cfg.source_name, &cluster.namespace, &labels, sc, size);
    let kind = ObjectKind::PersistentVolumeClaim;
    create(ctx, kind, cluster.core(), disk).await
}

/// OVF images: the Secret the bootstrap provider reads.
async fn create_bootstrap_secret(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    image: &ResolvedImage,
) -> Result<(), CreateError> {
    ctx.say(&format!("Deploying VM from OVF image {}", image.name))
        .await;
    let data = bootstrap_data(ctx).map_err(|source| CreateError::Bootstrap {
        source_name: ctx.config.source_name.clone(),
        source,
    })?;
    let name = &ctx.config.source_name;
    let labels = labels(&ctx.state.build_id, name);
    let body = secret(name, &cluster.namespace, &labels, &data);
    create(ctx, ObjectKind::Secret, cluster.core(), body).await
}

async fn create_vm(
    ctx: &mut Ctx<'_>,
    cluster: &Cluster,
    image: &ResolvedImage,
) -> Result<(), CreateError> {
    let labels = labels(&ctx.state.build_id, &ctx.config.source_name);
    let body = vm(
        cluster.kinds.vmop,
        ctx.config,
        &cluster.namespace,
        &labels,
        image,
    );
    create(ctx, ObjectKind::VirtualMachine, cluster.vmop(), body).await
}

/// The VirtualMachineService, unless the communicator is `none`.
async fn create_service(ctx: &mut Ctx<'_>, cluster: &Cluster) -> Result<(), CreateError> {
    if ctx.config.comm.kind == CommKind::None {
        ctx.say("Skip creating VirtualMachineService as communicator type is 'none'")
            .await;
        return Ok(());
    }
    let labels = labels(&ctx.state.build_id, &ctx.config.source_name);
    let body = service(cluster.kinds.vmop, ctx.config, &cluster.namespace, &labels);
    create(ctx, ObjectKind::VirtualMachineService, cluster.vmop(), body).await
}

pub async fn run(ctx: &mut Ctx<'_>) -> Result<(), CreateError> {
    let cluster = ctx.cluster().ok_or(CreateError::NotConnected)?.clone();
    let image = ctx.state.image.clone().ok_or(CreateError::NoImage)?;
    ctx.say(&format!(
        "Creating source objects named {} in namespace {}",
        ctx.config.source_name, cluster.namespace
    ))
    .await;
    if is_iso(&image) {
        create_boot_disk(ctx, &cluster, &image).await?;
    } else {
        create_bootstrap_secret(ctx, &cluster, &image).await?;
    }
    create_vm(ctx, &cluster, &image).await?;
    create_service(ctx, &cluster).await
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

    /// What goes on the wire.
    fn wire(obj: impl Serialize) -> serde_json::Value {
        serde_json::to_value(obj).expect("serializes")
    }

    #[test]
    fn ovf_vm_references_bootstrap_secret_and_image() {
        let l = labels("b1", "source-abcde");
        let vm = wire(vm(VmopVersion::V1alpha5, &cfg(), "demo", &l, &ovf()));
        assert_eq!(vm["apiVersion"], VmopVersion::V1alpha5.api_version());
        assert_eq!(vm["kind"], "VirtualMachine");
        assert_eq!(
            vm["metadata"]["labels"][LABEL_SOURCE_SELECTOR],
            "source-abcde"
        );
        assert_eq!(vm["metadata"]["labels"][LABEL_BUILD_ID], "b1");
        assert_eq!(vm["spec"]["imageName"], "vmi-0a0044d7c690bcbea");
        assert_eq!(vm["spec"]["image"]["kind"], "ClusterVirtualMachineImage");
        assert_eq!(vm["spec"]["powerState"], "PoweredOn");
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
    fn a_v1alpha1_vm_names_its_secret_in_vm_metadata() {
        let l = labels("b1", "source-abcde");
        let vm = wire(vm(VmopVersion::V1alpha1, &cfg(), "demo", &l, &ovf()));
        assert_eq!(vm["apiVersion"], VmopVersion::V1alpha1.api_version());
        assert_eq!(vm["spec"]["vmMetadata"]["secretName"], "source-abcde");
        assert_eq!(vm["spec"]["vmMetadata"]["transport"], "CloudInit");
        assert_eq!(vm["spec"]["powerState"], "poweredOn");
        assert!(vm["spec"].get("bootstrap").is_none());
    }

    #[test]
    fn bootstrap_per_provider() {
        let sysprep = bootstrap_spec(BootstrapProvider::Sysprep, "s");
        assert_eq!(
            sysprep.sysprep.unwrap().raw_sysprep.unwrap().key,
            "unattend"
        );
        let vapp = bootstrap_spec(BootstrapProvider::VAppConfig, "s");
        assert_eq!(
            vapp.vapp_config.unwrap().raw_properties.as_deref(),
            Some("s")
        );
        let ci = bootstrap_spec(BootstrapProvider::CloudInit, "s");
        assert_eq!(
            ci.cloud_init.unwrap().raw_cloud_config.unwrap().key,
            "user-data"
        );
    }

    #[test]
    fn iso_cdrom_moves_in_v1alpha5() {
        let iso = ResolvedImage {
            image_type: "ISO".into(),
            ..ovf()
        };
        let l = labels("b", "source-abcde");
        let v3 = wire(vm(VmopVersion::V1alpha3, &cfg(), "demo", &l, &iso));
        assert_eq!(
            v3["spec"]["cdrom"][0]["image"]["name"],
            "vmi-0a0044d7c690bcbea"
        );
        assert_eq!(v3["spec"]["guestID"], "ubuntu64Guest");
        assert!(v3["spec"].get("hardware").is_none());
        assert!(v3["spec"].get("bootstrap").is_none());
        let v5 = wire(vm(VmopVersion::V1alpha5, &cfg(), "demo", &l, &iso));
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
        let l = labels("b", "source-abcde");
        let s = wire(service(VmopVersion::V1alpha3, &c, "demo", &l));
        assert_eq!(s["apiVersion"], VmopVersion::V1alpha3.api_version());
        assert_eq!(s["spec"]["type"], "LoadBalancer");
        assert_eq!(s["spec"]["selector"][LABEL_SOURCE_SELECTOR], "source-abcde");
        assert_eq!(s["spec"]["ports"][0]["name"], "ssh");
        assert_eq!(s["spec"]["ports"][0]["port"], 22);
        c.comm.kind = CommKind::WinRm;
        let s = wire(service(VmopVersion::V1alpha3, &c, "demo", &l));
        assert_eq!(s["spec"]["ports"][0]["name"], "winrm");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 5985);
    }

    #[test]
    fn secret_data_is_base64_and_the_disk_asks_for_its_size() {
        let s = wire(secret(
            "n",
            "ns",
            &labels("b", "n"),
            &BTreeMap::from([("user-data".to_string(), "hi".to_string())]),
        ));
        assert_eq!(s["apiVersion"], "v1");
        assert_eq!(s["kind"], "Secret");
        assert_eq!(s["data"]["user-data"], "aGk=");
        assert_eq!(s["type"], "Opaque");
        let d = wire(pvc("n", "ns", &labels("b", "n"), "wcp", "20Gi"));
        assert_eq!(d["kind"], "PersistentVolumeClaim");
        assert_eq!(d["spec"]["resources"]["requests"]["storage"], "20Gi");
        assert_eq!(d["spec"]["storageClassName"], "wcp");
        assert_eq!(d["spec"]["accessModes"][0], "ReadWriteOnce");
    }
}
