//! One module per remote interface: wire shapes, server adapter and client proxy.
pub mod artifact;
pub mod builder;
pub mod communicator;
pub mod hook;
pub mod link;
#[cfg(any(test, feature = "testing"))]
mod mem_broker;
mod progress;
pub mod ui;

pub use artifact::{ArtifactClient, ArtifactServer};
pub use builder::{BuilderClient, BuilderServer, SpecEncoding};
pub use communicator::{CommunicatorClient, CommunicatorServer};
pub use hook::{HookClient, HookServer};
pub use link::{AsyncStream, BoxStream, StreamBroker, ACCEPT_TIMEOUT};
#[cfg(any(test, feature = "testing"))]
pub use mem_broker::{MemBroker, MemBrokerError};
pub use progress::ProgressHandoff;
pub use ui::{UiClient, UiServer};
