//! supervisor-sim: a simulated vSphere Supervisor.
//!
//! It serves the Kubernetes API of the VM Operator and image-registry kinds (plus the few core
//! kinds the builder touches) over HTTPS with bearer-token auth, so kubectl, kube-rs and the
//! `vsphere-supervisor` builder can talk to it; its controllers play vm-operator (power-on, IPs,
//! publishing) and its guests are real SSH endpoints.
//!
//! Layout:
//! * [`store`]: objects, resourceVersions, watches, admission hooks, persistence ([`persist`]);
//!   start here if you write a controller;
//! * [`catalog`], [`crds`]: the kinds served, built from the CRD YAMLs;
//! * [`error`]: `ApiError`, the `Status` every failure becomes;
//! * [`selector`]: label and field selectors;
//! * `guest`, `controllers`, `library`: the simulated VMs and vm-operator behaviour.
//!
//! It never depends on the builder or on packer-rpc.

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
pub mod schema;
pub mod seed;
pub mod selector;
pub mod server;
pub mod store;
pub mod tls;

pub use server::{run, RunOptions, Sim};
