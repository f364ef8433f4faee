//! The libvirt lab that `.ci/libvirt.sh` starts: libvirtd with QEMU, the tiny guest (a kernel
//! and a busybox initramfs that takes DHCP leases and reports on its serial console), and the
//! Open vSwitch bridge `br-data` of `.ci/sdn.sh` for data nets.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::libvirt::tiny_guest::whole_lines;

/// Where the guests' serial consoles are written (one file per domain).
pub const CONSOLE_DIR: &str = "/tmp/rovim-libvirt/console";
/// The passthrough slots of the lab's account, and so the data-bridge ports its VF/PF
/// interfaces get (`rv` and the slot's digits).
pub const LAB_SLOTS: [&str; 4] = [
    "0000:81:00.1",
    "0000:81:00.2",
    "0000:81:00.3",
    "0000:81:00.4",
];

#[derive(Debug, Clone)]
pub struct LibvirtLab {
    pub uri: String,
    pub guest_dir: String,
}

/// The lab, from `eval "$(bash .ci/libvirt.sh)"`; `None` (with a message) without it, except
/// under `CI=true`, where that is a failure.
pub fn libvirt_lab() -> Option<LibvirtLab> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let lab = (|| {
        Some(LibvirtLab {
            uri: var("ROVIM_TEST_LIBVIRT_URL")?,
            guest_dir: var("ROVIM_TEST_GUEST_DIR")?,
        })
    })();
    if lab.is_none() {
        rovim_core::test_peers::absent(
            "ROVIM_TEST_LIBVIRT_URL / ROVIM_TEST_GUEST_DIR are not set: run `eval \"$(bash .ci/libvirt.sh)\"` after .ci/sdn.sh",
        );
    }
    lab
}

impl LibvirtLab {
    /// An account config booting the tiny guest under software emulation (KVM in a nested
    /// machine hangs the guest), flavor `tiny`, image `guest` (kernel and initramfs) or
    /// `guest-disk` (the same guest on a disk image), data nets on `br-data`.
    pub fn config(&self) -> Value {
        std::fs::create_dir_all(CONSOLE_DIR).expect("console directory");
        // QEMU runs as libvirt-qemu and writes the console files itself.
        let _ = std::process::Command::new("chmod")
            .args(["0777", CONSOLE_DIR])
            .status();
        json!({
            "domain_type": "qemu",
            "flavors": {"tiny": {"vcpus": 1, "memory_mb": 128}},
            "images": {"guest": {
                "kernel": format!("{}/vmlinuz", self.guest_dir),
                "initrd": format!("{}/initrd.img", self.guest_dir),
                "cmdline": "console=ttyS0 quiet"},
                "guest-disk": {"disk": format!("{}/disk.qcow2", self.guest_dir)}},
            "data_bridge": "br-data",
            "passthrough_slots": LAB_SLOTS,
            "console_dir": CONSOLE_DIR,
            "refresh_batch_size": 50,
        })
    }

    /// The lines the domain's guest printed so far.
    pub fn console(&self, domain_name: &str) -> String {
        let text =
            std::fs::read_to_string(format!("{CONSOLE_DIR}/{domain_name}.log")).unwrap_or_default();
        whole_lines(&text).to_owned()
    }

    /// Waits until the guest's console shows a line containing `needle`; that line.
    pub async fn console_line(
        &self,
        domain_name: &str,
        needle: &str,
        within: Duration,
    ) -> Option<String> {
        let start = Instant::now();
        loop {
            if let Some(line) = self
                .console(domain_name)
                .lines()
                .find(|l| l.contains(needle))
            {
                return Some(line.trim().to_owned());
            }
            if start.elapsed() > within {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// `virsh` against the lab, for what a test checks behind rovim's back.
    pub fn virsh(&self, args: &[&str]) -> String {
        let out = std::process::Command::new("virsh")
            .args(["-q", "-c", &self.uri])
            .args(args)
            .output()
            .expect("virsh runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Names of the domains (or networks, `net-list`) whose name contains `part`.
    pub fn names(&self, list: &str, part: &str) -> Vec<String> {
        self.virsh(&[list, "--all", "--name"])
            .lines()
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.contains(part))
            .map(str::to_owned)
            .collect()
    }
}

impl LibvirtLab {
    /// Removes the domains and networks whose names start with `prefix` (what an earlier,
    /// failed run of a test left), so that a test starts from a clean host.
    pub fn purge(&self, prefix: &str) {
        for d in self
            .names("list", "")
            .into_iter()
            .filter(|n| n.starts_with(prefix))
        {
            self.virsh(&["destroy", &d]);
            self.virsh(&["undefine", &d]);
        }
        for n in self
            .names("net-list", "")
            .into_iter()
            .filter(|n| n.starts_with(prefix))
        {
            self.virsh(&["net-destroy", &n]);
            self.virsh(&["net-undefine", &n]);
        }
    }
}
