//! The simulated VIM: networks (bridge/data/ptp with VLANs and subnets), VMs that go BUILD →
//! ACTIVE after `build_seconds`, ports with MACs and IPs from their subnet, PF/VF interfaces
//! with compute node, PCI and VLAN, list filters and idempotency tokens; plus fault knobs
//! (latency, transient failures, rate limiting, unreachability, VMs that end in ERROR) and a seed
//! for determinism. A [`SimCloud`] is the cloud itself; a [`SimConnector`] is a client of it, so a
//! cloud can outlive the engine that uses it.

mod cloud;
mod connector;
mod http_client;
pub mod http_server;
mod settings;
pub mod wire;

pub use cloud::{SimCalls, SimCloud, SimElement};
pub use connector::SimConnector;
pub use http_client::SimHttpConnector;
pub use settings::SimSettings;
