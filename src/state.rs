//! What one build knows as it goes: a typed record instead of a string-keyed bag.
//!
//! The [`Ledger`] is the single source of truth for cleanup: an object is recorded the moment
//! the API server accepts its creation, and cleanup walks the ledger backwards.
use std::fmt;

use crate::kube::Cluster;

/// The kinds of object a build creates in the Supervisor namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectKind {
    Secret,
    PersistentVolumeClaim,
    VirtualMachine,
    VirtualMachineService,
    VirtualMachinePublishRequest,
    ContentLibraryItemImportRequest,
    ContentLibraryItem,
}

impl ObjectKind {
    /// Input artifacts are what `keep_input_artifact` keeps: the machine, what it needs to run,
    /// and its publish request, as HashiCorp's builder does (the request's
    /// `publish_request_ttl_sec` then has vm-operator delete it).
    pub fn is_input_artifact(self) -> bool {
        // Import objects follow keep_import_request / clean_imported_image instead: the build
        // records them only when they are to be deleted.
        !matches!(
            self,
            ObjectKind::ContentLibraryItemImportRequest | ObjectKind::ContentLibraryItem
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Secret => "Secret",
            ObjectKind::PersistentVolumeClaim => "PersistentVolumeClaim",
            ObjectKind::VirtualMachine => "VirtualMachine",
            ObjectKind::VirtualMachineService => "VirtualMachineService",
            ObjectKind::VirtualMachinePublishRequest => "VirtualMachinePublishRequest",
            ObjectKind::ContentLibraryItemImportRequest => "ContentLibraryItemImportRequest",
            ObjectKind::ContentLibraryItem => "ContentLibraryItem",
        }
    }
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One object the build created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedObject {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
    /// False while its create request is unanswered: the object may or may not exist, and if
    /// it exists it may be someone else's, so cleanup checks its build-id label first.
    pub confirmed: bool,
}

impl fmt::Display for CreatedObject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// Objects created by this build, in creation order.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    entries: Vec<CreatedObject>,
}

/// What cleanup should do with the ledger, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupPlan {
    pub delete: Vec<CreatedObject>,
    pub keep: Vec<CreatedObject>,
}

impl Ledger {
    pub fn record(&mut self, kind: ObjectKind, namespace: &str, name: &str) {
        self.forget(kind, name);
        self.entries.push(CreatedObject {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            confirmed: true,
        });
    }

    /// Records a create about to be sent, so a build cancelled while it is in flight still
    /// cleans up what it may have created. [`Ledger::record`] confirms it, [`Ledger::forget`]
    /// drops it when the create failed.
    pub fn intend(&mut self, kind: ObjectKind, namespace: &str, name: &str) {
        self.forget(kind, name);
        self.entries.push(CreatedObject {
            kind,
            namespace: namespace.to_string(),
            name: name.to_string(),
            confirmed: false,
        });
    }

    /// Forgets an object that is already gone (deleted by the build itself).
    pub fn forget(&mut self, kind: ObjectKind, name: &str) {
        self.entries.retain(|e| !(e.kind == kind && e.name == name));
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[CreatedObject] {
        &self.entries
    }

    /// Newest first, so dependants go before what they depend on (service before VM, VM before
    /// its bootstrap Secret).
    pub fn plan(&self, keep_input_artifact: bool) -> CleanupPlan {
        let mut plan = CleanupPlan::default();
        for e in self.entries.iter().rev() {
            if keep_input_artifact && e.kind.is_input_artifact() {
                plan.keep.push(e.clone());
            } else {
                plan.delete.push(e.clone());
            }
        }
        plan
    }
}

/// The image the VM is created from, after resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// `VirtualMachineImage` or `ClusterVirtualMachineImage`.
    pub kind: String,
    /// Kubernetes object name (`vmi-…`).
    pub name: String,
    /// `status.name`, the content library item's name.
    pub display_name: String,
    /// `status.type`: `OVF` or `ISO` (empty on old Supervisors, treated as OVF).
    pub image_type: String,
}

/// The image the publish produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedImage {
    /// `vmi-…`
    pub vmi_name: String,
    pub display_name: String,
    pub library: String,
}

/// SSH key material made for this build.
#[derive(Debug, Clone)]
pub struct TempKey {
    /// OpenSSH private key text.
    pub private_openssh: String,
    /// `ssh-ed25519 AAAA… comment`
    pub public_openssh: String,
}

/// Everything the steps learn, in the order they learn it.
#[derive(Default)]
pub struct BuildState {
    /// Random per build; labels every object so it can be traced to this build.
    pub build_id: String,
    pub cluster: Option<Cluster>,
    pub image: Option<ResolvedImage>,
    /// The VirtualMachineImage (`vmi-…`) the import step produced.
    pub imported_image: Option<String>,
    pub temp_key: Option<TempKey>,
    /// Public half of the user's `ssh_private_key_file`, for the default cloud-config.
    pub user_public_key: Option<String>,
    pub ledger: Ledger,
    /// The guest's `status.network.primaryIP4` (informational).
    pub vm_ip: Option<String>,
    /// Where the communicator connects: `ssh_host` or the service's ingress IP.
    pub comm_host: Option<String>,
    /// The content library the publish goes to, found and checked before anything is created.
    pub publish_library: Option<String>,
    pub published: Option<PublishedImage>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger() -> Ledger {
        let mut l = Ledger::default();
        l.record(ObjectKind::Secret, "ns", "src");
        l.record(ObjectKind::VirtualMachine, "ns", "src");
        l.record(ObjectKind::VirtualMachineService, "ns", "src");
        l.record(ObjectKind::VirtualMachinePublishRequest, "ns", "src");
        l
    }

    #[test]
    fn cleanup_walks_backwards() {
        let plan = ledger().plan(false);
        let kinds: Vec<_> = plan.delete.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                ObjectKind::VirtualMachinePublishRequest,
                ObjectKind::VirtualMachineService,
                ObjectKind::VirtualMachine,
                ObjectKind::Secret
            ]
        );
        assert!(plan.keep.is_empty());
    }

    #[test]
    fn keep_input_artifact_keeps_machine_and_publish_request() {
        let mut l = ledger();
        l.record(ObjectKind::ContentLibraryItemImportRequest, "ns", "imp");
        let plan = l.plan(true);
        let del: Vec<_> = plan.delete.iter().map(|e| e.kind).collect();
        let keep: Vec<_> = plan.keep.iter().map(|e| e.kind).collect();
        assert_eq!(del, [ObjectKind::ContentLibraryItemImportRequest]);
        assert_eq!(
            keep,
            [
                ObjectKind::VirtualMachinePublishRequest,
                ObjectKind::VirtualMachineService,
                ObjectKind::VirtualMachine,
                ObjectKind::Secret
            ]
        );
    }

    #[test]
    fn an_intended_object_is_confirmed_in_place() {
        let mut l = Ledger::default();
        l.intend(ObjectKind::Secret, "ns", "src");
        assert!(!l.entries()[0].confirmed);
        l.record(ObjectKind::Secret, "ns", "src");
        assert_eq!(l.entries().len(), 1);
        assert!(l.entries()[0].confirmed);
    }

    #[test]
    fn forget_removes_only_that_object() {
        let mut l = ledger();
        l.forget(ObjectKind::VirtualMachinePublishRequest, "src");
        assert_eq!(l.entries().len(), 3);
        assert_eq!(l.entries()[0].to_string(), "Secret ns/src");
    }
}
