use super::*;

fn v1alpha1_vm() -> Value {
    json!({
        "apiVersion": "vmoperator.vmware.com/v1alpha1",
        "kind": "VirtualMachine",
        "metadata": { "name": "source-abc", "namespace": "demo", "labels": { "source-selector": "source-abc" } },
        "spec": {
            "imageName": "vmi-0123456789abcdef0",
            "className": "best-effort-small",
            "storageClass": "wcpglobal-storage-profile",
            "powerState": "poweredOn",
            "vmMetadata": { "secretName": "source-abc", "transport": "CloudInit" },
            "networkInterfaces": [{ "networkType": "nsx-t", "networkName": "primary" }]
        },
        "status": { "powerState": "poweredOn", "vmIp": "10.0.0.7", "phase": "Created" }
    })
}

fn hub_vm() -> Value {
    json!({
        "apiVersion": "vmoperator.vmware.com/v1alpha5",
        "kind": "VirtualMachine",
        "metadata": { "name": "source-abc", "namespace": "demo" },
        "spec": {
            "imageName": "vmi-0123456789abcdef0",
            "image": { "kind": "VirtualMachineImage", "name": "vmi-0123456789abcdef0" },
            "className": "best-effort-small",
            "powerState": "PoweredOn",
            "bootstrap": { "cloudInit": {
                "cloudConfig": { "users": [{ "name": "packer" }] },
                "rawCloudConfig": { "name": "source-abc", "key": "user-data" } } },
            "network": { "interfaces": [{ "name": "eth0", "network": {
                "name": "primary", "kind": "VirtualNetwork", "apiVersion": "vmware.com/v1alpha1" } }] },
            "hardware": { "cdrom": [{ "name": "cd0" }] }
        },
        "status": {
            "powerState": "PoweredOn",
            "network": { "primaryIP4": "10.0.0.7", "interfaces": [{ "name": "eth0" }] },
            "nodeName": "esx-1"
        }
    })
}

#[test]
fn v1alpha1_vm_reaches_the_hub_shape() {
    let mut vm = v1alpha1_vm();
    vm_to_hub(&mut vm);
    assert_eq!(vm["spec"]["powerState"], "PoweredOn");
    assert_eq!(
        vm["spec"]["bootstrap"],
        json!({ "cloudInit": { "rawCloudConfig": { "name": "source-abc", "key": "user-data" } } })
    );
    assert_eq!(vm["spec"]["network"]["interfaces"][0]["name"], "eth0");
    assert_eq!(
        vm["spec"]["network"]["interfaces"][0]["network"]["kind"],
        "VirtualNetwork"
    );
    assert_eq!(vm["status"]["network"]["primaryIP4"], "10.0.0.7");
    assert_eq!(vm["status"]["powerState"], "PoweredOn");
    assert!(vm["spec"].get("vmMetadata").is_none());
    assert!(vm["status"].get("vmIp").is_none());
}

#[test]
fn every_transport_maps_both_ways() {
    for transport in [
        "CloudInit",
        "ExtraConfig",
        "Sysprep",
        "vAppConfig",
        "OvfEnv",
    ] {
        let md = json!({ "secretName": "s", "transport": transport });
        let b = metadata_to_bootstrap(md.as_object().unwrap());
        assert_eq!(bootstrap_to_metadata(&b), Some(md), "{transport}");
    }
}

#[test]
fn v1alpha1_round_trip_through_the_hub_is_unchanged() {
    let orig = v1alpha1_vm();
    let mut vm = orig.clone();
    vm_to_hub(&mut vm);
    let hub = vm.clone();
    vm_from_hub(&mut vm, &hub);
    // The conversion data is the only addition.
    let data = vm["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove(ANNOTATION_CONVERSION_DATA);
    assert!(data.is_some());
    vm["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    assert_eq!(vm["spec"], orig["spec"]);
    assert_eq!(vm["status"], orig["status"]);
}

#[test]
fn hub_round_trip_through_v1alpha1_loses_nothing() {
    let hub = hub_vm();
    let mut vm = hub.clone();
    vm_from_hub(&mut vm, &hub);
    assert_eq!(vm["spec"]["vmMetadata"]["transport"], "CloudInit");
    assert_eq!(vm["status"]["vmIp"], "10.0.0.7");
    assert!(
        vm["spec"].get("image").is_none(),
        "v1alpha1 has no spec.image"
    );
    // A v1alpha1 client writes it back unchanged: the hub object comes back whole.
    vm_to_hub(&mut vm);
    assert_eq!(vm["spec"], hub["spec"]);
    assert_eq!(vm["status"], hub["status"]);
    assert!(vm["metadata"].get("annotations").is_none());
}

#[test]
fn a_v1alpha1_change_wins_over_the_conversion_data() {
    let hub = hub_vm();
    let mut vm = hub.clone();
    vm_from_hub(&mut vm, &hub);
    vm["spec"]["powerState"] = json!("poweredOff");
    vm_to_hub(&mut vm);
    assert_eq!(vm["spec"]["powerState"], "PoweredOff");
}

#[test]
fn images_move_their_description_between_spec_and_status() {
    let mut img = json!({
        "metadata": { "name": "vmi-1" },
        "spec": { "type": "OVF", "osInfo": { "type": "ubuntu64Guest", "version": "24.04" },
                  "providerRef": { "kind": "ContentLibraryItem", "name": "clitem-1" } },
        "status": { "imageName": "ubuntu-24.04", "imageSupported": true }
    });
    image_to_hub(&mut img);
    assert_eq!(img["status"]["name"], "ubuntu-24.04");
    assert_eq!(img["status"]["type"], "OVF");
    assert_eq!(img["status"]["osInfo"]["version"], "24.04");
    assert!(img["spec"].get("type").is_none());
    let hub = img.clone();
    image_from_hub(&mut img, &hub);
    assert_eq!(img["spec"]["type"], "OVF");
    assert_eq!(img["status"]["imageName"], "ubuntu-24.04");
    image_to_hub(&mut img);
    assert_eq!(img, hub);
}

#[test]
fn power_states_change_only_the_first_letter() {
    assert_eq!(power_to_hub("poweredOff"), "PoweredOff");
    assert_eq!(power_from_hub("Suspended"), "suspended");
    assert_eq!(power_to_hub(""), "");
}
