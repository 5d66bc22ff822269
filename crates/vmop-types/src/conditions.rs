//! Condition types and reasons shared by the builder and the simulator's controllers
//! (vm-operator-api.md §2.3, §4.2, §5, §9).

/// `status.conditions[].status` values.
pub mod status {
    /// Condition holds.
    pub const TRUE: &str = "True";
    /// Condition does not hold.
    pub const FALSE: &str = "False";
    /// Not known yet.
    pub const UNKNOWN: &str = "Unknown";
}

/// VirtualMachine condition types.
pub mod vm {
    /// The class was found.
    pub const CLASS_READY: &str = "VirtualMachineClassReady";
    /// The image was found and is ready.
    pub const IMAGE_READY: &str = "VirtualMachineImageReady";
    /// Storage class / volumes are ready.
    pub const STORAGE_READY: &str = "VirtualMachineStorageReady";
    /// Bootstrap data was found.
    pub const BOOTSTRAP_READY: &str = "VirtualMachineBootstrapReady";
    /// Networking is ready.
    pub const NETWORK_READY: &str = "VirtualMachineNetworkReady";
    /// The vSphere VM exists.
    pub const CREATED: &str = "VirtualMachineCreated";
    /// Guest bootstrap progress.
    pub const GUEST_BOOTSTRAP: &str = "GuestBootstrap";
    /// Guest customization progress.
    pub const GUEST_CUSTOMIZATION: &str = "GuestCustomization";
    /// VMware Tools state.
    pub const TOOLS: &str = "VirtualMachineTools";
    /// Overall readiness.
    pub const READY: &str = "Ready";

    /// Reasons used with the VM conditions above.
    pub mod reason {
        /// Not started.
        pub const IDLE: &str = "Idle";
        /// Waiting.
        pub const PENDING: &str = "Pending";
        /// In progress.
        pub const RUNNING: &str = "Running";
        /// Done.
        pub const SUCCEEDED: &str = "Succeeded";
        /// Failed.
        pub const FAILED: &str = "Failed";
        /// Tools not running.
        pub const NOT_RUNNING: &str = "NotRunning";
        /// The referenced image does not exist.
        pub const IMAGE_NOT_FOUND: &str = "NotFound";
        /// The referenced class does not exist.
        pub const CLASS_NOT_FOUND: &str = "NotFound";
        /// The image is still being synced from its library.
        pub const NOT_SYNCED: &str = "NotSynced";
        /// Not ready yet.
        pub const NOT_READY: &str = "NotReady";
        /// Being created.
        pub const CREATING: &str = "Creating";
        /// Being reconciled.
        pub const RECONCILING: &str = "Reconciling";
        /// Not known yet.
        pub const UNKNOWN: &str = "Unknown";
        /// An error.
        pub const ERROR: &str = "Error";
        /// Invalid input.
        pub const INVALID: &str = "Invalid";
        /// Not supported.
        pub const NOT_SUPPORTED: &str = "NotSupported";
        /// Gave up.
        pub const FATAL: &str = "Fatal";

        /// Reasons that mean "not yet", even on a [`super::PREREQUISITES`] condition.
        pub const TRANSIENT: &[&str] = &[
            NOT_SYNCED,
            PENDING,
            NOT_READY,
            CREATING,
            RECONCILING,
            UNKNOWN,
        ];
        /// Reasons (also as a suffix, `ClassNotFound`) that mean failure on any VM condition.
        pub const FAILURE: &[&str] = &[
            IMAGE_NOT_FOUND,
            FAILED,
            ERROR,
            INVALID,
            NOT_SUPPORTED,
            FATAL,
        ];
    }

    /// Conditions whose False means "this VM cannot be built as specified": a missing class,
    /// image, storage or bootstrap input does not fix itself.
    pub const PREREQUISITES: &[&str] = &[CLASS_READY, IMAGE_READY, STORAGE_READY, BOOTSTRAP_READY];
}

/// VirtualMachinePublishRequest condition types.
pub mod publish {
    /// Source VM validated.
    pub const SOURCE_VALID: &str = "SourceValid";
    /// Target library validated.
    pub const TARGET_VALID: &str = "TargetValid";
    /// OVF uploaded to the library.
    pub const UPLOADED: &str = "Uploaded";
    /// A VirtualMachineImage for the new item exists.
    pub const IMAGE_AVAILABLE: &str = "ImageAvailable";
    /// Request finished (True) or gave up (False, reason Fatal).
    pub const COMPLETE: &str = "Complete";

    /// Publish request reasons.
    pub mod reason {
        /// Source VM missing.
        pub const SOURCE_VM_NOT_EXIST: &str = "SourceVirtualMachineNotExist";
        /// Source VM has no `status.uniqueID` yet.
        pub const SOURCE_VM_NOT_CREATED: &str = "SourceVirtualMachineNotCreated";
        /// Target library missing.
        pub const TARGET_CL_NOT_EXIST: &str = "TargetContentLibraryNotExist";
        /// Target library not writable.
        pub const TARGET_CL_NOT_WRITABLE: &str = "TargetContentLibraryNotWritable";
        /// Target library not Ready.
        pub const TARGET_CL_NOT_READY: &str = "TargetContentLibraryNotReady";
        /// An item with the target name already exists.
        pub const TARGET_ITEM_ALREADY_EXISTS: &str = "TargetItemAlreadyExists";
        /// The VMI for the new item was not found.
        pub const VMI_NOT_FOUND: &str = "VirtualMachineImageNotFound";
        /// Not started.
        pub const NOT_STARTED: &str = "NotStarted";
        /// Queued.
        pub const QUEUED: &str = "Queued";
        /// Uploading.
        pub const UPLOADING: &str = "Uploading";
        /// Item id invalid.
        pub const ITEM_ID_INVALID: &str = "ItemIDInvalid";
        /// Upload failed.
        pub const UPLOAD_FAILURE: &str = "UploadFailure";
        /// Not uploaded yet.
        pub const HAS_NOT_BEEN_UPLOADED: &str = "HasNotBeenUploaded";
        /// Image not available.
        pub const IMAGE_UNAVAILABLE: &str = "ImageUnavailable";
        /// Gave up (backoffLimit reached).
        pub const FATAL: &str = "Fatal";
        /// The source named by the request does not exist (newer API spelling).
        pub const SOURCE_NOT_FOUND: &str = "SourceNotFound";
        /// The source VM's encryption cannot be published.
        pub const SOURCE_VM_UNSUPPORTED_ENCRYPTION: &str =
            "SourceVirtualMachineUnsupportedEncryption";
        /// The target location named by the request does not exist (newer API spelling).
        pub const TARGET_LOCATION_NOT_FOUND: &str = "TargetLocationNotFound";
        /// The target library has no room for the item.
        pub const TARGET_CL_FAILED_QUOTA_CHECK: &str = "TargetContentLibraryFailedQuotaCheck";
        /// The target library's storage does not suit the source VM.
        pub const TARGET_CL_INCOMPATIBLE_STORAGE_CLASS: &str =
            "TargetContentLibraryIncompatibleStorageClass";

        /// Reasons on a False condition that end the request for good: the controller stops
        /// or goes on failing until the user acts.
        pub const TERMINAL: &[&str] = &[
            SOURCE_VM_NOT_EXIST,
            SOURCE_NOT_FOUND,
            SOURCE_VM_UNSUPPORTED_ENCRYPTION,
            TARGET_CL_NOT_EXIST,
            TARGET_LOCATION_NOT_FOUND,
            TARGET_CL_NOT_WRITABLE,
            TARGET_CL_FAILED_QUOTA_CHECK,
            TARGET_CL_INCOMPATIBLE_STORAGE_CLASS,
            TARGET_ITEM_ALREADY_EXISTS,
            ITEM_ID_INVALID,
            UPLOAD_FAILURE,
            FATAL,
        ];

        /// Reasons on a False condition that mean "not yet": the request is still under way.
        pub const IN_PROGRESS: &[&str] = &[
            SOURCE_VM_NOT_CREATED,
            TARGET_CL_NOT_READY,
            VMI_NOT_FOUND,
            NOT_STARTED,
            QUEUED,
            UPLOADING,
            HAS_NOT_BEEN_UPLOADED,
            IMAGE_UNAVAILABLE,
        ];
    }
}

/// Image / library `Ready` condition.
pub const READY: &str = "Ready";

/// ContentLibraryItemImportRequest condition types.
pub mod import {
    /// Source URL validated.
    pub const SOURCE_VALID: &str = "SourceValid";
    /// Target library validated.
    pub const TARGET_VALID: &str = "TargetValid";
    /// Item created.
    pub const ITEM_CREATED: &str = "ContentLibraryItemCreated";
    /// Template uploaded.
    pub const TEMPLATE_UPLOADED: &str = "TemplateUploaded";
    /// Item ready.
    pub const ITEM_READY: &str = "ContentLibraryItemReady";
    /// Finished.
    pub const COMPLETE: &str = "Complete";

    /// Import request reasons.
    pub mod reason {
        /// The template is still being uploaded.
        pub const UPLOAD_IN_PROGRESS: &str = "UploadInProgress";
        /// The new item is not ready yet.
        pub const TARGET_LIBRARY_ITEM_NOT_READY: &str = "TargetLibraryItemNotReady";

        /// Reasons on a False condition (other than `Complete`) that mean "still working".
        pub const IN_PROGRESS: &[&str] = &[UPLOAD_IN_PROGRESS, TARGET_LIBRARY_ITEM_NOT_READY];
    }
}
