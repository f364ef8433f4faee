//! OpenStack as a VIM (`type: openstack`): Keystone v3 password auth with a cached, renewed
//! token and the service catalog; Neutron for networks (with subnets from the IP profile,
//! provider VLAN attributes for data/ptp nets) and rovim's token as a tag; Nova servers on Neutron
//! ports for VMs.

mod connector;
mod keystone;
mod nova;
mod paging;
mod settings;

pub use connector::OpenStackConnector;
pub use keystone::{Keystone, Session};
pub use nova::TOKEN_METADATA;
pub use settings::OpenStackSettings;
