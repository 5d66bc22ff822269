//! supervisor-sim: a simulated vSphere Supervisor.
//!
//! It serves the Kubernetes API of the VM Operator and image-registry kinds (plus the few core
//! kinds the builder touches) over HTTPS with bearer-token auth, so kubectl, kube-rs and the
//! `vsphere-supervisor` builder can talk to it; its controllers play vm-operator (power-on, IPs,
//! publishing) and its guests are real SSH endpoints. It never depends on the builder or on
//! packer-rpc.
//!
//! # Running it
//!
//! ```text
//! supervisor-sim serve --listen 127.0.0.1:6443 --kubeconfig ./kubeconfig [--state DIR]
//!     [--seed FILE] [--crds DIR] [--vmop-versions v1alpha3,v1alpha5] [--faults FILE]
//! ```
//! prints `supervisor-sim listening on https://ADDR (kubeconfig: PATH)` and stops cleanly on
//! SIGTERM/Ctrl-C. The kubeconfig holds the self-signed CA and two users: context
//! `supervisor-sim` (admin token, current, namespace `demo`) and `supervisor-sim-demo-user` (a
//! token allowed only in namespace `demo`, plus reads of cluster-scoped kinds; 403 elsewhere).
//! In tests use [`Sim::start`] (or [`run`]) on a `127.0.0.1:0` listener.
//!
//! # What is served
//!
//! * vmoperator.vmware.com kinds at the `--vmop-versions` (default v1alpha3 and v1alpha5; stored
//!   as v1alpha5, `spec.cdrom` ⇔ `spec.hardware.cdrom` converted), imageregistry.vmware.com at
//!   v1alpha1 and v1alpha2 (stored as v1alpha2, `writable` ⇔ `allowPublish`/`allowDelete`),
//!   core Namespace/Secret/ConfigMap/PersistentVolumeClaim/Service, storage.k8s.io StorageClass;
//! * get, list, watch (`?watch=true`, `/watch/` paths, resume by resourceVersion, 410 as an
//!   ERROR event, bookmarks, `sendInitialEvents`), list `limit`/`continue`, create
//!   (`dryRun=All`, `generateName`), update, patch (merge, JSON, strategic ≈ merge for built-in
//!   kinds and 415 for custom resources, server-side apply ≈ merge/create), delete
//!   (finalizers), deletecollection, `/status`; held to kube-apiserver by
//!   `tests/conformance.rs` (differences in docs/simulator.md);
//! * CRD schema validation at the client's version (prune + defaults + types/enums/patterns/…,
//!   API-server error texts), `fieldValidation` Strict/Warn/Ignore;
//! * discovery (plain and aggregated v2/v2beta1), `/version` (1.30), OpenAPI v3 per group
//!   version, a minimal OpenAPI v2 (protobuf) — kubectl 1.20 and 1.27-1.33 `apply` without
//!   `--validate=false`; Table output from the CRDs' printer columns;
//! * failure injection ([`faults`]) and a persistent store ([`persist`]).
//!
//! # Layout
//!
//! * [`store`]: objects, resourceVersions, watches, admission hooks, persistence ([`persist`]);
//!   start here if you write a controller;
//! * [`api`]: HTTP routing and verbs; [`api::discovery`], [`api::table`], [`api::patch`];
//! * [`catalog`], [`crds`], [`schema`], [`convert`]: the kinds served, built from the CRD YAMLs;
//! * [`error`]: `ApiError`, the `Status` every failure becomes; [`selector`]: selectors;
//! * [`auth`], [`tls`], [`kubeconfig`], [`faults`], [`seed`], [`server`], [`cli`];
//! * `guest`, `controllers`, `library`: the simulated VMs and vm-operator behaviour.

pub mod api;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod controllers;
pub mod convert;
pub mod crds;
pub mod error;
pub mod faults;
pub mod guest;
pub mod kubeconfig;
pub mod library;
pub mod persist;
pub mod remote;
pub mod schema;
pub mod seed;
pub mod selector;
pub mod server;
pub mod store;
pub mod tls;

pub use server::{run, RunOptions, Sim};
