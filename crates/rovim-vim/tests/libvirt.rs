//! The libvirt connector against the real libvirtd and QEMU of `.ci/libvirt.sh`, booting the
//! tiny guest: a VM is ACTIVE only once its guest took the DHCP lease rovim reports, and what
//! the guest prints on its console agrees. Without the lab the tests are ignored
//! (`ROVIM_TEST_LIBVIRT_URL`); under CI=true they fail.

use std::time::{Duration, Instant};

use rovim_core::{
    FindFilter, Interface, InterfaceType, IpProfile, ItemKind, ItemStatus, NetParams, NetRef,
    NetType, Owned, VmParams,
};
use rovim_vim::libvirt::{LibvirtConnector, LibvirtSettings, libvirt_name};
use rovim_vim::testing::{LibvirtLab, libvirt_lab};
use rovim_vim::{VimConnector, VimError, VmReport, VmRequest};
use serde_json::json;

fn connector(lab: &LibvirtLab, installation: &str) -> LibvirtConnector {
    let settings = LibvirtSettings::from_config(&lab.config()).unwrap();
    LibvirtConnector::new(&lab.uri, settings).with_installation(installation)
}

fn token() -> String {
    format!("rovim-{}", uuid::Uuid::now_v7())
}

fn bridge_net(name: &str, cidr: &str) -> NetParams {
    NetParams {
        name: name.into(),
        net_type: NetType::Bridge,
        ip_profile: Some(IpProfile {
            subnet_address: Some(cidr.into()),
            ..IpProfile::default()
        }),
        shared: false,
        vlan: None,
    }
}

fn vm(name: &str, nets: &[(&str, InterfaceType, Option<&str>)]) -> VmRequest {
    VmRequest {
        params: VmParams {
            name: name.into(),
            description: None,
            start: true,
            image_id: "guest".into(),
            flavor_id: "tiny".into(),
            networks: nets
                .iter()
                .map(|(_, t, mac)| Interface {
                    name: None,
                    net: NetRef::Task(0),
                    iface_type: *t,
                    model: None,
                    mac_address: mac.map(Into::into),
                    port_security: true,
                    floating_ip: false,
                    vpci: None,
                })
                .collect(),
            cloud_config: None,
            disks: Vec::new(),
            availability_zone: None,
        },
        vim_net_ids: nets.iter().map(|(id, _, _)| (*id).to_owned()).collect(),
    }
}

fn owned(id: &str) -> Owned {
    Owned {
        vim_id: Some(id.into()),
        created_items: Vec::new(),
    }
}

/// Refreshes the VM until it is ACTIVE (its guest holds its lease); its report.
async fn until_active(lv: &LibvirtConnector, lab: &LibvirtLab, id: &str, domain: &str) -> VmReport {
    let start = Instant::now();
    loop {
        let report = lv
            .refresh_vms(&[id.to_owned()])
            .await
            .unwrap()
            .remove(id)
            .unwrap();
        if report.status == ItemStatus::Active {
            return report;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "{report:?}; console:\n{}",
            lab.console(domain)
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A bridge net with DHCP and a VM booting the tiny guest on it: BUILD until the guest holds
/// its lease, then ACTIVE with the MAC asked and the IP the guest printed; the same token
/// finds the same domain, and a create repeated with it makes no second one; the net refuses
/// to go while the VM uses it; both are gone after their deletes (a second delete: NotFound).
#[cfg_attr(
    rovim_no_libvirt,
    ignore = "needs libvirt and the tiny guest: eval \"$(bash .ci/libvirt.sh)\""
)]
#[tokio::test]
async fn a_vm_is_active_once_its_guest_holds_the_lease_rovim_reports() {
    let Some(lab) = libvirt_lab() else { return };
    lab.purge("lv-a-");
    let installation = uuid::Uuid::new_v4().to_string();
    let lv = connector(&lab, &installation);
    lv.check_connectivity().await.unwrap();

    let net_token = token();
    let net = lv
        .create_net(&bridge_net("lv-a-mgmt", "10.77.1.0/24"), &net_token)
        .await
        .unwrap();
    let net_name = libvirt_name("lv-a-mgmt", &net_token);
    assert_eq!(lab.names("net-list", &net_name), vec![net_name.clone()]);
    let listed = lv
        .list_nets(&FindFilter {
            name: Some("lv-a-mgmt".into()),
            ..FindFilter::default()
        })
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .any(|n| n.id == net.vim_id && n.status == ItemStatus::Active)
    );
    let reports = lv
        .refresh_nets(std::slice::from_ref(&net.vim_id))
        .await
        .unwrap();
    assert_eq!(reports[&net.vim_id].status, ItemStatus::Active);
    assert_eq!(reports[&net.vim_id].seen.dataplane, Some(false));

    let vm_token = token();
    let mac = "52:54:00:77:01:0a";
    let mut request = vm(
        "lv-a-vm",
        &[(&net.vim_id, InterfaceType::Virtual, Some(mac))],
    );
    request.params.cloud_config = Some(json!({"user-data": "echo ROVIM-USERDATA ran"}));
    let made = lv.create_vm(&request, &vm_token).await.unwrap();
    assert_eq!(made.interface_ids, vec![mac.to_owned()]);
    let found = lv
        .find_by_token(ItemKind::Vm, &vm_token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.created.vim_id, made.created.vim_id);
    assert_eq!(found.interface_ids, made.interface_ids);
    let again = lv.create_vm(&request, &vm_token).await.unwrap();
    assert_eq!(
        again.created.vim_id, made.created.vim_id,
        "no second domain"
    );
    let dom_name = libvirt_name("lv-a-vm", &vm_token);
    assert_eq!(lab.names("list", &dom_name).len(), 1);

    let id = made.created.vim_id.clone();
    let first = lv.refresh_vms(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(
        first[&id].status,
        ItemStatus::Build,
        "a booting guest has no lease yet"
    );
    let report = until_active(&lv, &lab, &id, &dom_name).await;
    let iface = &report.interfaces[0];
    assert_eq!(iface.mac_address.as_deref(), Some(mac));
    assert_eq!(iface.vim_net_id.as_deref(), Some(net.vim_id.as_str()));
    let ip = iface.ip_address.clone().unwrap();
    assert!(ip.starts_with("10.77.1."), "{ip}");
    let said = lab
        .console_line(
            &dom_name,
            &format!("ROVIM-GUEST eth0 {mac}"),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    assert!(
        said.ends_with(&format!(" {ip}")),
        "the guest says {said}, rovim {ip}"
    );
    assert!(
        lab.console_line(&dom_name, "ROVIM-USERDATA ran", Duration::from_secs(10))
            .await
            .is_some(),
        "the user data ran in the guest"
    );

    let tagged = lv.list_tagged().await.unwrap();
    let ids: Vec<_> = tagged
        .iter()
        .map(|t| (t.vim_id.as_str(), t.token.as_deref()))
        .collect();
    assert!(
        ids.contains(&(net.vim_id.as_str(), Some(net_token.as_str()))),
        "{ids:?}"
    );
    assert!(
        ids.contains(&(id.as_str(), Some(vm_token.as_str()))),
        "{ids:?}"
    );
    let other = connector(&lab, "another-installation")
        .list_tagged()
        .await
        .unwrap();
    assert!(!other.iter().any(|t| t.vim_id == id));

    let in_use = lv.delete_net(&owned(&net.vim_id)).await.unwrap_err();
    assert!(
        matches!(&in_use, VimError::InUse(m) if m.contains(&dom_name)),
        "{in_use}"
    );
    lv.delete_vm(&owned(&id)).await.unwrap();
    assert!(lab.names("list", &dom_name).is_empty());
    assert!(
        lv.refresh_vms(std::slice::from_ref(&id))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(matches!(
        lv.delete_vm(&owned(&id)).await,
        Err(VimError::NotFound(_))
    ));
    lv.delete_net(&owned(&net.vim_id)).await.unwrap();
    assert!(lab.names("net-list", &net_name).is_empty());
    assert!(matches!(
        lv.delete_net(&owned(&net.vim_id)).await,
        Err(VimError::NotFound(_))
    ));
}

/// One disk image serves several VMs at once: each boots it from an overlay of its own
/// (libvirt's transient disk) and is ACTIVE with its lease; the image is left as it was and
/// the overlays go with the domains. User data has no way into a guest booted from a disk:
/// refused, naming the field, and no domain made.
#[cfg_attr(
    rovim_no_libvirt,
    ignore = "needs libvirt and the tiny guest: eval \"$(bash .ci/libvirt.sh)\""
)]
#[tokio::test]
async fn vms_of_one_disk_image_boot_side_by_side_on_overlays_of_their_own() {
    let Some(lab) = libvirt_lab() else { return };
    lab.purge("lv-d-");
    let lv = connector(&lab, &uuid::Uuid::new_v4().to_string());
    let image = format!("{}/disk.qcow2", lab.guest_dir);
    let pristine = std::fs::read(&image).expect("the lab's disk image");
    let net = lv
        .create_net(&bridge_net("lv-d-mgmt", "10.77.3.0/24"), &token())
        .await
        .unwrap();
    let from_disk = |name: &str, mac: &str| {
        let mut request = vm(name, &[(&net.vim_id, InterfaceType::Virtual, Some(mac))]);
        request.params.image_id = "guest-disk".into();
        request
    };
    let mut vms = Vec::new();
    for (name, mac) in [
        ("lv-d-a", "52:54:00:77:03:0a"),
        ("lv-d-b", "52:54:00:77:03:0b"),
    ] {
        let t = token();
        let made = lv.create_vm(&from_disk(name, mac), &t).await.unwrap();
        vms.push((made.created.vim_id, libvirt_name(name, &t), mac));
    }
    for (id, domain, mac) in &vms {
        let report = until_active(&lv, &lab, id, domain).await;
        let iface = &report.interfaces[0];
        assert_eq!(iface.mac_address.as_deref(), Some(*mac));
        let ip = iface.ip_address.as_deref().unwrap();
        assert!(ip.starts_with("10.77.3."), "{ip}");
        let disks = lab.virsh(&["domblklist", domain, "--details"]);
        assert!(
            disks.contains(&format!("{image}.TRANSIENT-{domain}")),
            "its own overlay: {disks}"
        );
    }

    let mut with_data = from_disk("lv-d-data", "52:54:00:77:03:0c");
    with_data.params.cloud_config = Some(json!({"user-data": "echo hello"}));
    let refused = lv.create_vm(&with_data, &token()).await.unwrap_err();
    assert!(
        matches!(&refused.error, VimError::BadRequest(m) if m.starts_with("cloud_config")),
        "{refused:?}"
    );
    assert_eq!(refused.leftover, None);
    assert!(lab.names("list", "lv-d-data").is_empty());

    for (id, domain, _) in &vms {
        lv.delete_vm(&owned(id)).await.unwrap();
        assert!(lab.names("list", domain).is_empty());
    }
    lv.delete_net(&owned(&net.vim_id)).await.unwrap();
    let overlays = || {
        std::fs::read_dir(&lab.guest_dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains("TRANSIENT-") && n.contains("lv-d-"))
            .collect::<Vec<_>>()
    };
    let start = Instant::now();
    while !overlays().is_empty() && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        overlays(),
        Vec::<String>::new(),
        "the overlays go with the domains"
    );
    assert!(
        std::fs::read(&image).unwrap() == pristine,
        "the image is left as it was"
    );
}

/// A data net is a VLAN of the OVS bridge (one VLAN each, from the range); a VF interface on
/// it takes a passthrough slot (reported as its PCI with the compute node) and is a port of
/// br-data named after the slot; a VF on a bridge net, an unknown flavor or image, and a data
/// net without a data bridge are refused naming the field, leaving nothing behind.
#[cfg_attr(
    rovim_no_libvirt,
    ignore = "needs libvirt and the tiny guest: eval \"$(bash .ci/libvirt.sh)\""
)]
#[tokio::test]
async fn data_nets_are_vlans_and_vf_interfaces_take_slots() {
    let Some(lab) = libvirt_lab() else { return };
    lab.purge("lv-d-");
    let lv = connector(&lab, "lab-data");
    let data = |name: &str| NetParams {
        name: name.into(),
        net_type: NetType::Data,
        ip_profile: None,
        shared: false,
        vlan: None,
    };
    let (t1, t2) = (token(), token());
    let d1 = lv.create_net(&data("lv-d-data-1"), &t1).await.unwrap();
    let d2 = lv.create_net(&data("lv-d-data-2"), &t2).await.unwrap();
    let r = lv
        .refresh_nets(&[d1.vim_id.clone(), d2.vim_id.clone()])
        .await
        .unwrap();
    let (v1, v2) = (
        r[&d1.vim_id].seen.vlan.unwrap(),
        r[&d2.vim_id].seen.vlan.unwrap(),
    );
    assert_ne!(v1, v2, "one VLAN per data net");
    assert!((3000..=3999).contains(&v1) && (3000..=3999).contains(&v2));
    assert_eq!(r[&d1.vim_id].seen.dataplane, Some(true));

    let mgmt_token = token();
    let mgmt = lv
        .create_net(&bridge_net("lv-d-mgmt", "10.77.2.0/24"), &mgmt_token)
        .await
        .unwrap();
    let bad = [
        (
            vm("lv-d-bad", &[(&mgmt.vim_id, InterfaceType::VF, None)]),
            "networks[0].type",
        ),
        (
            VmRequest {
                params: VmParams {
                    flavor_id: "huge".into(),
                    ..vm("lv-d-bad", &[]).params
                },
                vim_net_ids: Vec::new(),
            },
            "flavor_id: 'huge'",
        ),
        (
            VmRequest {
                params: VmParams {
                    image_id: "windows".into(),
                    ..vm("lv-d-bad", &[]).params
                },
                vim_net_ids: Vec::new(),
            },
            "image_id: 'windows'",
        ),
    ];
    for (request, field) in bad {
        let e = lv.create_vm(&request, &token()).await.unwrap_err();
        assert!(
            matches!(&e.error, VimError::BadRequest(m) if m.contains(field)),
            "{field}: {}",
            e.error
        );
    }
    assert!(
        lab.names("list", "lv-d-bad").is_empty(),
        "a refused VM leaves nothing"
    );
    let no_bridge = LibvirtConnector::new(&lab.uri, LibvirtSettings::default());
    let e = no_bridge
        .create_net(&data("lv-d-data-x"), &token())
        .await
        .unwrap_err();
    assert!(
        matches!(&e.error, VimError::BadRequest(m) if m.contains("config.data_bridge")),
        "{}",
        e.error
    );

    let vm_token = token();
    let made = lv
        .create_vm(
            &vm(
                "lv-d-vf",
                &[
                    (&mgmt.vim_id, InterfaceType::Virtual, None),
                    (&d1.vim_id, InterfaceType::VF, None),
                ],
            ),
            &vm_token,
        )
        .await
        .unwrap();
    let id = made.created.vim_id.clone();
    let report = lv
        .refresh_vms(std::slice::from_ref(&id))
        .await
        .unwrap()
        .remove(&id)
        .unwrap();
    let vf = &report.interfaces[1];
    assert_eq!(vf.pci.as_deref(), Some("0000:81:00.1"), "{vf:?}");
    assert!(vf.compute_node.as_deref().is_some_and(|n| !n.is_empty()));
    assert_eq!(vf.vlan.map(u32::from), Some(v1));
    assert_eq!(report.interfaces[0].pci, None);
    let ports = std::process::Command::new("ovs-vsctl")
        .args([
            "--db=unix:/tmp/rovim-sdn/ovs/db.sock",
            "list-ports",
            "br-data",
        ])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&ports.stdout)
            .lines()
            .any(|p| p == "rv000081001"),
        "the VF is br-data's port of its slot"
    );

    lv.delete_vm(&owned(&id)).await.unwrap();
    for net in [&d1, &d2, &mgmt] {
        lv.delete_net(&owned(&net.vim_id)).await.unwrap();
    }
}

/// ADOPT of a domain made outside rovim (by its libvirt name): it gets the token and this
/// installation's mark, keeps its own metadata, is found by token and listed as rovim's.
#[cfg_attr(
    rovim_no_libvirt,
    ignore = "needs libvirt and the tiny guest: eval \"$(bash .ci/libvirt.sh)\""
)]
#[tokio::test]
async fn a_domain_made_outside_rovim_is_adopted_by_name() {
    let Some(lab) = libvirt_lab() else { return };
    lab.purge("lv-o-");
    let lv = connector(&lab, "lab-adopt");
    let name = format!("lv-o-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let doc = format!(
        "<domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>\
         <metadata><other:x xmlns:other='urn:other'>keep</other:x></metadata>\
         <os><type arch='x86_64'>hvm</type></os></domain>"
    );
    let file = std::env::temp_dir().join(format!("{name}.xml"));
    std::fs::write(&file, doc).unwrap();
    lab.virsh(&["define", file.to_str().unwrap()]);
    assert_eq!(lab.names("list", &name), vec![name.clone()]);

    let t = token();
    let filter = FindFilter {
        name: Some(name.clone()),
        ..FindFilter::default()
    };
    let adopted = lv.adopt(ItemKind::Vm, &filter, &t).await.unwrap();
    let found = lv.find_by_token(ItemKind::Vm, &t).await.unwrap().unwrap();
    assert_eq!(found.created.vim_id, adopted.created.vim_id);
    assert!(
        lv.list_tagged()
            .await
            .unwrap()
            .iter()
            .any(|e| e.vim_id == adopted.created.vim_id)
    );
    assert!(
        lab.virsh(&["dumpxml", &name]).contains("keep"),
        "its own metadata stays"
    );
    let none = FindFilter {
        name: Some("nobody-by-this-name".into()),
        ..FindFilter::default()
    };
    assert!(matches!(
        lv.adopt(ItemKind::Vm, &none, &t).await,
        Err(VimError::NotFound(_))
    ));
    lv.delete_vm(&owned(&adopted.created.vim_id)).await.unwrap();
    assert!(lab.names("list", &name).is_empty());
}
