//! The typed kinds as a client uses them: URLs from the version chosen at run time, hub-shaped
//! structs converted on the wire at older versions, unknown fields kept.

use kube_core::{ObjectMeta, Resource};
use serde_json::{json, Value};
use vmop_types::api::{IMAGEREGISTRY_GROUP, VMOP_GROUP};
use vmop_types::image::ImageKind;
use vmop_types::library::{ImportSource, ImportSpec, ImportTarget};
use vmop_types::meta::SecretKeySelector;
use vmop_types::publish::PublishSpec;
use vmop_types::vm::{Bootstrap, Cdrom, CloudInit, Hardware, VirtualMachineSpec};
use vmop_types::{
    ContentLibrary, ContentLibraryItem, ContentLibraryItemImportRequest, LibraryVersion,
    VirtualMachine, VirtualMachineImage, VirtualMachinePublishRequest, VmopVersion,
};

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some("demo".into()),
        ..ObjectMeta::default()
    }
}

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: &Value) -> (T, Value) {
    let typed: T = serde_json::from_value(v.clone()).expect("reads");
    let back = serde_json::to_value(&typed).expect("writes");
    (typed, back)
}

#[test]
fn urls_follow_the_version_chosen_at_run_time() {
    assert_eq!(
        VirtualMachine::url_path(&VmopVersion::V1alpha3, Some("demo")),
        format!("/apis/{VMOP_GROUP}/v1alpha3/namespaces/demo/virtualmachines")
    );
    assert_eq!(
        VirtualMachineImage::url_path(&ImageKind::cluster(VmopVersion::V1alpha5), None),
        format!("/apis/{VMOP_GROUP}/v1alpha5/clustervirtualmachineimages")
    );
    assert_eq!(
        VirtualMachineImage::kind(&ImageKind::namespaced(VmopVersion::V1alpha1)),
        "VirtualMachineImage"
    );
    assert_eq!(
        ContentLibrary::url_path(&LibraryVersion::V1alpha1, Some("demo")),
        format!("/apis/{IMAGEREGISTRY_GROUP}/v1alpha1/namespaces/demo/contentlibraries")
    );
    let pr = VirtualMachinePublishRequest::new(
        &VmopVersion::V1alpha2,
        meta("p"),
        PublishSpec::default(),
    );
    assert_eq!(pr.api_version, format!("{VMOP_GROUP}/v1alpha2"));
    assert_eq!(pr.kind, "VirtualMachinePublishRequest");
    assert_eq!(pr.meta().name.as_deref(), Some("p"));
}

fn cloud_init_vm(version: VmopVersion) -> VirtualMachine {
    let spec = VirtualMachineSpec {
        class_name: Some("small".into()),
        power_state: Some("PoweredOn".into()),
        bootstrap: Some(Bootstrap {
            cloud_init: Some(CloudInit {
                raw_cloud_config: Some(SecretKeySelector {
                    name: "vm".into(),
                    key: "user-data".into(),
                }),
                ..CloudInit::default()
            }),
            ..Bootstrap::default()
        }),
        ..VirtualMachineSpec::default()
    };
    VirtualMachine::new(&version, meta("vm"), spec)
}

#[test]
fn a_vm_written_at_v1alpha1_speaks_vm_metadata() {
    let body = serde_json::to_value(cloud_init_vm(VmopVersion::V1alpha1)).unwrap();
    assert_eq!(body["apiVersion"], format!("{VMOP_GROUP}/v1alpha1"));
    assert_eq!(
        body["spec"]["vmMetadata"],
        json!({"secretName": "vm", "transport": "CloudInit"})
    );
    assert_eq!(body["spec"]["powerState"], "poweredOn");
    assert!(body["spec"].get("bootstrap").is_none());
    assert!(body["metadata"].get("annotations").is_none());
    let hub = serde_json::to_value(cloud_init_vm(VmopVersion::V1alpha5)).unwrap();
    assert_eq!(
        hub["spec"]["bootstrap"]["cloudInit"]["rawCloudConfig"]["key"],
        "user-data"
    );
    assert_eq!(hub["spec"]["powerState"], "PoweredOn");
}

#[test]
fn a_v1alpha1_vm_is_read_in_the_hub_shape() {
    let wire = json!({"apiVersion": format!("{VMOP_GROUP}/v1alpha1"), "kind": "VirtualMachine",
        "metadata": {"name": "vm"},
        "spec": {"vmMetadata": {"secretName": "vm", "transport": "CloudInit"}, "powerState": "poweredOn"},
        "status": {"powerState": "poweredOn", "vmIp": "10.0.0.5", "phase": "Created"}});
    let vm: VirtualMachine = serde_json::from_value(wire).unwrap();
    let status = vm.status.unwrap();
    assert_eq!(status.power_state.as_deref(), Some("PoweredOn"));
    assert_eq!(
        status.network.unwrap().primary_ip4.as_deref(),
        Some("10.0.0.5")
    );
    let bootstrap = vm.spec.bootstrap.unwrap().cloud_init.unwrap();
    assert_eq!(bootstrap.raw_cloud_config.unwrap().name, "vm");
}

#[test]
fn cdroms_are_under_hardware_in_the_struct_and_where_the_version_wants_on_the_wire() {
    let mut vm = cloud_init_vm(VmopVersion::V1alpha3);
    vm.spec.hardware = Some(Hardware {
        cdrom: Some(vec![Cdrom {
            name: "cdrom".into(),
            ..Cdrom::default()
        }]),
        ..Hardware::default()
    });
    let v3 = serde_json::to_value(&vm).unwrap();
    assert_eq!(v3["spec"]["cdrom"][0]["name"], "cdrom");
    assert!(v3["spec"].get("hardware").is_none());
    let back: VirtualMachine = serde_json::from_value(v3).unwrap();
    assert_eq!(back.spec.cdroms()[0].name, "cdrom");
    vm.api_version = VmopVersion::V1alpha5.api_version();
    let v5 = serde_json::to_value(&vm).unwrap();
    assert_eq!(v5["spec"]["hardware"]["cdrom"][0]["name"], "cdrom");
}

#[test]
fn unknown_fields_survive_a_round_trip_at_every_version_with_the_same_shape() {
    for version in ["v1alpha2", "v1alpha3", "v1alpha5"] {
        let v = json!({"apiVersion": format!("{VMOP_GROUP}/{version}"), "kind": "VirtualMachine",
            "metadata": {"name": "a", "namespace": "demo", "labels": {"x": "y"}, "resourceVersion": "7"},
            "spec": {"imageName": "ubuntu", "readinessProbe": {"tcpSocket": {"port": 22}}},
            "status": {"powerState": "PoweredOn", "network": {"primaryIP4": "10.0.0.2", "interfaces": []}, "zone": "z"}});
        let (_, back) = round_trip::<VirtualMachine>(&v);
        assert_eq!(back, v, "{version}");
    }
    let img = json!({"apiVersion": format!("{VMOP_GROUP}/v1alpha5"), "kind": "ClusterVirtualMachineImage",
        "metadata": {"name": "vmi-1"}, "spec": {"providerRef": {"kind": "ClusterContentLibraryItem", "name": "i"}},
        "status": {"name": "ubuntu", "type": "OVF", "vmwareSystemProperties": [{"key": "k"}]}});
    assert_eq!(round_trip::<VirtualMachineImage>(&img).1, img);
}

#[test]
fn v1alpha1_images_are_read_with_their_description_in_status() {
    let wire = json!({"apiVersion": format!("{VMOP_GROUP}/v1alpha1"), "kind": "ClusterVirtualMachineImage",
        "metadata": {"name": "vmi-1"}, "spec": {"type": "ISO", "imageID": "x"},
        "status": {"imageName": "ubuntu-iso", "imageSupported": true}});
    let img: VirtualMachineImage = serde_json::from_value(wire).unwrap();
    let status = img.status.unwrap();
    assert_eq!(
        (status.name.as_str(), status.type_.as_str()),
        ("ubuntu-iso", "ISO")
    );
}

#[test]
fn publish_requests_leave_out_backoff_limit_before_v1alpha5() {
    let mut pr = VirtualMachinePublishRequest::new(
        &VmopVersion::V1alpha3,
        meta("p"),
        PublishSpec {
            backoff_limit: Some(2),
            ttl_seconds_after_finished: Some(60),
            ..PublishSpec::default()
        },
    );
    let v3 = serde_json::to_value(&pr).unwrap();
    assert_eq!(v3["spec"], json!({"ttlSecondsAfterFinished": 60}));
    pr.api_version = VmopVersion::V1alpha5.api_version();
    assert_eq!(
        serde_json::to_value(&pr).unwrap()["spec"]["backoffLimit"],
        2
    );
}

#[test]
fn image_registry_kinds_convert_at_v1alpha1() {
    let lib: ContentLibrary = serde_json::from_value(json!({
        "apiVersion": format!("{IMAGEREGISTRY_GROUP}/v1alpha1"), "kind": "ContentLibrary",
        "metadata": {"name": "lib"}, "spec": {"uuid": "u1", "writable": true, "allowImport": true}}))
    .unwrap();
    assert!(lib.spec.allows_publish() && lib.spec.allows_import());
    assert_eq!(lib.spec.id.as_deref(), Some("u1"));
    let item: ContentLibraryItem = serde_json::from_value(json!({
        "apiVersion": format!("{IMAGEREGISTRY_GROUP}/v1alpha1"), "kind": "ContentLibraryItem",
        "metadata": {"name": "clitem-1"}, "spec": {"uuid": "u2"},
        "status": {"name": "web", "contentLibraryRef": {"kind": "ContentLibrary", "name": "lib"}}}))
    .unwrap();
    assert_eq!(item.spec.library_name.as_deref(), Some("lib"));
    assert_eq!(item.status.unwrap().name, "web");

    let spec = ImportSpec {
        source: ImportSource {
            url: "https://h/x.ova".into(),
            ..ImportSource::default()
        },
        target: ImportTarget {
            library: "lib".into(),
            ..ImportTarget::default()
        },
        ..ImportSpec::default()
    };
    let v1 =
        ContentLibraryItemImportRequest::new(&LibraryVersion::V1alpha1, meta("r"), spec.clone());
    let body = serde_json::to_value(&v1).unwrap();
    assert_eq!(body["spec"]["target"]["library"]["name"], "lib");
    assert_eq!(body["spec"]["target"]["library"]["kind"], "ContentLibrary");
    let v2 = ContentLibraryItemImportRequest::new(&LibraryVersion::V1alpha2, meta("r"), spec);
    assert_eq!(
        serde_json::to_value(&v2).unwrap()["spec"]["target"]["library"],
        "lib"
    );
    let done: ContentLibraryItemImportRequest = serde_json::from_value(json!({
        "apiVersion": format!("{IMAGEREGISTRY_GROUP}/v1alpha1"), "kind": "ContentLibraryItemImportRequest",
        "metadata": {"name": "r"}, "status": {"itemRef": {"name": "clitem-9"}}}))
    .unwrap();
    assert_eq!(done.status.unwrap().item_name, "clitem-9");
}

#[test]
fn objects_without_api_version_are_read_as_the_hub() {
    let vm: VirtualMachine = serde_json::from_value(json!({
        "metadata": {"name": "x"}, "status": {"network": {"primaryIP4": "10.0.0.9"}}}))
    .unwrap();
    assert_eq!(
        vm.status.unwrap().network.unwrap().primary_ip4.as_deref(),
        Some("10.0.0.9")
    );
}
