//! The HTTP API against a real loopback server started in-process: discovery, every verb,
//! selectors, conflicts, watch resume and 410, validation errors, version conversion, tables,
//! auth (401/403), faults and restart with `--state`.

use serde_json::{json, Value};
use std::time::Duration;
use supervisor_sim::{RunOptions, Sim};

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

async fn start(opts: RunOptions) -> (Sim, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = Sim::start(opts, listener).await.unwrap();
    let ca = reqwest::Certificate::from_pem(sim.tls.as_ref().unwrap().ca_pem.as_bytes()).unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let c = Client {
        http,
        base: sim.url.clone(),
        token: sim.auth.admin_token().to_string(),
    };
    (sim, c)
}

fn api_only() -> RunOptions {
    RunOptions {
        controllers: false,
        ..Default::default()
    }
}

const VMS3: &str = "/apis/vmoperator.vmware.com/v1alpha3/namespaces/demo/virtualmachines";
const VMS5: &str = "/apis/vmoperator.vmware.com/v1alpha5/namespaces/demo/virtualmachines";

impl Client {
    async fn req(
        &self,
        method: reqwest::Method,
        path: &str,
        ct: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut rb = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            rb = rb
                .header("content-type", ct.unwrap_or("application/json"))
                .body(b.to_string());
        }
        let resp = rb.send().await.unwrap();
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn get(&self, path: &str) -> (u16, Value) {
        self.req(reqwest::Method::GET, path, None, None).await
    }
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::POST, path, None, Some(body))
            .await
    }
    async fn put(&self, path: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::PUT, path, None, Some(body)).await
    }
    async fn patch(&self, path: &str, ct: &str, body: Value) -> (u16, Value) {
        self.req(reqwest::Method::PATCH, path, Some(ct), Some(body))
            .await
    }
    async fn delete(&self, path: &str, body: Option<Value>) -> (u16, Value) {
        self.req(reqwest::Method::DELETE, path, None, body).await
    }
    /// Opens a watch and returns a line reader.
    async fn watch(&self, path: &str) -> WatchLines {
        let resp = self
            .http
            .get(format!("{}{}", self.base, path))
            .bearer_auth(&self.token)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        WatchLines {
            resp,
            buf: Vec::new(),
        }
    }
}

struct WatchLines {
    resp: reqwest::Response,
    buf: Vec<u8>,
}

impl WatchLines {
    /// Next event, or None when the server closed the stream.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buf.drain(..=pos).collect();
                return Some(serde_json::from_slice(&line).unwrap());
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.resp.chunk())
                .await
                .expect("watch event within 10s")
                .unwrap();
            match chunk {
                Some(c) => self.buf.extend_from_slice(&c),
                None => return None,
            }
        }
    }
}

fn vm(name: &str) -> Value {
    json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine",
        "metadata": {"name": name, "labels": {"app": "web", "tier": name}},
        "spec": {"imageName": "ubuntu-24.04", "className": "best-effort-small", "storageClass": "wcpglobal-storage-profile"}})
}

#[tokio::test]
async fn discovery_version_and_openapi() {
    let (sim, c) = start(api_only()).await;
    let (code, v) = c.get("/version").await;
    assert_eq!((code, v["major"].as_str()), (200, Some("1")));
    let (_, apis) = c.get("/apis").await;
    let groups: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert!(
        groups.contains(&"vmoperator.vmware.com")
            && groups.contains(&"imageregistry.vmware.com")
            && groups.contains(&"storage.k8s.io")
    );
    let vmop = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "vmoperator.vmware.com")
        .unwrap();
    assert_eq!(vmop["preferredVersion"]["version"], "v1alpha5");
    let (_, rl) = c.get("/apis/vmoperator.vmware.com/v1alpha3").await;
    let vmr = rl["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "virtualmachines")
        .unwrap();
    assert_eq!(vmr["shortNames"], json!(["vm"]));
    assert_eq!(vmr["namespaced"], true);
    assert!(rl["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "virtualmachines/status"));
    // v1alpha1..v1alpha5 are served by default; a version the CRDs do not have is not.
    let (code, _) = c.get("/apis/vmoperator.vmware.com/v1alpha4").await;
    assert_eq!(code, 200);
    let (code, _) = c.get("/apis/vmoperator.vmware.com/v1alpha6").await;
    assert_eq!(code, 404);
    let (_, core) = c.get("/api/v1").await;
    assert!(core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["name"] == "secrets"));
    // aggregated discovery when asked for
    let resp = c
        .http
        .get(format!("{}/apis", c.base))
        .bearer_auth(&c.token)
        .header(
            "accept",
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
        )
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("apidiscovery.k8s.io;v=v2"));
    let agg: Value = resp.json().await.unwrap();
    assert_eq!(agg["kind"], "APIGroupDiscoveryList");
    // openapi v3 index and a group-version document announcing fieldValidation on PATCH
    let (_, root) = c.get("/openapi/v3").await;
    let url = root["paths"]["apis/vmoperator.vmware.com/v1alpha3"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, doc) = c.get(&url).await;
    assert_eq!(code, 200);
    let p = &doc["paths"]
        ["/apis/vmoperator.vmware.com/v1alpha3/namespaces/{namespace}/virtualmachines/{name}"]
        ["patch"];
    assert_eq!(
        p["x-kubernetes-group-version-kind"]["kind"],
        "VirtualMachine"
    );
    assert!(p["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x["name"] == "fieldValidation"));
    assert!(
        doc["components"]["schemas"]["com.vmware.vmoperator.v1alpha3.VirtualMachine"]["properties"]
            ["spec"]
            .is_object()
    );
    sim.stop().await;
}

#[tokio::test]
async fn crud_selectors_conflicts_and_status() {
    let (sim, c) = start(api_only()).await;
    for n in ["a", "b", "c"] {
        let (code, o) = c.post(VMS3, vm(n)).await;
        assert_eq!(code, 201, "{o}");
        assert_eq!(o["apiVersion"], "vmoperator.vmware.com/v1alpha3");
    }
    let (code, dup) = c.post(VMS3, vm("a")).await;
    assert_eq!((code, dup["reason"].as_str()), (409, Some("AlreadyExists")));
    assert_eq!(
        dup["message"],
        "virtualmachines.vmoperator.vmware.com \"a\" already exists"
    );
    let (code, nf) = c.get(&format!("{VMS3}/zzz")).await;
    assert_eq!(
        (code, nf["kind"].as_str(), nf["message"].as_str()),
        (
            404,
            Some("Status"),
            Some("virtualmachines.vmoperator.vmware.com \"zzz\" not found")
        )
    );
    // selectors
    let (_, l) = c
        .get(&format!("{VMS3}?labelSelector=tier%20in%20(a,c),app=web"))
        .await;
    assert_eq!(l["kind"], "VirtualMachineList");
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
    let (_, l) = c
        .get(&format!("{VMS3}?fieldSelector=metadata.name%3Db"))
        .await;
    assert_eq!(l["items"][0]["metadata"]["name"], "b");
    let (_, l) = c
        .get("/apis/vmoperator.vmware.com/v1alpha3/virtualmachines?labelSelector=tier!%3Da")
        .await;
    assert_eq!(l["items"].as_array().unwrap().len(), 2);
    // update with the current resourceVersion, then a stale one
    let (_, a) = c.get(&format!("{VMS3}/a")).await;
    let mut upd = a.clone();
    upd["spec"]["className"] = json!("best-effort-medium");
    let (code, a2) = c.put(&format!("{VMS3}/a"), upd.clone()).await;
    assert_eq!(code, 200);
    assert_eq!(a2["metadata"]["generation"], 2);
    let (code, conflict) = c.put(&format!("{VMS3}/a"), upd).await;
    assert_eq!((code, conflict["reason"].as_str()), (409, Some("Conflict")));
    // status subresource: status only via /status
    let mut st = a2.clone();
    st["status"] = json!({"powerState": "PoweredOn", "network": {"primaryIP4": "10.0.0.5"}});
    st["spec"]["className"] = json!("ignored");
    let (code, s) = c.put(&format!("{VMS3}/a/status"), st).await;
    assert_eq!(code, 200, "{s}");
    assert_eq!(s["status"]["network"]["primaryIP4"], "10.0.0.5");
    assert_eq!(s["spec"]["className"], "best-effort-medium");
    // merge patch, json patch
    let (code, p) = c
        .patch(
            &format!("{VMS3}/b"),
            "application/merge-patch+json",
            json!({"metadata": {"labels": {"x": "1"}}, "spec": {"powerState": "PoweredOff"}}),
        )
        .await;
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["spec"]["powerState"], "PoweredOff");
    let (code, p) = c
        .patch(
            &format!("{VMS3}/b"),
            "application/json-patch+json",
            json!([{"op": "replace", "path": "/spec/className", "value": "best-effort-medium"}]),
        )
        .await;
    assert_eq!(
        (code, p["spec"]["className"].as_str()),
        (200, Some("best-effort-medium"))
    );
    // server-side apply creates, then merges
    let (code, created) = c.patch(&format!("{VMS3}/d?fieldManager=kubectl"), "application/apply-patch+yaml",
        json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine", "metadata": {"name": "d"}, "spec": {"className": "best-effort-small"}})).await;
    assert_eq!(
        (code, created["metadata"]["name"].as_str()),
        (201, Some("d"))
    );
    // dry run create does not persist; generateName works
    let (code, dry) = c.post(&format!("{VMS3}?dryRun=All"), json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine", "metadata": {"generateName": "gen-"}, "spec": {}})).await;
    assert_eq!(code, 201);
    let dry_name = dry["metadata"]["name"].as_str().unwrap();
    assert!(dry_name.starts_with("gen-"));
    assert_eq!(c.get(&format!("{VMS3}/{dry_name}")).await.0, 404);
    // delete with a body, deletecollection
    let (code, _) = c
        .delete(
            &format!("{VMS3}/c"),
            Some(json!({"propagationPolicy": "Background"})),
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(c.get(&format!("{VMS3}/c")).await.0, 404);
    let (code, dc) = c
        .delete(&format!("{VMS3}?fieldSelector=metadata.name%3Dd"), None)
        .await;
    assert_eq!((code, dc["items"].as_array().map(Vec::len)), (200, Some(1)));
    // bad names, bad paths, bad methods, bad bodies
    assert_eq!(c.post(VMS3, vm("Bad_Name")).await.0, 422);
    assert_eq!(
        c.get("/apis/vmoperator.vmware.com/v1alpha3/namespaces/demo/nothings")
            .await
            .0,
        404
    );
    assert_eq!(
        c.req(reqwest::Method::PUT, VMS3, None, Some(json!({})))
            .await
            .0,
        405
    );
    assert_eq!(
        c.req(reqwest::Method::POST, VMS3, None, Some(json!("nope")))
            .await
            .0,
        400
    );
    let (code, ns) = c
        .post(
            "/apis/vmoperator.vmware.com/v1alpha3/namespaces/nope/virtualmachines",
            vm("x"),
        )
        .await;
    assert_eq!(
        (code, ns["message"].as_str()),
        (404, Some("namespaces \"nope\" not found"))
    );
    sim.stop().await;
}

#[tokio::test]
async fn validation_errors_defaults_and_pruning() {
    let (sim, c) = start(api_only()).await;
    let mut bad = vm("bad");
    bad["spec"]["powerState"] = json!("On");
    let (code, st) = c.post(VMS3, bad).await;
    assert_eq!(code, 422);
    assert_eq!(st["reason"], "Invalid");
    assert_eq!(st["message"], "VirtualMachine.vmoperator.vmware.com \"bad\" is invalid: spec.powerState: Unsupported value: \"On\": supported values: \"PoweredOff\", \"PoweredOn\", \"Suspended\"");
    assert_eq!(st["details"]["causes"][0]["field"], "spec.powerState");
    assert_eq!(
        st["details"]["causes"][0]["reason"],
        "FieldValueNotSupported"
    );
    let mut bad = vm("bad2");
    bad["spec"]["cdrom"] =
        json!([{"name": "X", "image": {"kind": "VirtualMachineImage", "name": "i"}}]);
    bad["spec"]["minHardwareVersion"] = json!(5);
    let (code, st) = c.post(VMS3, bad).await;
    assert_eq!(code, 422);
    let msg = st["message"].as_str().unwrap();
    assert!(
        msg.contains("spec.cdrom[0].name: Invalid value: \"X\""),
        "{msg}"
    );
    assert!(
        msg.contains("spec.minHardwareVersion: Invalid value: 5"),
        "{msg}"
    );
    // unknown fields: pruned with a warning by default, refused with fieldValidation=Strict
    let mut extra = vm("extra");
    extra["spec"]["bogus"] = json!(1);
    let resp = c
        .http
        .post(format!("{}{VMS3}", c.base))
        .bearer_auth(&c.token)
        .header("content-type", "application/json")
        .body(extra.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    assert!(resp
        .headers()
        .get("warning")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("unknown field \\\"spec.bogus\\\""));
    let o: Value = resp.json().await.unwrap();
    assert!(o["spec"].get("bogus").is_none());
    // CRD defaults applied (cdrom connected default true) and status ignored on create
    let mut cd = vm("cd");
    cd["spec"]["cdrom"] =
        json!([{"name": "cdrom", "image": {"kind": "VirtualMachineImage", "name": "vmi-1"}}]);
    cd["status"] = json!({"powerState": "PoweredOn"});
    let (code, o) = c.post(VMS3, cd).await;
    assert_eq!(code, 201, "{o}");
    assert_eq!(o["spec"]["cdrom"][0]["connected"], true);
    assert!(o.get("status").is_none());
    let mut strict = vm("strict");
    strict["spec"]["bogus"] = json!(1);
    let (code, st) = c
        .post(&format!("{VMS3}?fieldValidation=Strict"), strict)
        .await;
    assert_eq!(code, 400);
    assert!(st["message"]
        .as_str()
        .unwrap()
        .contains("unknown field \"spec.bogus\""));
    sim.stop().await;
}

#[tokio::test]
async fn versions_convert_cdrom_and_writable() {
    let (sim, c) = start(api_only()).await;
    let mut v = vm("iso");
    v["spec"]["cdrom"] = json!([{"name": "cdrom", "image": {"kind": "VirtualMachineImage", "name": "vmi-1"}, "connected": true, "allowGuestControl": true}]);
    v["spec"]["guestID"] = json!("ubuntu64Guest");
    assert_eq!(c.post(VMS3, v).await.0, 201);
    let (_, v5) = c.get(&format!("{VMS5}/iso")).await;
    assert_eq!(v5["apiVersion"], "vmoperator.vmware.com/v1alpha5");
    assert_eq!(v5["spec"]["hardware"]["cdrom"][0]["name"], "cdrom");
    assert!(v5["spec"].get("cdrom").is_none());
    let (_, v3) = c.get(&format!("{VMS3}/iso")).await;
    assert_eq!(v3["spec"]["cdrom"][0]["image"]["name"], "vmi-1");
    // the store keeps the hub (v1alpha5) shape
    let hub = sim
        .store
        .get(
            &supervisor_sim::catalog::Gr::from(&vmop_types::api::VIRTUAL_MACHINE),
            Some("demo"),
            "iso",
        )
        .unwrap();
    assert_eq!(hub["spec"]["hardware"]["cdrom"][0]["name"], "cdrom");
    // imageregistry: v1alpha1 writable <-> v1alpha2 allowPublish/allowDelete
    let (_, gl) = c.get("/apis/imageregistry.vmware.com/v1alpha1/namespaces/demo/contentlibraries/golden-images").await;
    assert_eq!(gl["spec"]["writable"], true);
    assert!(gl["spec"]["uuid"].is_string());
    let (_, ro) = c.get("/apis/imageregistry.vmware.com/v1alpha1/namespaces/demo/contentlibraries/readonly-images").await;
    assert_eq!(ro["spec"]["writable"], false);
    let (code, created) = c.post("/apis/imageregistry.vmware.com/v1alpha1/namespaces/demo/contentlibraries",
        json!({"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibrary", "metadata": {"name": "mine"}, "spec": {"uuid": "u-1", "writable": true}})).await;
    assert_eq!(code, 201, "{created}");
    let (_, v2) = c
        .get("/apis/imageregistry.vmware.com/v1alpha2/namespaces/demo/contentlibraries/mine")
        .await;
    assert_eq!(
        (
            v2["spec"]["allowPublish"].as_bool(),
            v2["spec"]["allowDelete"].as_bool(),
            v2["spec"]["id"].as_str()
        ),
        (Some(true), Some(true), Some("u-1"))
    );
    // only the versions the CRDs have are served
    assert_eq!(
        c.get("/apis/vmoperator.vmware.com/v1alpha6/namespaces/demo/virtualmachines")
            .await
            .0,
        404
    );
    sim.stop().await;
}

#[tokio::test]
async fn tables_for_kubectl() {
    let (sim, c) = start(api_only()).await;
    let resp = c
        .http
        .get(format!(
            "{}/apis/vmoperator.vmware.com/v1alpha3/namespaces/demo/virtualmachineimages",
            c.base
        ))
        .bearer_auth(&c.token)
        .header(
            "accept",
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        )
        .send()
        .await
        .unwrap();
    let t: Value = resp.json().await.unwrap();
    assert_eq!(t["kind"], "Table");
    let names: Vec<&str> = t["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names[..3], ["Name", "Display Name", "Type"]);
    let displays: Vec<&str> = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["cells"][1].as_str().unwrap())
        .collect();
    for d in ["ubuntu-24.04", "photon-5", "windows-2022"] {
        assert!(displays.contains(&d), "{displays:?}");
    }
    assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    sim.stop().await;
}

#[tokio::test]
async fn watch_stream_resume_and_gone() {
    let (sim, c) = start(RunOptions {
        history_limit: 5,
        ..api_only()
    })
    .await;
    let (_, list) = c.get(VMS3).await;
    let rv = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let mut w = c
        .watch(&format!(
            "{VMS3}?watch=true&resourceVersion={rv}&fieldSelector=metadata.name%3Dw1"
        ))
        .await;
    c.post(VMS3, vm("w0")).await;
    c.post(VMS3, vm("w1")).await;
    let ev = w.next().await.unwrap();
    assert_eq!(
        (
            ev["type"].as_str(),
            ev["object"]["metadata"]["name"].as_str()
        ),
        (Some("ADDED"), Some("w1"))
    );
    assert_eq!(ev["object"]["apiVersion"], "vmoperator.vmware.com/v1alpha3");
    c.patch(
        &format!("{VMS3}/w1"),
        "application/merge-patch+json",
        json!({"spec": {"powerState": "PoweredOff"}}),
    )
    .await;
    assert_eq!(w.next().await.unwrap()["type"], "MODIFIED");
    c.delete(&format!("{VMS3}/w1"), None).await;
    assert_eq!(w.next().await.unwrap()["type"], "DELETED");
    // resume from the list RV replays everything since
    let mut r = c
        .watch(&format!("{VMS3}?watch=1&resourceVersion={rv}"))
        .await;
    let names: Vec<String> = [r.next().await.unwrap(), r.next().await.unwrap()]
        .iter()
        .map(|e| {
            e["object"]["metadata"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(names, ["w0", "w1"]);
    // without a resourceVersion: current state as ADDED
    let mut s = c.watch(&format!("{VMS3}?watch=true")).await;
    assert_eq!(s.next().await.unwrap()["object"]["metadata"]["name"], "w0");
    // push the history past the list RV: resuming gives a 410 ERROR event
    for i in 2..10 {
        c.post(VMS3, vm(&format!("w{i}"))).await;
    }
    let mut g = c
        .watch(&format!("{VMS3}?watch=true&resourceVersion={rv}"))
        .await;
    let ev = g.next().await.unwrap();
    assert_eq!(ev["type"], "ERROR");
    assert_eq!(ev["object"]["code"], 410);
    assert_eq!(ev["object"]["reason"], "Expired");
    assert!(g.next().await.is_none());
    // timeoutSeconds ends the stream
    let mut t = c
        .watch(&format!(
            "{VMS3}?watch=true&resourceVersion={}&timeoutSeconds=1",
            sim.store.current_rv()
        ))
        .await;
    assert!(t.next().await.is_none());
    sim.stop().await;
}

#[tokio::test]
async fn auth_401_and_403() {
    let (sim, c) = start(api_only()).await;
    let no = c
        .http
        .get(format!("{}{VMS3}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(no.status().as_u16(), 401);
    let wrong = c
        .http
        .get(format!("{}{VMS3}", c.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let body: Value = wrong.json().await.unwrap();
    assert_eq!(body["reason"], "Unauthorized");
    let demo = Client {
        http: c.http.clone(),
        base: c.base.clone(),
        token: sim.auth.demo_token().to_string(),
    };
    assert_eq!(demo.get(VMS3).await.0, 200);
    assert_eq!(demo.post(VMS3, vm("mine")).await.0, 201);
    let (code, st) = demo
        .get("/apis/vmoperator.vmware.com/v1alpha3/namespaces/default/virtualmachines")
        .await;
    assert_eq!(code, 403);
    assert_eq!(st["message"], "virtualmachines.vmoperator.vmware.com is forbidden: User \"demo-user\" cannot list resource \"virtualmachines\" in API group \"vmoperator.vmware.com\" in the namespace \"default\"");
    assert_eq!(
        demo.get("/apis/vmoperator.vmware.com/v1alpha3/virtualmachines")
            .await
            .0,
        403
    );
    assert_eq!(
        demo.get("/apis/vmoperator.vmware.com/v1alpha3/clustervirtualmachineimages")
            .await
            .0,
        200
    );
    assert_eq!(demo.get("/sim/v1/faults").await.0, 403);
    // the kubeconfig carries both users and the CA
    assert!(
        sim.kubeconfig.contains(sim.auth.demo_token())
            && sim.kubeconfig.contains("certificate-authority-data")
    );
    sim.stop().await;
}

#[tokio::test]
async fn faults_http_and_watch() {
    let (sim, c) = start(api_only()).await;
    let (code, _) = c.put("/sim/v1/faults", json!({"http": [{"verb": "create", "resource": "vm", "code": 429, "count": 2}, {"verb": "get", "resource": "virtualmachines", "name": "slow", "code": 500, "count": 1}],
        "watch": [{"resource": "virtualmachines", "afterEvents": 1, "count": 1}]})).await;
    assert_eq!(code, 200);
    let resp = c
        .http
        .post(format!("{}{VMS3}", c.base))
        .bearer_auth(&c.token)
        .header("content-type", "application/json")
        .body(vm("f").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert!(resp.headers().get("retry-after").is_some());
    assert_eq!(c.post(VMS3, vm("f")).await.0, 429);
    assert_eq!(c.post(VMS3, vm("f")).await.0, 201);
    assert_eq!(c.get(&format!("{VMS3}/slow")).await.0, 500);
    assert_eq!(c.get(&format!("{VMS3}/slow")).await.0, 404);
    let mut w = c.watch(&format!("{VMS3}?watch=true")).await;
    assert_eq!(w.next().await.unwrap()["type"], "ADDED");
    assert!(w.next().await.is_none(), "watch dropped after one event");
    let (_, cur) = c.get("/sim/v1/faults").await;
    assert_eq!(cur["http"], json!([]));
    // latency
    c.patch(
        "/sim/v1/faults",
        "application/merge-patch+json",
        json!({"latencyMs": 300}),
    )
    .await;
    let t0 = std::time::Instant::now();
    c.get(VMS3).await;
    assert!(t0.elapsed() >= Duration::from_millis(300));
    assert_eq!(c.delete("/sim/v1/faults", None).await.0, 200);
    assert_eq!(sim.faults.get(), Default::default());
    // controller faults are part of the same document
    c.put("/sim/v1/faults", json!({"controllers": {"vmNoIp": true, "publishFailure": {"reason": "UploadFailure", "message": "disk full"}}})).await;
    assert!(sim.faults.controllers().vm_no_ip);
    sim.stop().await;
}

#[tokio::test]
async fn restart_keeps_state_and_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        state_dir: Some(dir.path().to_path_buf()),
        ..api_only()
    };
    let (sim, c) = start(opts.clone()).await;
    assert_eq!(c.post(VMS3, vm("persist")).await.0, 201);
    let rv = sim.store.current_rv();
    let ca = sim.tls.as_ref().unwrap().ca_pem.clone();
    sim.stop().await;
    let (sim, c) = start(opts).await;
    assert_eq!(sim.tls.as_ref().unwrap().ca_pem, ca);
    let (code, o) = c.get(&format!("{VMS3}/persist")).await;
    assert_eq!(code, 200);
    assert_eq!(o["spec"]["className"], "best-effort-small");
    let (_, o2) = c.post(VMS3, vm("after")).await;
    let rv2: u64 = o2["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(rv2 > rv, "resourceVersion continues ({rv2} > {rv})");
    sim.stop().await;
}

#[tokio::test]
async fn watch_label_transitions_and_initial_events_bookmark() {
    let (sim, c) = start(api_only()).await;
    c.post(VMS3, vm("pre")).await;
    // streaming-list style watch (kube-rs `streaming_lists()`): initial ADDED events, then a
    // bookmark annotated k8s.io/initial-events-end
    let mut s = c.watch(&format!("{VMS3}?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")).await;
    assert_eq!(s.next().await.unwrap()["object"]["metadata"]["name"], "pre");
    let bm = s.next().await.unwrap();
    assert_eq!(bm["type"], "BOOKMARK");
    assert_eq!(
        bm["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    // a label selector watch sees objects enter (ADDED) and leave (DELETED)
    let rv = sim.store.current_rv();
    let mut w = c
        .watch(&format!(
            "{VMS3}?watch=true&resourceVersion={rv}&labelSelector=stage%3Dready"
        ))
        .await;
    c.patch(
        &format!("{VMS3}/pre"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"stage": "ready"}}}),
    )
    .await;
    assert_eq!(w.next().await.unwrap()["type"], "ADDED");
    c.patch(
        &format!("{VMS3}/pre"),
        "application/merge-patch+json",
        json!({"spec": {"powerState": "PoweredOff"}}),
    )
    .await;
    assert_eq!(w.next().await.unwrap()["type"], "MODIFIED");
    c.patch(
        &format!("{VMS3}/pre"),
        "application/merge-patch+json",
        json!({"metadata": {"labels": {"stage": "done"}}}),
    )
    .await;
    assert_eq!(w.next().await.unwrap()["type"], "DELETED");
    sim.stop().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_not_crashes() {
    let (sim, c) = start(api_only()).await;
    for body in [
        json!({"metadata": "x"}),
        json!({"metadata": 5, "spec": {}}),
        json!([1, 2]),
        json!(null),
    ] {
        let (code, _) = c.post(VMS3, body.clone()).await;
        assert_eq!(code, 400, "POST {body}");
    }
    c.post(VMS3, vm("m")).await;
    let (code, _) = c.put(&format!("{VMS3}/m"), json!({"metadata": "x"})).await;
    assert_eq!(code, 400);
    let (code, _) = c
        .patch(
            &format!("{VMS3}/new?fieldManager=t"),
            "application/apply-patch+yaml",
            json!({"metadata": "x"}),
        )
        .await;
    assert_eq!(code, 400);
    let (code, _) = c
        .patch(
            &format!("{VMS3}/m"),
            "application/merge-patch+json",
            json!({"metadata": "x"}),
        )
        .await;
    assert_eq!(code, 400);
    let (code, _) = c
        .patch(
            &format!("{VMS3}/m"),
            "application/json-patch+json",
            json!({"op": "x"}),
        )
        .await;
    assert_eq!(code, 400);
    let (code, _) = c.patch(&format!("{VMS3}/m"), "text/plain", json!({})).await;
    assert_eq!(code, 415);
    let (code, _) = c.get(&format!("{VMS3}?labelSelector=a%20in%20b")).await;
    assert_eq!(code, 400);
    let (code, _) = c
        .get(&format!("{VMS3}?watch=true&resourceVersion=abc"))
        .await;
    assert_eq!(code, 400);
    // the server is still fine
    assert_eq!(c.get(&format!("{VMS3}/m")).await.0, 200);
    sim.stop().await;
}
