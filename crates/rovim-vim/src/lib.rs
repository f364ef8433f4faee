//! rovim-vim: how rovim talks to VIMs.
//!
//! It owns the [`VimConnector`] trait (the contract of spec §2 with typed values), [`VimError`]
//! and its retry classification, and the connectors. Connectors are plain async objects: no
//! actors and no threads of their own; the engine's VimActor calls them, one call per element
//! at a time, under its own rate limit and timeout.
//!
//! Modules: [`connector`] (trait and answer types), [`error`], [`sim`] (the simulated VIM, a
//! product feature for demos, tests and benchmarks).
#![forbid(unsafe_code)]

pub mod aws;
pub mod connector;
pub mod error;
pub mod libvirt;
pub mod openstack;
pub mod sim;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tls;

pub use connector::{
    CreateFailure, Created, ElementKind, InterfaceReport, NetReport, TaggedElement, TokenMatch,
    VimConnector, VimNet, VmCreated, VmReport, VmRequest,
};
pub use error::{VimError, human_duration};
pub use sim::{SimCloud, SimConnector, SimElement, SimHttpConnector, SimSettings};
