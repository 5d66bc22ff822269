//! In-process store behaviour: CRUD, generation, status, finalizers, watch resume and 410,
//! admission hooks, persistence across restarts.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use supervisor_sim::catalog::{Catalog, Gr};
use supervisor_sim::error::ApiError;
use supervisor_sim::store::*;

fn vms() -> Gr {
    Gr::from(&vmop_types::api::VIRTUAL_MACHINE)
}

fn new_store(opts: StoreOptions) -> Store {
    let s = Store::new(Arc::new(Catalog::builtin()), opts).unwrap();
    s.create(
        &Gr::new("", "namespaces"),
        None,
        json!({"metadata": {"name": "demo"}}),
        &WriteOptions::default(),
    )
    .unwrap();
    s
}

fn vm(name: &str) -> Value {
    json!({"metadata": {"name": name, "labels": {"app": "x"}}, "spec": {"className": "best-effort-small"}})
}

async fn next(w: &mut Watch) -> Result<WatchEvent, ApiError> {
    tokio::time::timeout(Duration::from_secs(5), w.next())
        .await
        .expect("watch event within 5s")
        .expect("watch open")
}

#[tokio::test]
async fn create_update_status_generation() {
    let s = new_store(StoreOptions::default());
    let created = s
        .create(&vms(), Some("demo"), vm("a"), &WriteOptions::default())
        .unwrap();
    assert_eq!(created["apiVersion"], "vmoperator.vmware.com/v1alpha5");
    assert_eq!(created["metadata"]["generation"], 1);
    assert!(created["metadata"]["uid"].as_str().unwrap().len() > 10);
    let err = s
        .create(&vms(), Some("demo"), vm("a"), &WriteOptions::default())
        .unwrap_err();
    assert_eq!((err.code, err.reason.as_str()), (409, "AlreadyExists"));
    let err = s
        .create(&vms(), Some("nope"), vm("b"), &WriteOptions::default())
        .unwrap_err();
    assert_eq!(err.message, "namespaces \"nope\" not found");
    let err = s
        .create(
            &vms(),
            Some("demo"),
            vm("Bad_Name"),
            &WriteOptions::default(),
        )
        .unwrap_err();
    assert_eq!(err.code, 422);

    // status via /status only; main-resource writes keep status
    let st = s
        .modify(&vms(), Some("demo"), "a", Subresource::Status, |o| {
            o["status"] = json!({"powerState": "PoweredOn"});
            o["spec"]["className"] = json!("ignored");
            Ok(())
        })
        .unwrap();
    assert_eq!(st["status"]["powerState"], "PoweredOn");
    assert_eq!(st["spec"]["className"], "best-effort-small");
    assert_eq!(st["metadata"]["generation"], 1);
    let mut upd = st.clone();
    upd["spec"]["className"] = json!("best-effort-medium");
    upd["status"] = json!({"powerState": "PoweredOff"});
    let upd = s
        .update(&vms(), Some("demo"), upd, &WriteOptions::default())
        .unwrap();
    assert_eq!(upd["metadata"]["generation"], 2);
    assert_eq!(upd["status"]["powerState"], "PoweredOn");
    // stale resourceVersion → 409 Conflict
    let err = s
        .update(&vms(), Some("demo"), st, &WriteOptions::default())
        .unwrap_err();
    assert_eq!(err.reason, "Conflict");
    // no-op update keeps the resourceVersion
    let same = s
        .update(&vms(), Some("demo"), upd.clone(), &WriteOptions::default())
        .unwrap();
    assert_eq!(
        same["metadata"]["resourceVersion"],
        upd["metadata"]["resourceVersion"]
    );
    // generateName + dry run
    let dry = s
        .create(
            &vms(),
            Some("demo"),
            json!({"metadata": {"generateName": "vmpub-"}}),
            &WriteOptions { dry_run: true },
        )
        .unwrap();
    assert!(dry["metadata"]["name"]
        .as_str()
        .unwrap()
        .starts_with("vmpub-"));
    assert!(s
        .get(
            &vms(),
            Some("demo"),
            dry["metadata"]["name"].as_str().unwrap()
        )
        .is_err());
}

#[tokio::test]
async fn list_selectors_and_secret_string_data() {
    let s = new_store(StoreOptions::default());
    for n in ["a", "b", "c"] {
        let mut o = vm(n);
        o["metadata"]["labels"]["name"] = json!(n);
        s.create(&vms(), Some("demo"), o, &WriteOptions::default())
            .unwrap();
    }
    let opts = ListOptions {
        labels: Some(supervisor_sim::selector::LabelSelector::parse("name in (a,c)").unwrap()),
        fields: Some(supervisor_sim::selector::FieldSelector::parse("metadata.name!=c").unwrap()),
    };
    let (items, rv) = s.list(&vms(), Some("demo"), &opts).unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["metadata"]["name"], "a");
    assert_eq!(rv, s.current_rv());
    let secret = s
        .create(
            &Gr::new("", "secrets"),
            Some("demo"),
            json!({"metadata": {"name": "s"}, "stringData": {"user-data": "#cloud-config"}}),
            &WriteOptions::default(),
        )
        .unwrap();
    assert_eq!(secret["data"]["user-data"], "I2Nsb3VkLWNvbmZpZw==");
    assert!(secret.get("stringData").is_none());
}

#[tokio::test]
async fn finalizers_delay_deletion() {
    let s = new_store(StoreOptions::default());
    let mut o = vm("f");
    o["metadata"]["finalizers"] = json!(["x/y"]);
    s.create(&vms(), Some("demo"), o, &WriteOptions::default())
        .unwrap();
    let mut w = s.watch(&vms(), Some("demo"), Some(s.current_rv())).unwrap();
    let d = s
        .delete(&vms(), Some("demo"), "f", &DeleteOptions::default())
        .unwrap();
    assert!(d["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(next(&mut w).await.unwrap().kind, EventType::Modified);
    s.modify(&vms(), Some("demo"), "f", Subresource::Main, |o| {
        o["metadata"]["finalizers"] = json!([]);
        Ok(())
    })
    .unwrap();
    assert_eq!(next(&mut w).await.unwrap().kind, EventType::Deleted);
    assert_eq!(s.get(&vms(), Some("demo"), "f").unwrap_err().code, 404);
}

#[tokio::test]
async fn watch_resume_and_gone() {
    let s = new_store(StoreOptions {
        history_limit: 5,
        ..Default::default()
    });
    s.create(&vms(), Some("demo"), vm("w0"), &WriteOptions::default())
        .unwrap();
    let start = s.current_rv();
    // initial state as synthetic ADDED
    let mut w0 = s.watch(&vms(), Some("demo"), None).unwrap();
    let ev = next(&mut w0).await.unwrap();
    assert_eq!(
        (ev.kind, ev.object["metadata"]["name"].as_str()),
        (EventType::Added, Some("w0"))
    );
    for i in 1..=3 {
        s.create(
            &vms(),
            Some("demo"),
            vm(&format!("w{i}")),
            &WriteOptions::default(),
        )
        .unwrap();
    }
    let mut w = s.watch(&vms(), Some("demo"), Some(start)).unwrap();
    let mut names = Vec::new();
    for _ in 0..3 {
        names.push(
            next(&mut w).await.unwrap().object["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(names, ["w1", "w2", "w3"]);
    assert_eq!(
        next(&mut w0).await.unwrap().object["metadata"]["name"],
        "w1"
    );
    for i in 4..=10 {
        s.create(
            &vms(),
            Some("demo"),
            vm(&format!("w{i}")),
            &WriteOptions::default(),
        )
        .unwrap();
    }
    let err = s.watch(&vms(), Some("demo"), Some(start)).err().unwrap();
    assert_eq!(err.code, 410);
    // other namespaces' events are not delivered to a namespaced watch
    s.create(
        &Gr::new("", "namespaces"),
        None,
        json!({"metadata": {"name": "other"}}),
        &WriteOptions::default(),
    )
    .unwrap();
    let mut wn = s.watch(&vms(), Some("demo"), Some(s.current_rv())).unwrap();
    s.create(&vms(), Some("other"), vm("o1"), &WriteOptions::default())
        .unwrap();
    s.create(&vms(), Some("demo"), vm("d1"), &WriteOptions::default())
        .unwrap();
    assert_eq!(
        next(&mut wn).await.unwrap().object["metadata"]["name"],
        "d1"
    );
}

struct DefaultPower;
impl Admission for DefaultPower {
    fn mutate(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
        if req.kind == "VirtualMachine"
            && req.operation == Operation::Create
            && obj["spec"].get("powerState").is_none()
        {
            obj["spec"]["powerState"] = json!("PoweredOn");
        }
        Ok(())
    }
    fn validate(&self, req: &AdmissionRequest<'_>, obj: &Value) -> Result<(), ApiError> {
        // hooks may read the store
        assert!(req.store.current_rv() > 0);
        if obj["spec"]["className"] == "forbidden" {
            return Err(ApiError::invalid(
                "VirtualMachine",
                "vmoperator.vmware.com",
                req.name,
                vec![],
            ));
        }
        Ok(())
    }
}

#[tokio::test]
async fn admission_hooks_mutate_and_refuse() {
    let s = new_store(StoreOptions::default());
    s.add_admission(Arc::new(DefaultPower));
    let o = s
        .create(&vms(), Some("demo"), vm("h"), &WriteOptions::default())
        .unwrap();
    assert_eq!(o["spec"]["powerState"], "PoweredOn");
    let mut bad = vm("h2");
    bad["spec"]["className"] = json!("forbidden");
    assert_eq!(
        s.create(&vms(), Some("demo"), bad, &WriteOptions::default())
            .unwrap_err()
            .code,
        422
    );
}

#[tokio::test]
async fn state_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let opts = StoreOptions {
        state_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let rv_before;
    {
        let s = new_store(opts.clone());
        s.create(&vms(), Some("demo"), vm("keep"), &WriteOptions::default())
            .unwrap();
        s.create(&vms(), Some("demo"), vm("gone"), &WriteOptions::default())
            .unwrap();
        s.delete(&vms(), Some("demo"), "gone", &DeleteOptions::default())
            .unwrap();
        rv_before = s.current_rv();
    }
    let s = Store::new(Arc::new(Catalog::builtin()), opts).unwrap();
    assert_eq!(s.current_rv(), rv_before);
    assert_eq!(
        s.get(&vms(), Some("demo"), "keep").unwrap()["spec"]["className"],
        "best-effort-small"
    );
    assert_eq!(s.get(&vms(), Some("demo"), "gone").unwrap_err().code, 404);
    let o = s
        .create(&vms(), Some("demo"), vm("new"), &WriteOptions::default())
        .unwrap();
    assert_eq!(
        o["metadata"]["resourceVersion"],
        (rv_before + 1).to_string()
    );
    // resuming from before the restart is 410, from now works
    assert_eq!(
        s.watch(&vms(), Some("demo"), Some(1)).err().unwrap().code,
        410
    );
    assert!(s.watch(&vms(), Some("demo"), Some(rv_before)).is_ok());
}

#[tokio::test]
async fn no_new_finalizers_once_deleting() {
    let s = new_store(StoreOptions::default());
    let mut o = vm("f");
    o["metadata"]["finalizers"] = json!(["x/y"]);
    s.create(&vms(), Some("demo"), o, &WriteOptions::default())
        .unwrap();
    s.delete(&vms(), Some("demo"), "f", &DeleteOptions::default())
        .unwrap();
    let err = s
        .modify(&vms(), Some("demo"), "f", Subresource::Main, |o| {
            o["metadata"]["finalizers"] = json!(["x/y", "x/z"]);
            Ok(())
        })
        .unwrap_err();
    assert_eq!((err.code, err.reason.as_str()), (422, "Invalid"));
    assert!(
        err.message.contains("no new finalizers can be added"),
        "{}",
        err.message
    );
    // removing them still works, and the object goes
    s.modify(&vms(), Some("demo"), "f", Subresource::Main, |o| {
        o["metadata"]["finalizers"] = json!([]);
        Ok(())
    })
    .unwrap();
    assert!(s.get_arc(&vms(), Some("demo"), "f").is_err());
}
