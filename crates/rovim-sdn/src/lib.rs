//! rovim-sdn: how rovim drives SDN controllers (spec §1.11–§1.12, DESIGN §6): an SDN network for
//! each data/ptp net with the VIM's VLAN, an external port for each passthrough/SR-IOV interface.
//!
//! Modules: [`connector`] (the trait and its values), [`error`], [`sim`] (a simulated controller
//! with fault knobs, for demos and tests), [`ryu`] (the Ryu OpenFlow controller's REST API).
#![forbid(unsafe_code)]

pub mod connector;
pub mod error;
pub mod ryu;
pub mod sim;
#[cfg(feature = "test-support")]
pub mod testing;

pub use connector::{
    MAX_PORT_NAME, SdnConnector, SdnNetRequest, SdnNetState, SdnPort, SdnPortRequest, port_name,
    sdn_net_name,
};
pub use error::SdnError;
pub use ryu::{RyuSdn, RyuSettings};
pub use sim::{SimSdn, SimSdnSettings};
