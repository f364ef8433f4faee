//! libvirt as a VIM (`type: libvirt`, URL `qemu:///system` or `qemu+ssh://user@host/system`):
//! a net is a libvirt network (an isolated bridge with DHCP from its IP profile, or for data and
//! ptp nets a VLAN of an Open vSwitch bridge), a VM is a domain booted from a kernel and
//! initramfs or a disk image of the account's image table, sized by its flavor table, with one
//! virtio interface per requested interface (PF/VF interfaces are ports of the data bridge with
//! a PCI-like slot, so SDN assist can wire them). IPs come from the networks' DHCP leases.
//! libvirt is driven through `virsh` (see [`virsh`] for why).

mod connector;
mod domain_spec;
mod host;
mod names;
mod settings;
pub mod tiny_guest;
pub mod virsh;
pub mod xml;

pub use connector::LibvirtConnector;
pub use names::{libvirt_name, slot_device};
pub use settings::{Flavor, Image, LibvirtSettings};
