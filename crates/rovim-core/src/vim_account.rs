//! The vocabulary of VIM accounts: which connector serves one and how it is doing.

use crate::string_enum::string_enum;

string_enum! {
    /// The connector type of a VIM account.
    pub enum VimType: "VIM type" {
        /// rovim's built-in simulated VIM (demos, tests, benchmarks).
        Sim => "sim",
        OpenStack => "openstack",
        Aws => "aws",
        /// A libvirt host (QEMU/KVM), through `virsh`.
        Libvirt => "libvirt",
    }
}

string_enum! {
    /// How a VIM account's actor is doing, as the Supervisor records it.
    pub enum AccountStatus: "VIM account status" {
        /// Its actor is starting (connecting, loading its tasks); not yet known to work.
        Starting => "STARTING",
        /// Its actor runs and the VIM answered.
        Enabled => "ENABLED",
        /// Its actor failed; `error_msg` says why; it is being restarted with backoff.
        Error => "ERROR",
    }
}
