//! `rovim demo --vim libvirt`: the deployment on a libvirt host with the Ryu controller, booting
//! real guests (the tiny guest of `.ci/libvirt.sh`: a kernel and a busybox initramfs). Two VMs on
//! a management net (DHCP) and a data net; each VM's VF interface is a port of the Open vSwitch
//! bridge that Ryu programs, and each guest pings the other over the data net's VLAN segment,
//! which the demo shows from their serial consoles. Everything is deleted after, and the demo
//! checks that no domain, network or rovim rule is left.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use rovim_sdn::{RyuSdn, RyuSettings};
use rovim_vim::libvirt::slot_device;
use rovim_vim::libvirt::tiny_guest::{pinger, whole_lines};
use serde_json::{Value, json};

use super::{Service, deploy};

/// Where the libvirt demo runs.
#[derive(Debug, Clone, clap::Args)]
pub struct LibvirtDemo {
    /// The libvirt URI.
    #[arg(long, default_value = "qemu:///system")]
    pub libvirt_uri: String,
    /// The tiny guest's directory (vmlinuz, initrd.img), readable by QEMU.
    #[arg(long, default_value = "/var/lib/libvirt/images/rovim-guest")]
    pub guest_dir: String,
    /// The Ryu controller's REST API (ofctl_rest).
    #[arg(long, default_value = "http://127.0.0.1:18080")]
    pub ryu_url: String,
    /// The Open vSwitch bridge Ryu programs (datapath id 1).
    #[arg(long, default_value = "br-data")]
    pub data_bridge: String,
    /// Boot the guests with KVM instead of software emulation.
    #[arg(long)]
    pub kvm: bool,
}

/// The passthrough slots the demo's VF interfaces take (ports `rv000081001`, …).
const SLOTS: [&str; 2] = ["0000:81:00.1", "0000:81:00.2"];
const ACCOUNT: &str = "demo-libvirt";
/// Every element the demo makes is named with this prefix.
const PREFIX: &str = "rovim-demo-";

pub async fn run(service: &Service, lab: &LibvirtDemo) -> anyhow::Result<Duration> {
    let api = &service.api;
    let host = virsh(lab, &["hostname"])?.trim().to_owned();
    // QEMU (user libvirt-qemu) writes the consoles: a directory it can reach.
    let consoles = std::env::temp_dir().join(format!("rovim-demo-consoles-{}", std::process::id()));
    std::fs::create_dir_all(&consoles).context("creating the consoles' directory")?;
    std::fs::set_permissions(&consoles, std::fs::Permissions::from_mode(0o777))?;

    let mapping: Vec<Value> = SLOTS
        .iter()
        .map(|pci| {
            json!({"compute_node": host, "pci": pci, "switch_dpid": 1, "switch_port": slot_device(pci)})
        })
        .collect();
    let sdn_config = json!({ "port_mapping": mapping });
    let sdn = api
        .post(
            "/v1/sdn-controllers",
            json!({"name": "demo-ryu", "type": "ryu", "url": lab.ryu_url, "config": sdn_config}),
        )
        .await?;
    let vim = api
        .post(
            "/v1/vim-accounts",
            json!({"name": ACCOUNT, "type": "libvirt", "url": lab.libvirt_uri, "sdn_controller": sdn["id"],
                   "config": {
                       "domain_type": if lab.kvm { "kvm" } else { "qemu" },
                       "flavors": {"tiny": {"vcpus": 1, "memory_mb": 128}},
                       "images": {"guest": {"kernel": format!("{}/vmlinuz", lab.guest_dir),
                                            "initrd": format!("{}/initrd.img", lab.guest_dir),
                                            "cmdline": "console=ttyS0 quiet"}},
                       "data_bridge": lab.data_bridge,
                       "passthrough_slots": SLOTS,
                       "console_dir": consoles}}),
        )
        .await?;
    println!(
        "POST /v1/sdn-controllers -> {} (Ryu at {}); POST /v1/vim-accounts -> {} (libvirt at {} on {host})\n",
        sdn["id"], lab.ryu_url, vim["id"], lab.libvirt_uri
    );

    let vm = |name: &str, me: &str, peer: &str| {
        json!({"vim_account": ACCOUNT, "action": "CREATE", "item": "vm", "depends_on": [0, 1],
               "params": {"name": format!("{PREFIX}{name}"), "image_id": "guest", "flavor_id": "tiny",
                          "cloud_config": pinger(me, peer),
                          "networks": [{"net": {"task": 0}}, {"net": {"task": 1}, "type": "VF"}]}})
    };
    let items = deploy(
        api,
        json!({
            "description": "demo deployment on libvirt",
            "tasks": [
                {"vim_account": ACCOUNT, "action": "CREATE", "item": "net",
                 "params": {"name": format!("{PREFIX}mgmt"), "ip_profile": {"subnet_address": "192.168.123.0/24"}}},
                {"vim_account": ACCOUNT, "action": "CREATE", "item": "net",
                 "params": {"name": format!("{PREFIX}data"), "type": "data"}},
                vm("a", "10.98.0.1", "10.98.0.2"),
                vm("b", "10.98.0.2", "10.98.0.1"),
            ]
        }),
        Duration::from_secs(120),
    )
    .await?;

    println!("\nthe guests' consoles:");
    for (name, peer) in [("a", "10.98.0.2"), ("b", "10.98.0.1")] {
        let prefix = format!("{PREFIX}{name}-");
        let wanted = format!("ROVIM-PING {peer} ok");
        let lines = console_lines(&consoles, &prefix, &wanted, Duration::from_secs(60)).await;
        for line in &lines {
            println!("  {PREFIX}{name}: {line}");
        }
        if !lines.iter().any(|l| l.contains(&wanted)) {
            bail!("{PREFIX}{name} did not reach {peer} over the data net within 60 s");
        }
    }
    let settings = RyuSettings::from_config(&sdn_config).map_err(anyhow::Error::msg)?;
    let ryu = RyuSdn::new(&lab.ryu_url, settings)?;
    println!(
        "Ryu holds {} rules of rovim's on {}",
        ryu.rovim_rule_count().await?,
        lab.data_bridge
    );

    service.tear_down(ACCOUNT, &items).await?;
    let domains = names(lab, "list")?;
    let networks = names(lab, "net-list")?;
    let rules = ryu.rovim_rule_count().await?;
    let _ = std::fs::remove_dir_all(&consoles);
    if !domains.is_empty() || !networks.is_empty() || rules != 0 {
        bail!(
            "left behind: domains {domains:?}, networks {networks:?}, {rules} rules on the switch"
        );
    }
    println!("libvirt has none of the demo's domains and networks left, and Ryu none of its rules");
    Ok(service.started.elapsed())
}

/// The `ROVIM-` lines of the console whose file starts with `prefix`, once one contains
/// `wanted` (or `within` passed).
async fn console_lines(
    dir: &std::path::Path,
    prefix: &str,
    wanted: &str,
    within: Duration,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + within;
    loop {
        let text = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .and_then(|e| std::fs::read_to_string(e.path()).ok())
            .unwrap_or_default();
        let lines: Vec<String> = whole_lines(&text)
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("ROVIM-"))
            .map(str::to_owned)
            .collect();
        if let Some(at) = lines.iter().position(|l| l.contains(wanted)) {
            return lines[..=at].to_vec();
        }
        if std::time::Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn virsh(lab: &LibvirtDemo, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("virsh")
        .args(["-q", "-c", &lab.libvirt_uri])
        .args(args)
        .output()
        .context("running virsh (libvirt's client; Debian: libvirt-clients)")?;
    if !out.status.success() {
        bail!(
            "virsh {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The demo's domains (`list`) or networks (`net-list`) libvirt still has.
fn names(lab: &LibvirtDemo, list: &str) -> anyhow::Result<Vec<String>> {
    Ok(virsh(lab, &[list, "--all", "--name"])?
        .lines()
        .map(str::trim)
        .filter(|n| n.starts_with(PREFIX))
        .map(str::to_owned)
        .collect())
}
