//! The v1alpha1 shapes of the VM Operator kinds (the version vSphere 8.0 U1–U3 Supervisors serve
//! and HashiCorp's builder up to v1.4.2 speaks), and their conversion to and from the hub
//! (v1alpha5) on `serde_json::Value`s, the way VM Operator's conversion webhooks do it.
//!
//! Only the fields that differ are converted; the rest passes through. Lossless the way VM
//! Operator is: a down-conversion stores the hub object's `spec` and `status` in the annotation
//! [`ANNOTATION_CONVERSION_DATA`]; an up-conversion restores from it every hub field that the
//! v1alpha1 object could not express (and so does not carry), then drops the annotation. So a
//! round trip hub → v1alpha1 → hub loses nothing, even through a client that writes the
//! v1alpha1 object back.
//!
//! VirtualMachine, v1alpha1 ⇔ hub:
//! * `spec.powerState` / `status.powerState`: `poweredOn` ⇔ `PoweredOn`, and likewise
//!   `spec.powerOffMode`, `restartMode`, `suspendMode` (`trySoft` ⇔ `TrySoft`): the first letter's case;
//! * `spec.vmMetadata {secretName|configMapName, transport}` ⇔ `spec.bootstrap`: `CloudInit` ⇔
//!   `cloudInit.rawCloudConfig {name, key: user-data}`, `Sysprep` ⇔ `sysprep.rawSysprep {name,
//!   key: unattend}`, `vAppConfig` ⇔ `vAppConfig.rawProperties`, `OvfEnv` ⇔ `linuxPrep` +
//!   `vAppConfig.rawProperties`, `ExtraConfig` ⇔ `cloudInit.rawCloudConfig {key:
//!   guestinfo.userdata}`;
//! * `spec.networkInterfaces [{networkType, networkName}]` ⇔ `spec.network.interfaces [{name:
//!   ethN, network {name, kind, apiVersion}}]`;
//! * `status.vmIp` ⇔ `status.network.primaryIP4` (or `primaryIP6`).
//!
//! VirtualMachineImage / ClusterVirtualMachineImage, v1alpha1 ⇔ hub: v1alpha1 keeps the image's
//! description in `spec` (`type`, `osInfo`, `productInfo`, `hardwareVersion`) and its display
//! name in `status.imageName`; the hub has them in `status` (`type`, `osInfo`, `productInfo`,
//! `hardwareVersion`, `name`).
//!
//! VirtualMachineService, VirtualMachinePublishRequest and VirtualMachineClass have the same
//! shape in v1alpha1 for every field the builder and the simulator use.

use serde_json::{json, Map, Value};

/// Where a down-conversion keeps the hub data that v1alpha1 cannot express.
pub const ANNOTATION_CONVERSION_DATA: &str = "vmoperator.vmware.com/conversion-data";

/// The version these shapes are.
pub const VERSION: &str = "v1alpha1";

/// `poweredOn` → `PoweredOn` (hub) and back.
fn power_to_hub(v: &str) -> String {
    let mut c = v.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn power_from_hub(v: &str) -> String {
    let mut c = v.chars();
    c.next()
        .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn map_string(obj: &mut Map<String, Value>, key: &str, f: fn(&str) -> String) {
    if let Some(Value::String(s)) = obj.get(key) {
        let new = f(s);
        obj.insert(key.into(), Value::String(new));
    }
}

fn object<'a>(v: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    v.get_mut(key).and_then(Value::as_object_mut)
}

fn entry<'a>(m: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let e = m
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !e.is_object() {
        *e = Value::Object(Map::new());
    }
    match e {
        Value::Object(m) => m,
        _ => unreachable!("just made an object"),
    }
}

// ---- VirtualMachine -----------------------------------------------------------------------

/// Spec fields whose values differ only in the first letter's case (`poweredOn` / `PoweredOn`,
/// `trySoft` / `TrySoft`).
const POWER_FIELDS: [&str; 4] = ["powerState", "powerOffMode", "restartMode", "suspendMode"];

/// v1alpha1 `spec.vmMetadata` → hub `spec.bootstrap`.
fn metadata_to_bootstrap(md: &Map<String, Value>) -> Value {
    let name = md
        .get("secretName")
        .or_else(|| md.get("configMapName"))
        .cloned()
        .unwrap_or(Value::Null);
    let raw = |key: &str| json!({ "name": name, "key": key });
    match md.get("transport").and_then(Value::as_str).unwrap_or("") {
        "CloudInit" => json!({ "cloudInit": { "rawCloudConfig": raw("user-data") } }),
        "ExtraConfig" => json!({ "cloudInit": { "rawCloudConfig": raw("guestinfo.userdata") } }),
        "Sysprep" => json!({ "sysprep": { "rawSysprep": raw("unattend") } }),
        "vAppConfig" => json!({ "vAppConfig": { "rawProperties": name } }),
        "OvfEnv" => json!({ "linuxPrep": {}, "vAppConfig": { "rawProperties": name } }),
        _ => json!({}),
    }
}

/// Hub `spec.bootstrap` → v1alpha1 `spec.vmMetadata` (None: nothing v1alpha1 can say).
fn bootstrap_to_metadata(b: &Value) -> Option<Value> {
    let raw_name = |v: Option<&Value>| v.and_then(|r| r.get("name")).cloned();
    if let Some(ci) = b.get("cloudInit") {
        let raw = ci.get("rawCloudConfig");
        let transport = match raw.and_then(|r| r.get("key")).and_then(Value::as_str) {
            Some("guestinfo.userdata") => "ExtraConfig",
            _ => "CloudInit",
        };
        let name = raw_name(raw)?;
        return Some(json!({ "secretName": name, "transport": transport }));
    }
    if let Some(sp) = b.get("sysprep") {
        let name = raw_name(sp.get("rawSysprep"))?;
        return Some(json!({ "secretName": name, "transport": "Sysprep" }));
    }
    if let Some(name) = b.pointer("/vAppConfig/rawProperties").cloned() {
        let transport = if b.get("linuxPrep").is_some() {
            "OvfEnv"
        } else {
            "vAppConfig"
        };
        return Some(json!({ "secretName": name, "transport": transport }));
    }
    None
}

fn network_kind(network_type: &str) -> Option<(&'static str, &'static str)> {
    match network_type {
        "vsphere-distributed" => Some(("netoperator.vmware.com/v1alpha1", "Network")),
        "nsx-t" => Some(("vmware.com/v1alpha1", "VirtualNetwork")),
        _ => None,
    }
}

fn interfaces_to_hub(ifaces: &[Value]) -> Value {
    let out: Vec<Value> = ifaces
        .iter()
        .enumerate()
        .map(|(i, nic)| {
            let mut network = Map::new();
            if let Some(n) = nic.get("networkName") {
                network.insert("name".into(), n.clone());
            }
            if let Some((api, kind)) = nic
                .get("networkType")
                .and_then(Value::as_str)
                .and_then(network_kind)
            {
                network.insert("apiVersion".into(), json!(api));
                network.insert("kind".into(), json!(kind));
            }
            json!({ "name": format!("eth{i}"), "network": network })
        })
        .collect();
    Value::Array(out)
}

fn interfaces_from_hub(ifaces: &[Value]) -> Value {
    let out: Vec<Value> = ifaces
        .iter()
        .map(|nic| {
            let mut o = Map::new();
            if let Some(n) = nic.pointer("/network/name") {
                o.insert("networkName".into(), n.clone());
            }
            let kind = nic.pointer("/network/kind").and_then(Value::as_str);
            let ty = match kind {
                Some("Network") => Some("vsphere-distributed"),
                Some("VirtualNetwork") => Some("nsx-t"),
                _ => None,
            };
            if let Some(t) = ty {
                o.insert("networkType".into(), json!(t));
            }
            Value::Object(o)
        })
        .collect();
    Value::Array(out)
}

/// VirtualMachine v1alpha1 → hub (in place, before the v1alpha3 → v1alpha5 step).
pub fn vm_to_hub(obj: &mut Value) {
    let restored = take_conversion_data(obj);
    if let Some(spec) = object(obj, "spec") {
        for k in POWER_FIELDS {
            map_string(spec, k, power_to_hub);
        }
        if let Some(Value::Object(md)) = spec.remove("vmMetadata") {
            let b = metadata_to_bootstrap(&md);
            if b.as_object().is_some_and(|m| !m.is_empty()) {
                spec.insert("bootstrap".into(), b);
            }
        }
        if let Some(Value::Array(ifaces)) = spec.remove("networkInterfaces") {
            entry(spec, "network").insert("interfaces".into(), interfaces_to_hub(&ifaces));
        }
    }
    if let Some(status) = object(obj, "status") {
        map_string(status, "powerState", power_to_hub);
        if let Some(Value::String(ip)) = status.remove("vmIp") {
            if !ip.is_empty() {
                let key = if ip.contains(':') {
                    "primaryIP6"
                } else {
                    "primaryIP4"
                };
                entry(status, "network").insert(key.into(), Value::String(ip));
            }
        }
        // v1alpha1's per-interface status has another shape; the hub's comes back from the
        // conversion data when there is any.
        status.remove("networkInterfaces");
        status.remove("phase");
    }
    restore(obj, restored);
}

/// Hub → VirtualMachine v1alpha1 (in place, after the v1alpha5 → v1alpha3 step, given the hub
/// object as it was before that step).
pub fn vm_from_hub(obj: &mut Value, hub: &Value) {
    if let Some(spec) = object(obj, "spec") {
        for k in POWER_FIELDS {
            map_string(spec, k, power_from_hub);
        }
        if let Some(b) = spec.remove("bootstrap") {
            if let Some(md) = bootstrap_to_metadata(&b) {
                spec.insert("vmMetadata".into(), md);
            }
        }
        if let Some(Value::Object(mut net)) = spec.remove("network") {
            if let Some(Value::Array(ifaces)) = net.remove("interfaces") {
                spec.insert("networkInterfaces".into(), interfaces_from_hub(&ifaces));
            }
        }
        spec.remove("image");
    }
    if let Some(status) = object(obj, "status") {
        map_string(status, "powerState", power_from_hub);
        if let Some(Value::Object(net)) = status.remove("network") {
            let ip = net.get("primaryIP4").or_else(|| net.get("primaryIP6"));
            if let Some(ip) = ip.cloned() {
                status.insert("vmIp".into(), ip);
            }
        }
        let phase = if status.get("vmIp").is_some() {
            "Created"
        } else {
            "Creating"
        };
        status.insert("phase".into(), json!(phase));
    }
    keep_conversion_data(obj, hub);
}

/// A VirtualMachine a client writes, in the hub shape, turned into the v1alpha1 request body
/// (no conversion data: a client has nothing to preserve).
pub fn vm_request(obj: &mut Value) {
    let hub = obj.clone();
    vm_from_hub(obj, &hub);
    take_conversion_data(obj);
    if let Some(o) = obj.as_object_mut() {
        o.insert(
            "apiVersion".into(),
            json!(format!("{}/{VERSION}", crate::api::VMOP_GROUP)),
        );
    }
}

// ---- VirtualMachineImage / ClusterVirtualMachineImage --------------------------------------

const IMAGE_MOVED: [&str; 4] = ["type", "osInfo", "productInfo", "hardwareVersion"];

/// VirtualMachineImage v1alpha1 → hub (in place).
pub fn image_to_hub(obj: &mut Value) {
    let restored = take_conversion_data(obj);
    let mut moved = Map::new();
    if let Some(spec) = object(obj, "spec") {
        for k in IMAGE_MOVED {
            if let Some(v) = spec.remove(k) {
                moved.insert(k.into(), v);
            }
        }
        spec.remove("imageSourceType");
        spec.remove("imageID");
    }
    let Some(o) = obj.as_object_mut() else { return };
    let status = entry(o, "status");
    if let Some(n) = status.remove("imageName") {
        status.insert("name".into(), n);
    }
    for (k, v) in moved {
        status.insert(k, v);
    }
    for k in [
        "uuid",
        "internalId",
        "powerState",
        "imageSupported",
        "contentLibraryRef",
    ] {
        status.remove(k);
    }
    if status.is_empty() {
        o.remove("status");
    }
    restore(obj, restored);
}

/// Hub → VirtualMachineImage v1alpha1 (in place).
pub fn image_from_hub(obj: &mut Value, hub: &Value) {
    let mut moved = Map::new();
    if let Some(status) = object(obj, "status") {
        for k in IMAGE_MOVED {
            if let Some(v) = status.remove(k) {
                moved.insert(k.into(), v);
            }
        }
        if let Some(n) = status.remove("name") {
            status.insert("imageName".into(), n);
        }
        let supported = status
            .get("conditions")
            .and_then(Value::as_array)
            .is_some_and(|cs| {
                cs.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Ready")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            });
        status.insert("imageSupported".into(), json!(supported));
    }
    if let Some(o) = obj.as_object_mut() {
        let spec = entry(o, "spec");
        for (k, v) in moved {
            spec.insert(k, v);
        }
    }
    keep_conversion_data(obj, hub);
}

/// A VirtualMachineImage in the hub shape turned into the v1alpha1 body (no conversion data).
pub fn image_request(obj: &mut Value) {
    let hub = obj.clone();
    image_from_hub(obj, &hub);
    take_conversion_data(obj);
}

// ---- conversion data -----------------------------------------------------------------------

/// Stores the hub object's `spec` and `status` in the conversion-data annotation of `obj`.
fn keep_conversion_data(obj: &mut Value, hub: &Value) {
    let mut data = Map::new();
    for k in ["spec", "status"] {
        if let Some(v) = hub.get(k) {
            data.insert(k.into(), v.clone());
        }
    }
    let Some(o) = obj.as_object_mut() else { return };
    let meta = entry(o, "metadata");
    let ann = entry(meta, "annotations");
    ann.insert(
        ANNOTATION_CONVERSION_DATA.into(),
        Value::String(Value::Object(data).to_string()),
    );
}

/// Removes the conversion-data annotation from `obj` and returns what it held (if it parses).
fn take_conversion_data(obj: &mut Value) -> Option<Value> {
    let meta = obj.get_mut("metadata").and_then(Value::as_object_mut)?;
    let ann = meta.get_mut("annotations").and_then(Value::as_object_mut)?;
    let raw = ann.remove(ANNOTATION_CONVERSION_DATA);
    if ann.is_empty() {
        meta.remove("annotations");
    }
    serde_json::from_str(raw?.as_str()?).ok()
}

/// Puts back every field of `data` that `obj` lacks (what v1alpha1 could not express).
fn restore(obj: &mut Value, data: Option<Value>) {
    let (Some(Value::Object(data)), Some(o)) = (data, obj.as_object_mut()) else {
        return;
    };
    for (k, v) in data {
        match o.get_mut(&k) {
            Some(have) => fill_absent(have, v),
            None => {
                o.insert(k, v);
            }
        }
    }
}

fn fill_absent(have: &mut Value, from: Value) {
    if let (Value::Object(h), Value::Object(f)) = (have, from) {
        for (k, v) in f {
            match h.get_mut(&k) {
                Some(inner) => fill_absent(inner, v),
                None => {
                    h.insert(k, v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
