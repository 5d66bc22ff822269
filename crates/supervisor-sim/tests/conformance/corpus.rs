//! The corpus, in order: requests depend on the ones before them (objects, saved values).
//! `kinds_corpus` (every kind: create, Table, invalid objects) and `auth_corpus` are in
//! `corpus_kinds.rs`.

use super::corpus_kinds::{auth_corpus, kinds_corpus};
use super::objects::{vm, with, VMS};
use super::request::{delete, get, patch, post, put, Req, APPLY, JSON_PATCH, MERGE};
use serde_json::json;

/// Every request, in the order they are replayed.
pub fn corpus() -> Vec<Req> {
    let mut all = Vec::new();
    all.extend(create_and_read());
    all.extend(updates_and_patches());
    all.extend(server_side_apply());
    all.extend(status_and_finalizers());
    all.extend(watches());
    all.extend(kinds_corpus());
    all.extend(auth_corpus());
    all
}

fn vm_path(name: &str) -> String {
    format!("{VMS}/{name}")
}

fn create_and_read() -> Vec<Req> {
    vec![
        get("get namespace demo", "/api/v1/namespaces/demo"),
        get("get missing namespace", "/api/v1/namespaces/nope"),
        post("create vm-a", VMS, vm("vm-a", "web")).save("rv-a0", "/metadata/resourceVersion"),
        post("create vm-b", VMS, vm("vm-b", "web")),
        post("create vm-c", VMS, vm("vm-c", "db")),
        post("create vm-a again", VMS, vm("vm-a", "web")),
        post("create dry-run", &format!("{VMS}?dryRun=All"), vm("vm-dry", "web")),
        get("get dry-run object", &vm_path("vm-dry")),
        post("create bad dryRun value", &format!("{VMS}?dryRun=Some"), vm("vm-dry2", "web")),
        post(
            "create with generateName",
            VMS,
            json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine",
                "metadata": {"generateName": "gen-", "labels": {"app": "gen"}},
                "spec": {"className": "best-effort-small"}}),
        )
        .save("gen", "/metadata/name"),
        get("get generated", &vm_path("{gen}")),
        post(
            "create without name",
            VMS,
            json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine", "metadata": {}}),
        ),
        post("create in missing namespace", "/apis/vmoperator.vmware.com/v1alpha5/namespaces/nope/virtualmachines", vm("vm-x", "web")),
        post("create with mismatched namespace", VMS, with(vm("vm-x", "web"), "metadata.namespace", json!("other"))),
        get("get vm-a", &vm_path("vm-a")),
        get("get missing vm", &vm_path("nope")),
        get("list vms", VMS),
        get("list app=web", &format!("{VMS}?labelSelector=app%3Dweb")),
        get("list app!=web", &format!("{VMS}?labelSelector=app%21%3Dweb")),
        get("list tier in (vm-a,vm-c)", &format!("{VMS}?labelSelector=tier%20in%20%28vm-a%2Cvm-c%29")),
        get("list has label tier", &format!("{VMS}?labelSelector=tier")),
        get("list bad label selector", &format!("{VMS}?labelSelector=app%3D%3D%3D")),
        get("list metadata.name=vm-b", &format!("{VMS}?fieldSelector=metadata.name%3Dvm-b")),
        get("list metadata.name!=vm-b", &format!("{VMS}?fieldSelector=metadata.name%21%3Dvm-b")),
        get("list unsupported field selector", &format!("{VMS}?fieldSelector=spec.className%3Dx")),
        get("list all namespaces by namespace field", "/apis/vmoperator.vmware.com/v1alpha5/virtualmachines?fieldSelector=metadata.namespace%3Ddemo"),
        get("list limit=2", &format!("{VMS}?limit=2")).save("cont", "/metadata/continue"),
        get("list continue", &format!("{VMS}?limit=2&continue={{cont}}")),
        get("list bad continue", &format!("{VMS}?limit=2&continue=garbage")),
    ]
}

fn updates_and_patches() -> Vec<Req> {
    let a = vm_path("vm-a");
    let updated = with(
        vm("vm-a", "web"),
        "spec.className",
        json!("best-effort-medium"),
    );
    vec![
        get("get vm-a for update", &a).save("rv-a", "/metadata/resourceVersion"),
        put(
            "update vm-a",
            &a,
            with(updated.clone(), "metadata.resourceVersion", json!("{rv-a}")),
        ),
        put(
            "update vm-a stale",
            &a,
            with(updated.clone(), "metadata.resourceVersion", json!("{rv-a}")),
        ),
        put("update vm-a without resourceVersion", &a, updated.clone()),
        put(
            "update name mismatch",
            &a,
            with(vm("vm-b", "web"), "metadata.resourceVersion", json!("1")),
        ),
        put(
            "update missing object",
            &vm_path("vm-new"),
            vm("vm-new", "web"),
        ),
        patch(
            "merge patch labels",
            &a,
            MERGE,
            json!({"metadata": {"labels": {"patched": "merge"}}}),
        ),
        patch(
            "merge patch remove label",
            &a,
            MERGE,
            json!({"metadata": {"labels": {"patched": null}}}),
        ),
        patch(
            "merge patch stale resourceVersion",
            &a,
            MERGE,
            json!({"metadata": {"resourceVersion": "{rv-a}", "labels": {"x": "y"}}}),
        ),
        patch(
            "merge patch enum violation",
            &a,
            MERGE,
            json!({"spec": {"powerState": "On"}}),
        ),
        patch(
            "merge patch missing object",
            &vm_path("nope"),
            MERGE,
            json!({"metadata": {"labels": {"a": "b"}}}),
        ),
        patch(
            "json patch add annotation",
            &a,
            JSON_PATCH,
            json!([{"op": "add", "path": "/metadata/annotations", "value": {"note": "json"}}]),
        ),
        patch(
            "json patch replace spec",
            &a,
            JSON_PATCH,
            json!([{"op": "replace", "path": "/spec/powerState", "value": "PoweredOff"}]),
        ),
        patch(
            "json patch failed test",
            &a,
            JSON_PATCH,
            json!([{"op": "test", "path": "/spec/powerState", "value": "PoweredOn"}]),
        ),
        patch(
            "json patch remove missing",
            &a,
            JSON_PATCH,
            json!([{"op": "remove", "path": "/spec/nope"}]),
        ),
        patch(
            "json patch not a list",
            &a,
            JSON_PATCH,
            json!({"op": "add"}),
        ),
        patch(
            "strategic merge patch on a custom resource",
            &a,
            "application/strategic-merge-patch+json",
            json!({"metadata": {"labels": {"s": "m"}}}),
        ),
        post(
            "create cm-patch",
            "/api/v1/namespaces/demo/configmaps",
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-patch"}, "data": {"x": "y"}}),
        ),
        patch(
            "strategic merge patch on a ConfigMap",
            "/api/v1/namespaces/demo/configmaps/cm-patch",
            "application/strategic-merge-patch+json",
            json!({"data": {"a": "b"}}),
        ),
        patch(
            "patch with unsupported content type",
            &a,
            "text/plain",
            json!({}),
        ),
    ]
}

fn server_side_apply() -> Vec<Req> {
    let s = vm_path("vm-ssa");
    let apply = |class: &str| {
        json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine",
            "metadata": {"name": "vm-ssa", "labels": {"app": "ssa"}}, "spec": {"className": class}})
    };
    vec![
        patch(
            "apply creates",
            &format!("{s}?fieldManager=alice"),
            APPLY,
            apply("best-effort-small"),
        ),
        patch(
            "apply again unchanged",
            &format!("{s}?fieldManager=alice"),
            APPLY,
            apply("best-effort-small"),
        ),
        patch(
            "apply conflict",
            &format!("{s}?fieldManager=bob"),
            APPLY,
            apply("best-effort-medium"),
        ),
        patch(
            "apply force",
            &format!("{s}?fieldManager=bob&force=true"),
            APPLY,
            apply("best-effort-medium"),
        ),
        patch(
            "apply without fieldManager",
            &s,
            APPLY,
            apply("best-effort-small"),
        ),
        patch(
            "apply with force on merge patch",
            &format!("{s}?force=true"),
            MERGE,
            json!({"metadata": {"labels": {"f": "x"}}}),
        ),
        patch(
            "apply drops a field alice owned",
            &format!("{s}?fieldManager=alice"),
            APPLY,
            json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine", "metadata": {"name": "vm-ssa"}}),
        ),
        patch(
            "apply dry-run",
            &format!("{s}?fieldManager=carol&dryRun=All"),
            APPLY,
            json!({"apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine", "metadata": {"name": "vm-ssa", "labels": {"dry": "run"}}}),
        ),
        get("get vm-ssa", &s),
    ]
}

fn status_and_finalizers() -> Vec<Req> {
    let b = vm_path("vm-b");
    let f = vm_path("vm-fin");
    let fin = with(
        vm("vm-fin", "fin"),
        "metadata.finalizers",
        json!(["example.com/keep"]),
    );
    vec![
        patch("patch status", &format!("{b}/status"), MERGE, json!({"status": {"powerState": "PoweredOn", "biosUUID": "abc"}})),
        patch("spec change via status ignored", &format!("{b}/status"), MERGE, json!({"spec": {"className": "other"}})),
        patch("status change via main resource ignored", &b, MERGE, json!({"status": {"powerState": "PoweredOff"}})),
        get("get vm-b status", &format!("{b}/status")).save("rv-b", "/metadata/resourceVersion"),
        put("put status", &format!("{b}/status"), with(with(vm("vm-b", "web"), "status", json!({"biosUUID": "def"})), "metadata.resourceVersion", json!("{rv-b}"))),
        put("put status stale", &format!("{b}/status"), with(with(vm("vm-b", "web"), "status", json!({"biosUUID": "ghi"})), "metadata.resourceVersion", json!("{rv-b}"))),
        patch("status invalid enum", &format!("{b}/status"), MERGE, json!({"status": {"powerState": "On"}})),
        post("create vm-fin with finalizer", VMS, fin),
        delete("delete vm-fin", &f),
        get("get vm-fin while deleting", &f),
        patch("add finalizer while deleting", &f, MERGE, json!({"metadata": {"finalizers": ["example.com/keep", "example.com/more"]}})),
        patch("label while deleting", &f, MERGE, json!({"metadata": {"labels": {"late": "yes"}}})),
        delete("delete vm-fin again", &f),
        patch("remove finalizers", &f, MERGE, json!({"metadata": {"finalizers": null}})),
        get("get vm-fin after finalizers", &f),
        delete("delete vm-c", &vm_path("vm-c")),
        delete("delete missing vm", &vm_path("vm-c")),
        delete("delete with precondition mismatch", &vm_path("vm-b")).body(json!({"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}})),
        delete("delete dry-run", &format!("{}?dryRun=All", vm_path("vm-b"))),
        post("create vm-d1", VMS, vm("vm-d1", "doomed")),
        post("create vm-d2", VMS, vm("vm-d2", "doomed")),
        delete("deletecollection app=doomed", &format!("{VMS}?labelSelector=app%3Ddoomed")),
        get("list after deletecollection", &format!("{VMS}?labelSelector=app%3Ddoomed")),
    ]
}

fn watches() -> Vec<Req> {
    let w = vm_path("vm-w");
    let sel = "labelSelector=app%3Dwatched";
    vec![
        get("list before watch", &format!("{VMS}?{sel}")).save("rv-w0", "/metadata/resourceVersion"),
        post("create vm-w", VMS, vm("vm-w", "watched")),
        patch("modify vm-w", &w, MERGE, json!({"metadata": {"annotations": {"step": "2"}}})),
        delete("delete vm-w", &w),
        get("watch from resourceVersion", &format!("{VMS}?watch=true&{sel}&resourceVersion={{rv-w0}}")).watch(3),
        get("watch path from resourceVersion", &format!("/apis/vmoperator.vmware.com/v1alpha5/watch/namespaces/demo/virtualmachines?{sel}&resourceVersion={{rv-w0}}")).watch(3),
        get("watch one object by name", &format!("{VMS}?watch=true&fieldSelector=metadata.name%3Dvm-w&resourceVersion={{rv-w0}}")).watch(3),
        get("watch initial events and bookmark", &format!("{VMS}?watch=true&labelSelector=app%3Dweb&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")).watch(3),
        get("watch sendInitialEvents without bookmarks", &format!("{VMS}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan")).watch(1),
        get("watch too old resourceVersion (compacted)", &format!("{VMS}?watch=true&resourceVersion=1")).watch(1),
    ]
}
