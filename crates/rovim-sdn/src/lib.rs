//! rovim-sdn: how rovim drives SDN controllers (spec §1.11–§1.12, DESIGN §6): an SDN network for
//! each data/ptp net with the VIM's VLAN, an external port for each passthrough/SR-IOV interface.
//!
//! Modules: [`connector`] (the trait and its values), [`error`], [`sim`] (a simulated controller
//! with fault knobs, for demos and tests).
#![forbid(unsafe_code)]

pub mod connector;
pub mod error;
pub mod sim;

pub use connector::{
    MAX_PORT_NAME, SdnConnector, SdnNetRequest, SdnNetState, SdnPort, SdnPortRequest, port_name,
    sdn_net_name,
};
pub use error::SdnError;
pub use sim::{SimSdn, SimSdnSettings};
