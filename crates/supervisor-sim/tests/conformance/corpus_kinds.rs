//! The per-kind part of the corpus: a valid object of every kind, its Table, invalid objects of
//! every kind (type errors, enum violations, missing required fields, unknown fields under
//! pruning and with `fieldValidation=Strict`), and authentication / authorization.

use super::objects::{kinds, with, without, Kind, IR, VMOP, VMS};
use super::request::{get, post, Req, TABLE};
use super::targets::User;
use serde_json::{json, Value};

pub fn kinds_corpus() -> Vec<Req> {
    let mut all = Vec::new();
    for k in kinds() {
        all.extend(per_kind(&k));
    }
    all.extend(invalid_objects());
    all
}

/// Create one, list it as a Table, and the basic invalid objects every kind can get.
fn per_kind(k: &Kind) -> Vec<Req> {
    let name = format!("conf-{}", k.kind.to_lowercase());
    let valid = (k.make)(&name);
    vec![
        post(&format!("create {}", k.kind), &k.collection, valid.clone()),
        get(
            &format!("table {}", k.kind),
            &format!("{}?labelSelector=conformance%3Dyes", k.collection),
        )
        .accept(TABLE),
        get(
            &format!("table one {}", k.kind),
            &format!("{}/{name}", k.collection),
        )
        .accept(TABLE),
        post(
            &format!("invalid name {}", k.kind),
            &k.collection,
            with(valid.clone(), "metadata.name", json!("Bad_Name")),
        ),
        post(
            &format!("unknown field pruned {}", k.kind),
            &k.collection,
            with(
                (k.make)(&format!("{name}-pruned")),
                "bogusTopLevel",
                json!(1),
            ),
        ),
        post(
            &format!("unknown field strict {}", k.kind),
            &format!("{}?fieldValidation=Strict", k.collection),
            with(
                (k.make)(&format!("{name}-strict")),
                "bogusTopLevel",
                json!(1),
            ),
        ),
        post(
            &format!("metadata type error {}", k.kind),
            &k.collection,
            with(valid, "metadata.labels", json!("not-a-map")),
        ),
    ]
}

fn bad(name: &str, collection: &str, object: Value) -> Req {
    post(name, collection, object)
}

fn invalid_objects() -> Vec<Req> {
    let ns = |base: &str, plural: &str| format!("{base}/namespaces/demo/{plural}");
    let k = kinds();
    let make = |i: usize, name: &str| (k[i].make)(name);
    vec![
        bad(
            "vm enum violation",
            VMS,
            with(make(0, "bad-1"), "spec.powerState", json!("On")),
        ),
        bad(
            "vm type error",
            VMS,
            with(
                make(0, "bad-2"),
                "spec.minHardwareVersion",
                json!("seventeen"),
            ),
        ),
        bad(
            "vm missing required class.name",
            VMS,
            with(
                make(0, "bad-3"),
                "spec.class",
                json!({"kind": "VirtualMachineClass", "apiVersion": "vmoperator.vmware.com/v1alpha5"}),
            ),
        ),
        bad(
            "vm nested unknown field pruned",
            VMS,
            with(make(0, "bad-4"), "spec.bogus", json!({"x": 1})),
        ),
        bad(
            "vm nested unknown field strict",
            &format!("{VMS}?fieldValidation=Strict"),
            with(make(0, "bad-5"), "spec.bogus", json!(1)),
        ),
        bad(
            "vm two errors",
            VMS,
            with(
                with(make(0, "bad-6"), "spec.powerState", json!("On")),
                "spec.restartMode",
                json!("Now"),
            ),
        ),
        bad(
            "vmclass type error",
            &ns(VMOP, "virtualmachineclasses"),
            with(make(1, "bad-1"), "spec.hardware.cpus", json!("two")),
        ),
        bad(
            "vmi missing required providerRef.name",
            &ns(VMOP, "virtualmachineimages"),
            without(make(2, "bad-1"), "spec.providerRef.name"),
        ),
        bad(
            "cvmi type error",
            &format!("{VMOP}/clustervirtualmachineimages"),
            with(make(3, "bad-1"), "spec.providerRef", json!("clitem")),
        ),
        bad(
            "vmpub type error",
            &ns(VMOP, "virtualmachinepublishrequests"),
            with(make(4, "bad-1"), "spec.backoffLimit", json!("three")),
        ),
        bad(
            "vmservice missing required type",
            &ns(VMOP, "virtualmachineservices"),
            without(make(5, "bad-1"), "spec.type"),
        ),
        bad(
            "vmservice ports type error",
            &ns(VMOP, "virtualmachineservices"),
            with(make(5, "bad-2"), "spec.ports", json!({"port": 22})),
        ),
        bad(
            "webconsole missing required publicKey",
            &ns(VMOP, "virtualmachinewebconsolerequests"),
            without(make(6, "bad-1"), "spec.publicKey"),
        ),
        bad(
            "library missing required id",
            &ns(IR, "contentlibraries"),
            without(make(7, "bad-1"), "spec.id"),
        ),
        bad(
            "library enum violation",
            &ns(IR, "contentlibraries"),
            with(make(7, "bad-2"), "spec.libraryType", json!("Shelf")),
        ),
        bad(
            "library item missing required libraryName",
            &ns(IR, "contentlibraryitems"),
            without(make(8, "bad-1"), "spec.libraryName"),
        ),
        bad(
            "cluster library enum violation",
            &format!("{IR}/clustercontentlibraries"),
            with(
                make(9, "bad-1"),
                "spec.resourceNamingStrategy",
                json!("Random"),
            ),
        ),
        bad(
            "cluster library item missing required id",
            &format!("{IR}/clustercontentlibraryitems"),
            without(make(10, "bad-1"), "spec.id"),
        ),
        bad(
            "import request missing required source.url",
            &ns(IR, "contentlibraryitemimportrequests"),
            without(make(11, "bad-1"), "spec.source.url"),
        ),
        bad(
            "secret type error",
            "/api/v1/namespaces/demo/secrets",
            with(make(12, "bad-1"), "data", json!({"k": 5})),
        ),
        bad(
            "configmap type error",
            "/api/v1/namespaces/demo/configmaps",
            with(make(13, "bad-1"), "data", json!(["a"])),
        ),
        bad(
            "pvc missing accessModes",
            "/api/v1/namespaces/demo/persistentvolumeclaims",
            without(make(14, "bad-1"), "spec.accessModes"),
        ),
        bad(
            "service port type error",
            "/api/v1/namespaces/demo/services",
            with(make(15, "bad-1"), "spec.ports", json!([{"port": "eighty"}])),
        ),
        bad(
            "storageclass missing provisioner",
            "/apis/storage.k8s.io/v1/storageclasses",
            without(make(16, "bad-1"), "provisioner"),
        ),
        get("table Namespace", "/api/v1/namespaces/demo").accept(TABLE),
        bad(
            "invalid name Namespace",
            "/api/v1/namespaces",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "Bad_Name"}}),
        ),
        bad(
            "unknown field strict Namespace",
            "/api/v1/namespaces?fieldValidation=Strict",
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns-strict"}, "bogus": 1}),
        ),
        bad("wrong kind for collection", VMS, make(1, "bad-kind")),
        post("body not JSON", VMS, json!("not an object")),
    ]
}

pub fn auth_corpus() -> Vec<Req> {
    let system = "/apis/vmoperator.vmware.com/v1alpha5/namespaces/kube-system/virtualmachines";
    let r = User::Restricted;
    vec![
        get("bad token", VMS).user(User::BadToken),
        get("bad token on a missing path", "/apis/nope.example.com/v1/things").user(User::BadToken),
        get("restricted list in demo", &format!("{VMS}?labelSelector=app%3Dweb")).user(r),
        get("restricted get in demo", &format!("{VMS}/vm-a")).user(r),
        get("restricted list in kube-system", system).user(r),
        post("restricted create in kube-system", system, json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine", "metadata": {"name": "x"}})).user(r),
        get("restricted list all namespaces", "/apis/vmoperator.vmware.com/v1alpha5/virtualmachines").user(r),
        get("restricted list storageclasses", "/apis/storage.k8s.io/v1/storageclasses?labelSelector=conformance%3Dyes").user(r),
        get("restricted list cluster images", &format!("{VMOP}/clustervirtualmachineimages?labelSelector=conformance%3Dyes")).user(r),
        post("restricted create storageclass", "/apis/storage.k8s.io/v1/storageclasses", json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "x"}, "provisioner": "p"})).user(r),
        post("restricted create in demo", VMS, super::objects::vm("vm-restricted", "restricted")).user(r),
        get("restricted get namespace demo", "/api/v1/namespaces/demo").user(r),
    ]
}
