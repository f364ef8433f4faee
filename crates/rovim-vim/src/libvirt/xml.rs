//! libvirt's XML: the network and domain documents rovim defines, and what it reads back from
//! the documents libvirt prints (`dumpxml`, `net-dumpxml`). rovim's token and installation
//! live in each element's `<metadata>`, under rovim's namespace.

use std::fmt::Write;
use std::net::Ipv4Addr;

use rovim_core::IpProfile;

/// The namespace of rovim's metadata element.
pub const NAMESPACE: &str = "urn:rovim:libvirt:1";
/// Its prefix (virsh metadata's `--key`).
pub const KEY: &str = "rovim";

/// What rovim keeps on an element.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Marks {
    pub token: Option<String>,
    pub installation: Option<String>,
    /// The create asked for the domain to run (a domain found off after a crash is started).
    pub start: bool,
}

impl Marks {
    /// The `<metadata>` child carrying the marks.
    pub fn element(&self) -> String {
        format!(
            "<{KEY}:element xmlns:{KEY}='{NAMESPACE}'>{}</{KEY}:element>",
            self.body()
        )
    }

    /// The same without its namespace, as `virsh metadata --set` takes it (libvirt puts it in
    /// the namespace given with `--uri` and `--key`).
    pub fn plain(&self) -> String {
        format!("<element>{}</element>", self.body())
    }

    fn body(&self) -> String {
        let mut out = String::new();
        if let Some(t) = &self.token {
            let _ = write!(out, "<token>{}</token>", escape(t));
        }
        if let Some(i) = &self.installation {
            let _ = write!(out, "<installation>{}</installation>", escape(i));
        }
        if self.start {
            out.push_str("<start/>");
        }
        out
    }

    fn read(root: roxmltree::Node) -> Marks {
        let Some(el) = root
            .children()
            .find(|n| n.has_tag_name("metadata"))
            .and_then(|m| {
                m.children()
                    .find(|n| n.tag_name().namespace() == Some(NAMESPACE))
            })
        else {
            return Marks::default();
        };
        let text = |name: &str| {
            el.children()
                .find(|n| n.tag_name().name() == name)
                .and_then(|n| n.text())
                .map(str::to_owned)
        };
        Marks {
            token: text("token"),
            installation: text("installation"),
            start: el.children().any(|n| n.tag_name().name() == "start"),
        }
    }
}

/// The five characters XML text and attributes cannot hold as they are.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// What a network carries: an isolated bridge of its own (DHCP from its IP profile), or a VLAN
/// of an Open vSwitch bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetShape {
    Isolated(Option<Subnet>),
    Vlan { bridge: String, vlan: u16 },
}

/// An IPv4 subnet with the host's address on it and an optional DHCP range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    pub gateway: Ipv4Addr,
    pub prefix: u8,
    pub dhcp: Option<(Ipv4Addr, Ipv4Addr)>,
}

impl Subnet {
    /// The subnet of an IP profile (the `ip_profile.*` field named on error): the gateway is the
    /// first address unless given, DHCP (on unless disabled) from `start_address` (the one after
    /// the gateway by default) for `count` addresses (up to the last before broadcast).
    pub fn from_profile(p: &IpProfile) -> Result<Option<Subnet>, String> {
        let Some(cidr) = &p.subnet_address else {
            return Ok(None);
        };
        if p.ip_version != rovim_core::IpVersion::IPv4 {
            return Err("ip_profile.ip_version: the libvirt connector makes IPv4 subnets".into());
        }
        let bad = || format!("ip_profile.subnet_address: '{cidr}' is not an IPv4 CIDR");
        let (addr, prefix) = cidr.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(8..=30).contains(&prefix) {
            return Err(format!(
                "ip_profile.subnet_address: a /{prefix} is not within /8../30"
            ));
        }
        let mask = u32::MAX << (32 - prefix);
        let network = u32::from(addr) & mask;
        let broadcast = network | !mask;
        let inside = |ip: u32| ip > network && ip < broadcast;
        let gateway = match &p.gateway_address {
            Some(g) => g
                .parse::<Ipv4Addr>()
                .ok()
                .filter(|g| inside(u32::from(*g)))
                .ok_or_else(|| {
                    format!("ip_profile.gateway_address: '{g}' is not an address of {cidr}")
                })?,
            None => Ipv4Addr::from(network + 1),
        };
        let dhcp = match &p.dhcp {
            Some(d) if !d.enabled => None,
            d => {
                let start = match d.as_ref().and_then(|d| d.start_address.as_ref()) {
                    Some(s) => s
                        .parse::<Ipv4Addr>()
                        .ok()
                        .map(u32::from)
                        .filter(|s| inside(*s))
                        .ok_or_else(|| {
                            format!(
                                "ip_profile.dhcp.start_address: '{s}' is not an address of {cidr}"
                            )
                        })?,
                    None => u32::from(gateway) + 1,
                };
                let last = broadcast - 1;
                let end = match d.as_ref().and_then(|d| d.count) {
                    Some(0) => return Err("ip_profile.dhcp.count: must be at least 1".into()),
                    Some(n) => start.saturating_add(n - 1).min(last),
                    None => last,
                };
                if start > end {
                    return Err(format!(
                        "ip_profile.dhcp: no address of {cidr} is left for DHCP"
                    ));
                }
                Some((Ipv4Addr::from(start), Ipv4Addr::from(end)))
            }
        };
        Ok(Some(Subnet {
            gateway,
            prefix,
            dhcp,
        }))
    }
}

/// The `<network>` document of a new network.
pub fn network_xml(name: &str, title: &str, marks: &Marks, shape: &NetShape) -> String {
    let mut x = format!(
        "<network>\n  <name>{}</name>\n  <title>{}</title>\n  <metadata>{}</metadata>\n",
        escape(name),
        escape(title),
        marks.element()
    );
    match shape {
        // No <forward>: nothing leaves the host's bridge.
        NetShape::Isolated(subnet) => {
            x.push_str("  <bridge stp='off'/>\n");
            if let Some(s) = subnet {
                let _ = write!(x, "  <ip address='{}' prefix='{}'>", s.gateway, s.prefix);
                if let Some((start, end)) = s.dhcp {
                    let _ = write!(x, "<dhcp><range start='{start}' end='{end}'/></dhcp>");
                }
                x.push_str("</ip>\n");
            }
        }
        NetShape::Vlan { bridge, vlan } => {
            let _ = write!(
                x,
                "  <forward mode='bridge'/>\n  <bridge name='{}'/>\n  <virtualport type='openvswitch'/>\n  \
                 <portgroup name='rovim' default='yes'><vlan><tag id='{vlan}'/></vlan></portgroup>\n",
                escape(bridge)
            );
        }
    }
    x.push_str("</network>\n");
    x
}

/// A network as libvirt describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkInfo {
    pub uuid: String,
    pub name: String,
    pub title: Option<String>,
    pub marks: Marks,
    pub bridge: Option<String>,
    pub vlan: Option<u16>,
    pub dhcp: bool,
}

impl NetworkInfo {
    pub fn parse(doc: &str) -> Result<NetworkInfo, String> {
        let doc = roxmltree::Document::parse(doc).map_err(|e| format!("network XML: {e}"))?;
        let root = doc.root_element();
        let child = |name: &str| root.children().find(|n| n.has_tag_name(name));
        let text = |name: &str| child(name).and_then(|n| n.text()).map(str::to_owned);
        let vlan = root
            .descendants()
            .find(|n| n.has_tag_name("tag") && n.parent().is_some_and(|p| p.has_tag_name("vlan")))
            .and_then(|n| n.attribute("id"))
            .and_then(|id| id.parse().ok());
        Ok(NetworkInfo {
            uuid: text("uuid").ok_or("network XML without <uuid>")?,
            name: text("name").ok_or("network XML without <name>")?,
            title: text("title"),
            marks: Marks::read(root),
            bridge: child("bridge")
                .and_then(|b| b.attribute("name"))
                .map(str::to_owned),
            vlan,
            dhcp: root.descendants().any(|n| n.has_tag_name("dhcp")),
        })
    }

    /// The name people gave it: its title, else its libvirt name.
    pub fn display_name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }
}

/// One interface of a new domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicSpec {
    pub network: String,
    pub mac: String,
    pub model: String,
    /// The host-side device (passthrough interfaces: the data bridge's port of their slot).
    pub target: Option<String>,
}

/// How a new domain boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boot {
    Kernel {
        kernel: String,
        initrd: Option<String>,
        cmdline: String,
    },
    Disk(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainSpec {
    pub domain_type: String,
    pub name: String,
    pub title: String,
    pub marks: Marks,
    pub vcpus: u32,
    pub memory_mb: u32,
    pub boot: Boot,
    pub nics: Vec<NicSpec>,
    /// The file of its serial console, else a pty.
    pub console_file: Option<String>,
}

/// The `<domain>` document of a new domain.
pub fn domain_xml(d: &DomainSpec) -> String {
    let mut x = format!(
        "<domain type='{}'>\n  <name>{}</name>\n  <title>{}</title>\n  <metadata>{}</metadata>\n  \
         <memory unit='MiB'>{}</memory>\n  <vcpu>{}</vcpu>\n  <os>\n    <type arch='x86_64'>hvm</type>\n",
        escape(&d.domain_type),
        escape(&d.name),
        escape(&d.title),
        d.marks.element(),
        d.memory_mb,
        d.vcpus
    );
    match &d.boot {
        Boot::Kernel {
            kernel,
            initrd,
            cmdline,
        } => {
            let _ = writeln!(x, "    <kernel>{}</kernel>", escape(kernel));
            if let Some(i) = initrd {
                let _ = writeln!(x, "    <initrd>{}</initrd>", escape(i));
            }
            let _ = writeln!(x, "    <cmdline>{}</cmdline>", escape(cmdline));
        }
        Boot::Disk(_) => x.push_str("    <boot dev='hd'/>\n"),
    }
    x.push_str(
        "  </os>\n  <features><acpi/></features>\n  <on_poweroff>destroy</on_poweroff>\n  \
         <on_reboot>restart</on_reboot>\n  <on_crash>destroy</on_crash>\n  <devices>\n",
    );
    if let Boot::Disk(path) = &d.boot {
        let format = if path.ends_with(".qcow2") {
            "qcow2"
        } else {
            "raw"
        };
        // shareBacking: every VM of an image gets its own overlay and the image stays
        // read-only; a plain <transient/> makes QEMU lock the image for writing, so a second
        // VM of that image fails to start ("Failed to get \"write\" lock"; libvirt ≥ 7.4).
        let _ = writeln!(
            x,
            "    <disk type='file' device='disk'><driver name='qemu' type='{format}'/><source file='{}'/>\
             <target dev='vda' bus='virtio'/><transient shareBacking='yes'/></disk>",
            escape(path)
        );
    }
    for nic in &d.nics {
        let _ = write!(
            x,
            "    <interface type='network'><source network='{}'/><mac address='{}'/><model type='{}'/>",
            escape(&nic.network),
            escape(&nic.mac),
            escape(&nic.model)
        );
        if let Some(t) = &nic.target {
            let _ = write!(x, "<target dev='{}'/>", escape(t));
        }
        x.push_str("</interface>\n");
    }
    match &d.console_file {
        Some(f) => {
            let _ = writeln!(
                x,
                "    <serial type='file'><source path='{}'/><target port='0'/></serial>",
                escape(f)
            );
        }
        None => x.push_str("    <serial type='pty'><target port='0'/></serial>\n"),
    }
    x.push_str("  </devices>\n</domain>\n");
    x
}

/// An interface of a domain as libvirt describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicInfo {
    pub mac: String,
    pub network: Option<String>,
    pub target: Option<String>,
}

/// A domain as libvirt describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainInfo {
    pub uuid: String,
    pub name: String,
    pub title: Option<String>,
    pub marks: Marks,
    /// A running (or paused) domain has an `id`; a defined one that is off has none.
    pub running: bool,
    pub nics: Vec<NicInfo>,
}

impl DomainInfo {
    pub fn parse(doc: &str) -> Result<DomainInfo, String> {
        let doc = roxmltree::Document::parse(doc).map_err(|e| format!("domain XML: {e}"))?;
        let root = doc.root_element();
        let text = |name: &str| {
            root.children()
                .find(|n| n.has_tag_name(name))
                .and_then(|n| n.text())
                .map(str::to_owned)
        };
        let nics = root
            .children()
            .filter(|n| n.has_tag_name("devices"))
            .flat_map(|d| d.children().filter(|n| n.has_tag_name("interface")))
            .filter_map(|i| {
                let attr = |tag: &str, a: &str| {
                    i.children()
                        .find(|n| n.has_tag_name(tag))
                        .and_then(|n| n.attribute(a))
                        .map(str::to_owned)
                };
                Some(NicInfo {
                    mac: attr("mac", "address")?.to_ascii_lowercase(),
                    network: attr("source", "network"),
                    target: attr("target", "dev"),
                })
            })
            .collect();
        Ok(DomainInfo {
            uuid: text("uuid").ok_or("domain XML without <uuid>")?,
            name: text("name").ok_or("domain XML without <name>")?,
            title: text("title"),
            marks: Marks::read(root),
            running: root.attribute("id").is_some(),
            nics,
        })
    }

    pub fn display_name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.name)
    }

    /// Its interfaces' MACs (rovim's interface ids), in order.
    pub fn macs(&self) -> Vec<String> {
        self.nics.iter().map(|n| n.mac.clone()).collect()
    }
}

/// The XML documents of a chained `dumpxml` output, in order (`root` is `domain` or `network`).
pub fn documents<'a>(out: &'a str, root: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{root}"), format!("</{root}>"));
    let mut docs = Vec::new();
    let mut rest = out;
    while let Some(start) = rest.find(&open) {
        let Some(len) = rest[start..].find(&close) else {
            break;
        };
        let end = start + len + close.len();
        docs.push(&rest[start..end]);
        rest = &rest[end..];
    }
    docs
}

/// MAC → IP of `net-dhcp-leases` rows (`<date> <time> <mac> <proto> <ip>/<prefix> <host> <id>`).
pub fn leases(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (mac, ip) = (f.get(2)?, f.get(4)?);
            (mac.len() == 17 && mac.matches(':').count() == 5).then(|| {
                let ip = ip.split('/').next().unwrap_or(ip);
                (mac.to_ascii_lowercase(), ip.to_owned())
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rovim_core::Dhcp;

    fn profile(cidr: &str) -> IpProfile {
        IpProfile {
            subnet_address: Some(cidr.into()),
            ..IpProfile::default()
        }
    }

    #[test]
    fn a_profile_becomes_gateway_prefix_and_dhcp_range() {
        let s = Subnet::from_profile(&profile("10.77.0.0/24"))
            .unwrap()
            .unwrap();
        assert_eq!(s.gateway, Ipv4Addr::new(10, 77, 0, 1));
        assert_eq!(s.prefix, 24);
        assert_eq!(
            s.dhcp,
            Some((Ipv4Addr::new(10, 77, 0, 2), Ipv4Addr::new(10, 77, 0, 254)))
        );
        let mut p = profile("10.77.0.0/24");
        p.gateway_address = Some("10.77.0.254".into());
        p.dhcp = Some(Dhcp {
            enabled: true,
            start_address: Some("10.77.0.100".into()),
            count: Some(50),
        });
        let s = Subnet::from_profile(&p).unwrap().unwrap();
        assert_eq!(s.gateway, Ipv4Addr::new(10, 77, 0, 254));
        assert_eq!(
            s.dhcp,
            Some((Ipv4Addr::new(10, 77, 0, 100), Ipv4Addr::new(10, 77, 0, 149)))
        );
        p.dhcp = Some(Dhcp {
            enabled: false,
            ..Dhcp::default()
        });
        assert_eq!(Subnet::from_profile(&p).unwrap().unwrap().dhcp, None);
        assert_eq!(Subnet::from_profile(&IpProfile::default()).unwrap(), None);
    }

    #[test]
    fn bad_profiles_name_their_field() {
        let mut gw = profile("10.0.0.0/24");
        gw.gateway_address = Some("10.0.1.1".into());
        let mut start = profile("10.0.0.0/24");
        start.dhcp = Some(Dhcp {
            enabled: true,
            start_address: Some("10.0.0.255".into()),
            count: None,
        });
        let mut v6 = profile("fd00::/64");
        v6.ip_version = rovim_core::IpVersion::IPv6;
        for (p, field) in [
            (profile("10.0.0.0"), "ip_profile.subnet_address"),
            (profile("10.0.0.0/31"), "ip_profile.subnet_address"),
            (gw, "ip_profile.gateway_address"),
            (start, "ip_profile.dhcp.start_address"),
            (v6, "ip_profile.ip_version"),
        ] {
            let e = Subnet::from_profile(&p).unwrap_err();
            assert!(e.starts_with(field), "{e}");
        }
    }

    #[test]
    fn documents_rovim_writes_read_back_with_their_marks() {
        let marks = Marks {
            token: Some("rovim-0193".into()),
            installation: Some("inst-1".into()),
            start: true,
        };
        let net = network_xml(
            "mgmt-0193",
            "mgmt <&>",
            &marks,
            &NetShape::Vlan {
                bridge: "br-data".into(),
                vlan: 3001,
            },
        );
        // libvirt adds the uuid; the rest reads back as written.
        let net = net.replacen("<network>", "<network><uuid>u-1</uuid>", 1);
        let info = NetworkInfo::parse(&net).unwrap();
        assert_eq!(info.marks, marks);
        assert_eq!(info.display_name(), "mgmt <&>");
        assert_eq!(
            (info.bridge.as_deref(), info.vlan),
            (Some("br-data"), Some(3001))
        );
        assert!(!info.dhcp);

        let dom = domain_xml(&DomainSpec {
            domain_type: "qemu".into(),
            name: "vm-0193".into(),
            title: "vm".into(),
            marks: marks.clone(),
            vcpus: 1,
            memory_mb: 128,
            boot: Boot::Kernel {
                kernel: "/k".into(),
                initrd: Some("/i".into()),
                cmdline: "console=ttyS0 a='b'".into(),
            },
            nics: vec![NicSpec {
                network: "mgmt-0193".into(),
                mac: "52:54:00:AA:00:01".into(),
                model: "virtio".into(),
                target: Some("rv000081001".into()),
            }],
            console_file: None,
        });
        let running = dom.replacen(
            "<domain type='qemu'>",
            "<domain type='qemu' id='3'><uuid>d-1</uuid>",
            1,
        );
        let info = DomainInfo::parse(&running).unwrap();
        assert!(info.running);
        assert_eq!(info.marks, marks);
        assert_eq!(
            info.nics,
            vec![NicInfo {
                mac: "52:54:00:aa:00:01".into(),
                network: Some("mgmt-0193".into()),
                target: Some("rv000081001".into()),
            }]
        );
        let off = dom.replacen(
            "<domain type='qemu'>",
            "<domain type='qemu'><uuid>d-1</uuid>",
            1,
        );
        assert!(!DomainInfo::parse(&off).unwrap().running);
    }

    #[test]
    fn chained_output_splits_into_documents_and_lease_rows() {
        let out =
            "<domain id='1'>\n<name>a</name>\n</domain>\n\n<domain>\n<name>b</name>\n</domain>\n";
        assert_eq!(documents(out, "domain").len(), 2);
        assert!(documents(out, "domain")[1].contains("<name>b</name>"));
        let rows = " 2026-12-02 20:04:53   52:54:00:00:00:11   ipv4   10.77.0.172/24   -   01:52:54:00:00:00:11\n";
        assert_eq!(
            leases(rows),
            vec![("52:54:00:00:00:11".to_owned(), "10.77.0.172".to_owned())]
        );
        assert!(leases(" Expiry Time   MAC address   Protocol   IP address\n---\n").is_empty());
    }
}
