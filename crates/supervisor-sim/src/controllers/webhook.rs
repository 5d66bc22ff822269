//! The VirtualMachine mutation and validation webhooks (vm-operator-api.md §2).

use serde_json::{json, Value};

use crate::catalog::Gr;
use crate::error::{ApiError, Cause};
use crate::store::{Admission, AdmissionRequest, Operation, Store, Subresource};

/// VirtualMachine admission: defaults and image-name resolution on create, then the checks the
/// real validation webhook makes. Bootstrap Secret existence is left to the controller.
pub struct VmWebhook;

const VM_KIND: &str = "VirtualMachine";
const VMI_KIND: &str = "VirtualMachineImage";
const CVMI_KIND: &str = "ClusterVirtualMachineImage";

fn is_vm(req: &AdmissionRequest<'_>) -> bool {
    req.kind == VM_KIND
        && req.gr.group == vmop_types::api::VMOP_GROUP
        && req.subresource == Subresource::Main
}

fn invalid(name: &str, field: &str, message: String) -> ApiError {
    let mut causes = Causes::default();
    causes.invalid(field, message);
    ApiError::invalid(VM_KIND, vmop_types::api::VMOP_GROUP, name, causes.0)
}

/// The string at `pointer`, `""` when absent or not a string.
fn str_at<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The causes one admission review collects, reported together.
#[derive(Default)]
struct Causes(Vec<Cause>);

impl Causes {
    fn add(&mut self, field: &str, reason: &str, message: String) {
        self.0.push(Cause {
            field: field.to_string(),
            reason: reason.to_string(),
            message,
        });
    }

    fn invalid(&mut self, field: &str, message: String) {
        self.add(field, "FieldValueInvalid", message);
    }

    /// `Ok` when nothing was found, else one Invalid error of `kind` `name` with every cause.
    fn into_result(self, kind: &str, name: &str) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(
                kind,
                vmop_types::api::VMOP_GROUP,
                name,
                self.0,
            ))
        }
    }
}

fn display_name(img: &Value) -> Option<&str> {
    img.pointer("/status/name")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| {
            img.pointer("/metadata/annotations/vmware.com~1display-name")
                .and_then(Value::as_str)
        })
}

/// Resolves `imageName` to `{kind, name}` as the mutation webhook does.
fn resolve_image(
    store: &Store,
    ns: Option<&str>,
    vm: &str,
    image_name: &str,
) -> Result<Value, ApiError> {
    let vmis = Gr::from(&vmop_types::api::VIRTUAL_MACHINE_IMAGE);
    let cvmis = Gr::from(&vmop_types::api::CLUSTER_VIRTUAL_MACHINE_IMAGE);
    if image_name.starts_with(vmop_types::naming::VMI_PREFIX) {
        if store.get_arc(&vmis, ns, image_name).is_ok() {
            return Ok(json!({"kind": VMI_KIND, "name": image_name}));
        }
        if store.get_arc(&cvmis, None, image_name).is_ok() {
            return Ok(json!({"kind": CVMI_KIND, "name": image_name}));
        }
        // Not found by object name: the controller reports VirtualMachineImageReady=False.
        return Ok(json!({"kind": VMI_KIND, "name": image_name}));
    }
    for (gr, scope, kind) in [(&vmis, ns, VMI_KIND), (&cvmis, None, CVMI_KIND)] {
        let (items, _) = store.list_arc(gr, scope, &Default::default())?;
        let matches: Vec<String> = items
            .iter()
            .filter(|i| display_name(i) == Some(image_name))
            .filter_map(|i| {
                i.pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .map(String::from)
            })
            .collect();
        match matches.len() {
            0 => continue,
            1 => return Ok(json!({"kind": kind, "name": matches[0]})),
            _ => {
                return Err(invalid(
                    vm,
                    "spec.imageName",
                    format!(
                        "multiple {kind}s have the display name {image_name:?}: {}; use the object name instead",
                        matches.join(", ")
                    ),
                ))
            }
        }
    }
    Err(invalid(
        vm,
        "spec.imageName",
        format!("no VM image exists for {image_name:?} in namespace or cluster scope"),
    ))
}

fn cdroms(obj: &Value) -> Vec<Value> {
    obj.pointer("/spec/hardware/cdrom")
        .or_else(|| obj.pointer("/spec/cdrom"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

impl Admission for VmWebhook {
    fn mutate(&self, req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
        if !is_vm(req) {
            return Ok(());
        }
        if !obj["spec"].is_object() {
            obj["spec"] = json!({});
        }
        match req.operation {
            Operation::Create => {
                default_spec(&mut obj["spec"]);
                default_image_name_from_cdrom(obj);
                default_uuids(&mut obj["spec"]);
                resolve_spec_image(req, obj)
            }
            Operation::Update => {
                keep_power_state(req, obj);
                Ok(())
            }
            Operation::Delete => Ok(()),
        }
    }

    fn validate(&self, req: &AdmissionRequest<'_>, obj: &Value) -> Result<(), ApiError> {
        if !is_vm(req) || req.operation == Operation::Delete {
            return Ok(());
        }
        let create = req.operation == Operation::Create;
        let mut causes = Causes::default();
        check_power_state(obj, create, &mut causes);
        if create && str_at(obj, "/spec/image/name").is_empty() {
            causes.invalid(
                "spec.image",
                "must specify either spec.image or spec.imageName".into(),
            );
        }
        if let Some(b) = obj.pointer("/spec/bootstrap").filter(|b| b.is_object()) {
            check_bootstrap(obj, b, req.name, &mut causes);
        }
        if !cdroms(obj).is_empty() && str_at(obj, "/spec/guestID").is_empty() {
            causes.invalid(
                "spec.guestID",
                "when deploying a VM with CD-ROMs, spec.guestID is required".into(),
            );
        }
        causes.into_result(VM_KIND, req.name)
    }
}

/// A new VM's defaults: the `eth0` network, `PoweredOn`, and the image kind of each CD-ROM.
fn default_spec(spec: &mut Value) {
    if spec.get("network").is_none_or(Value::is_null) {
        spec["network"] = json!({"interfaces": [{"name": "eth0"}]});
    }
    if str_at(spec, "/powerState").is_empty() {
        spec["powerState"] = json!("PoweredOn");
    }
    if let Some(list) = spec
        .pointer_mut("/hardware/cdrom")
        .and_then(Value::as_array_mut)
    {
        for c in list.iter_mut() {
            if str_at(c, "/image/kind").is_empty() {
                c["image"]["kind"] = json!(VMI_KIND);
            }
        }
    }
}

/// Without `imageName`, the image of the first connected CD-ROM (else the first CD-ROM).
fn default_image_name_from_cdrom(obj: &mut Value) {
    if !str_at(obj, "/spec/imageName").is_empty() {
        return;
    }
    let list = cdroms(obj);
    let pick = list
        .iter()
        .find(|c| c.get("connected").and_then(Value::as_bool).unwrap_or(true))
        .or(list.first());
    if let Some(name) = pick
        .and_then(|c| c.pointer("/image/name"))
        .and_then(Value::as_str)
    {
        obj["spec"]["imageName"] = json!(name);
    }
}

fn default_uuids(spec: &mut Value) {
    for field in ["instanceUUID", "biosUUID"] {
        if str_at(spec, &format!("/{field}")).is_empty() {
            spec[field] = json!(uuid::Uuid::new_v4().to_string());
        }
    }
}

/// `spec.image` from `spec.imageName`, unless it is already set.
fn resolve_spec_image(req: &AdmissionRequest<'_>, obj: &mut Value) -> Result<(), ApiError> {
    let image_set = !str_at(obj, "/spec/image/name").is_empty();
    let image_name = str_at(obj, "/spec/imageName").to_string();
    if !image_set && !image_name.is_empty() {
        obj["spec"]["image"] = resolve_image(req.store, req.namespace, req.name, &image_name)?;
    }
    Ok(())
}

/// Once set, the power state cannot become empty: an update without one keeps the stored one.
fn keep_power_state(req: &AdmissionRequest<'_>, obj: &mut Value) {
    if !str_at(obj, "/spec/powerState").is_empty() {
        return;
    }
    if let Some(old) = req.old.and_then(|o| o.pointer("/spec/powerState")).cloned() {
        obj["spec"]["powerState"] = old;
    }
}

/// A supported power state, and not `Suspended` for a new VM.
fn check_power_state(obj: &Value, create: bool, causes: &mut Causes) {
    let power = str_at(obj, "/spec/powerState");
    if !matches!(power, "" | "PoweredOn" | "PoweredOff" | "Suspended") {
        causes.invalid("spec.powerState", format!("unsupported value: {power:?}: supported values: \"PoweredOff\", \"PoweredOn\", \"Suspended\""));
    }
    if create && power == "Suspended" {
        causes.invalid(
            "spec.powerState",
            "cannot set a new VM's power state to Suspended".into(),
        );
    }
}

/// The bootstrap providers that exclude each other, Windows' host-name limit with Sysprep, and
/// CloudInit's two exclusive documents.
fn check_bootstrap(obj: &Value, b: &Value, name: &str, causes: &mut Causes) {
    let has = |k: &str| b.get(k).is_some_and(|v| !v.is_null());
    if has("cloudInit") && (has("linuxPrep") || has("sysprep") || has("vAppConfig")) {
        causes.invalid(
            "spec.bootstrap.cloudInit",
            "CloudInit may not be used with any other bootstrap provider".into(),
        );
    }
    if has("linuxPrep") && has("sysprep") {
        causes.invalid(
            "spec.bootstrap.linuxPrep",
            "LinuxPrep may not be used with Sysprep".into(),
        );
    }
    if has("sysprep") {
        let host = Some(str_at(obj, "/spec/network/hostName"))
            .filter(|h| !h.is_empty())
            .unwrap_or(name);
        if host.len() > 15 {
            causes.invalid(
                "spec.network.hostName",
                "host name may not exceed 15 characters for Windows".into(),
            );
        }
    }
    if let Some(ci) = b.get("cloudInit").filter(|v| v.is_object()) {
        let set = |k: &str| ci.get(k).is_some_and(|v| !v.is_null());
        if set("cloudConfig") && set("rawCloudConfig") {
            causes.invalid(
                "spec.bootstrap.cloudInit",
                "cloudConfig and rawCloudConfig are mutually exclusive".into(),
            );
        }
    }
}

/// VirtualMachinePublishRequest validation (vm-operator-api.md §4.1, §4.3 item 8): the target
/// location name is required, API groups and kinds are checked, source and target are
/// immutable.
pub struct PublishWebhook;

const PUBLISH_KIND: &str = "VirtualMachinePublishRequest";

impl Admission for PublishWebhook {
    fn validate(&self, req: &AdmissionRequest<'_>, obj: &Value) -> Result<(), ApiError> {
        if req.kind != PUBLISH_KIND
            || req.gr.group != vmop_types::api::VMOP_GROUP
            || req.subresource != Subresource::Main
            || req.operation == Operation::Delete
        {
            return Ok(());
        }
        let mut causes = Causes::default();
        let source = Reference {
            at: "source",
            group: vmop_types::api::VMOP_GROUP,
            kind: VM_KIND,
        };
        source.check(obj, &mut causes);
        if str_at(obj, "/spec/target/location/name").is_empty() {
            causes.add(
                "spec.target.location.name",
                "FieldValueRequired",
                "Required value".to_string(),
            );
        }
        let location = Reference {
            at: "target.location",
            group: vmop_types::api::IMAGEREGISTRY_GROUP,
            kind: "ContentLibrary",
        };
        location.check(obj, &mut causes);
        if let (Operation::Update, Some(old)) = (req.operation, req.old) {
            for f in ["source", "target"] {
                if old.pointer(&format!("/spec/{f}")) != obj.pointer(&format!("/spec/{f}")) {
                    causes.invalid(&format!("spec.{f}"), "field is immutable".to_string());
                }
            }
        }
        causes.into_result(PUBLISH_KIND, req.name)
    }
}

/// A typed reference of a publish request (`spec.{at}`): its `apiVersion`, when given, must be
/// of `group`, and its `kind`, when given, must be `kind`.
struct Reference {
    at: &'static str,
    group: &'static str,
    kind: &'static str,
}

impl Reference {
    fn check(&self, obj: &Value, causes: &mut Causes) {
        let pointer = format!("/spec/{}", self.at.replace('.', "/"));
        let api = str_at(obj, &format!("{pointer}/apiVersion"));
        if !api.is_empty() && api.split_once('/').map(|(g, _)| g) != Some(self.group) {
            causes.invalid(
                &format!("spec.{}.apiVersion", self.at),
                format!(
                    "Invalid value: {api:?}: API version group must be {}",
                    self.group
                ),
            );
        }
        let kind = str_at(obj, &format!("{pointer}/kind"));
        if !kind.is_empty() && kind != self.kind {
            causes.invalid(
                &format!("spec.{}.kind", self.at),
                format!("Invalid value: {kind:?}: only {} is supported", self.kind),
            );
        }
    }
}
