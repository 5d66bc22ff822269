//! The `vsphere-supervisor` builder.
