//! OpenStack as a VIM (`type: openstack`): Keystone v3 password auth with a cached, renewed
//! token and the service catalog; Neutron for networks (with subnets from the IP profile,
//! provider VLAN attributes for data/ptp nets) and rovim's token as a tag. Nova (VMs) follows.

mod connector;
mod keystone;
mod settings;

pub use connector::OpenStackConnector;
pub use keystone::{Keystone, Session};
pub use settings::OpenStackSettings;
