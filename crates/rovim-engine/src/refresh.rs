//! What a refresh writes: the last state rovim stored of each live element, compared with what
//! the VIM reports now, so that only changes reach the database. An element missing from the
//! VIM's answer becomes DELETED with a message (the reference dropped it from polling, BUG-17);
//! a VIM error marks the element VIM_ERROR with the VIM's words (for the whole batch, BUG-16).
//! A net's SDN network state is merged into its status (spec §1.12); a passthrough interface's
//! SDN port is re-made only when its compute node, PCI, VLAN or MAC change (not its IP: ODD-5).

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use rovim_core::{Asked, ItemId, ItemStatus, Seen, drift, merge_sdn_status};
use rovim_sdn::SdnNetState;
use rovim_store::{InterfaceRecord, InterfaceUpdate, ItemUpdate, NetRecord, VmRecord};
use rovim_vim::{InterfaceReport, NetReport, VmReport};

use crate::calls::ItemReport;

/// The message stored when the VIM no longer has an element.
pub const GONE: &str = "the element is no longer on the VIM (deleted outside rovim)";

/// A VIM info text as a refresh remembers it: only to tell whether the next report's differs,
/// so a 64-bit hash instead of the text (hundreds of bytes per element and interface, for as
/// long as the element lives). Two different texts with one hash would skip one write of that
/// informational column; the status, error, addresses and SDN fields are compared in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfoHash(u64);

impl InfoHash {
    pub fn of(text: Option<&str>) -> Option<InfoHash> {
        text.map(|t| {
            let mut h = DefaultHasher::new();
            t.hash(&mut h);
            InfoHash(h.finish())
        })
    }

    /// Follows what the VIM reports now: the text to write when it differs from the one
    /// remembered (which then becomes it), `None` when it does not.
    fn follow(remembered: &mut Option<InfoHash>, text: &Option<String>) -> Option<Option<String>> {
        let hash = InfoHash::of(text.as_deref());
        if *remembered == hash {
            return None;
        }
        *remembered = hash;
        Some(text.clone())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub status: Option<ItemStatus>,
    pub error_msg: Option<String>,
    pub vim_info: Option<InfoHash>,
    pub interfaces: Vec<ObservedInterface>,
    /// Nets: the SDN network wired for it.
    pub sdn_net_id: Option<String>,
    /// What its CREATE asked (none for a found or adopted element: nothing to drift from),
    /// shared between the elements asked the same (see [`AskedPool`]).
    pub asked: Option<Arc<Asked>>,
    /// The drift last stored (none when it agrees).
    pub drift: Option<InfoHash>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedInterface {
    pub row: ItemId,
    /// The rovim net it sits on (its SDN network, if any, gets this interface's port).
    pub net: Option<ItemId>,
    /// Its SDN port: only a passthrough interface on a net with an SDN network has one, so it
    /// is boxed (a virtual interface, most of them, carries 8 bytes for it instead of 120).
    pub port: Option<Box<SdnPort>>,
    pub vim_interface_id: Option<String>,
    pub vim_net_id: Option<String>,
    pub mac_address: Option<String>,
    pub ip_address: Option<String>,
    pub compute_node: Option<String>,
    pub pci: Option<String>,
    pub vlan: Option<i32>,
    pub vim_info: Option<InfoHash>,
}

/// An interface's SDN port as the refresh follows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdnPort {
    pub id: Option<String>,
    /// What the port was made for.
    pub key: Option<PortKey>,
    /// A change of the port is under way.
    pub pending: bool,
    /// Creations that failed in a row, and when the next may be tried: failed ones back off
    /// (1 s doubling to 5 min) instead of being tried at every poll.
    pub failures: u32,
    pub retry_at: Option<tokio::time::Instant>,
}

/// What an SDN external port is made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortKey {
    pub compute_node: String,
    pub pci: String,
    pub vlan: Option<i32>,
    pub mac: Option<String>,
}

/// An SDN port change: delete `old` (if any), then create one for `new` (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortJob {
    pub row: ItemId,
    pub old: Option<String>,
    pub new: Option<PortKey>,
}

/// What to write after comparing, and the element's status now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub item: Option<ItemUpdate>,
    pub interfaces: Vec<(ItemId, InterfaceUpdate)>,
    pub status: Option<ItemStatus>,
    /// The element drifted from what was asked since the last refresh (for the metric).
    pub drifted: bool,
}

#[cfg(test)]
impl Changes {
    pub fn is_empty(&self) -> bool {
        self.item.is_none() && self.interfaces.is_empty()
    }
}

impl Observed {
    pub fn of_net(r: &NetRecord) -> Observed {
        Observed {
            status: Some(r.status),
            error_msg: r.error_msg.clone(),
            vim_info: InfoHash::of(r.vim_info.as_deref()),
            interfaces: Vec::new(),
            sdn_net_id: r.sdn_net_id.clone(),
            asked: None,
            drift: stored_drift(&r.drift),
        }
    }

    pub fn of_vm(r: &VmRecord) -> Observed {
        Observed {
            status: Some(r.status),
            error_msg: r.error_msg.clone(),
            vim_info: InfoHash::of(r.vim_info.as_deref()),
            interfaces: r.interfaces.iter().map(ObservedInterface::of_row).collect(),
            sdn_net_id: None,
            asked: None,
            drift: stored_drift(&r.drift),
        }
    }

    /// A net or VM row just inserted by its action (`interfaces`: a VM's interface rows and
    /// their rovim nets): what reading it back would give.
    pub fn fresh(interfaces: impl IntoIterator<Item = (ItemId, Option<ItemId>)>) -> Observed {
        Observed {
            status: Some(ItemStatus::ScheduledCreation),
            interfaces: interfaces
                .into_iter()
                .map(|(row, net)| ObservedInterface::fresh(row, net))
                .collect(),
            ..Observed::default()
        }
    }

    /// What a create (or adoption) just stored.
    pub fn of_outcome(
        report: Option<&ItemReport>,
        interfaces: &[(ItemId, InterfaceUpdate)],
        iface_nets: &[(ItemId, Option<ItemId>)],
        sdn_net_id: Option<String>,
    ) -> Observed {
        let flat = |o: &Option<Option<String>>| o.clone().flatten();
        Observed {
            status: Some(report.map_or(ItemStatus::Build, |r| r.status)),
            error_msg: report.and_then(|r| r.error_msg.clone()),
            vim_info: InfoHash::of(report.and_then(|r| r.vim_info.as_deref())),
            interfaces: interfaces
                .iter()
                .map(|(row, u)| ObservedInterface {
                    net: iface_nets
                        .iter()
                        .find(|(r, _)| r == row)
                        .and_then(|(_, n)| *n),
                    vim_interface_id: flat(&u.vim_interface_id),
                    vim_net_id: flat(&u.vim_net_id),
                    mac_address: flat(&u.mac_address),
                    ip_address: flat(&u.ip_address),
                    compute_node: flat(&u.compute_node),
                    pci: flat(&u.pci),
                    vlan: u.vlan.flatten(),
                    vim_info: InfoHash::of(u.vim_info.as_ref().and_then(|v| v.as_deref())),
                    ..ObservedInterface::new(*row, None)
                })
                .collect(),
            sdn_net_id,
            asked: None,
            drift: None,
        }
    }

    /// Compares with a net report (`None`: the VIM does not have it any more), merged with its
    /// SDN network's state when it has one.
    pub fn apply_net(&mut self, report: Option<&NetReport>, sdn: Option<&SdnNetState>) -> Changes {
        match report {
            None => self.apply_item(ItemStatus::Deleted, Some(GONE.to_owned()), Some(&None)),
            Some(r) => {
                let sdn = sdn.map(|s| (s.status, s.error.as_deref()));
                let (status, error) = merge_sdn_status(r.status, r.error_msg.as_deref(), sdn);
                let mut changes = self.apply_item(status, error, Some(&r.vim_info));
                self.apply_drift(&r.seen, None, &mut changes);
                changes
            }
        }
    }

    /// Compares what the VIM reports with what was asked; writes the drift when it changed.
    fn apply_drift(&mut self, seen: &Seen, interfaces: Option<usize>, changes: &mut Changes) {
        let Some(asked) = &self.asked else { return };
        let found = drift(asked, seen, interfaces);
        let text = (!found.is_empty()).then(|| json_list(&found));
        if let Some(change) = InfoHash::follow(&mut self.drift, &text) {
            changes.drifted = change.is_some();
            changes.item.get_or_insert_with(ItemUpdate::default).drift = Some(change);
        }
    }

    pub fn apply_vm(&mut self, report: Option<&VmReport>) -> Changes {
        let Some(r) = report else {
            return self.apply_item(ItemStatus::Deleted, Some(GONE.to_owned()), Some(&None));
        };
        let mut changes = self.apply_item(r.status, r.error_msg.clone(), Some(&r.vim_info));
        // Ports are bound while a server builds: only a running one's count tells.
        let interfaces = (r.status == ItemStatus::Active).then_some(r.interfaces.len());
        self.apply_drift(&r.seen, interfaces, &mut changes);
        for seen in &r.interfaces {
            let Some(known) = self
                .interfaces
                .iter_mut()
                .find(|i| i.vim_interface_id.as_deref() == Some(seen.vim_interface_id.as_str()))
            else {
                continue; // a port rovim did not ask for: not one of its interface rows
            };
            if let Some(update) = known.apply(seen) {
                changes.interfaces.push((known.row, update));
            }
        }
        changes
    }

    /// The VIM could not be asked: the element shows VIM_ERROR with the reason, or
    /// VIM_SDN_ERROR with both reasons when its SDN network is in error too.
    pub fn apply_vim_error(&mut self, error: &str, sdn: Option<&SdnNetState>) -> Changes {
        let sdn = sdn.map(|s| (s.status, s.error.as_deref()));
        let (status, error) = merge_sdn_status(ItemStatus::VimError, Some(error), sdn);
        self.apply_item(status, error, None)
    }

    /// `vim_info`: `None` leaves it as it is (the VIM was not asked), `Some(text)` is what the
    /// VIM reports now.
    fn apply_item(
        &mut self,
        status: ItemStatus,
        error_msg: Option<String>,
        vim_info: Option<&Option<String>>,
    ) -> Changes {
        let mut u = ItemUpdate::default();
        if self.status != Some(status) {
            u.status = Some(status);
            self.status = Some(status);
        }
        if self.error_msg != error_msg {
            u.error_msg = Some(error_msg.clone());
            self.error_msg = error_msg;
        }
        if let Some(text) = vim_info {
            u.vim_info = InfoHash::follow(&mut self.vim_info, text);
        }
        let changed = u != ItemUpdate::default();
        Changes {
            item: changed.then_some(u),
            interfaces: Vec::new(),
            status: Some(status),
            drifted: false,
        }
    }
}

/// A drift list as it is stored.
fn json_list(list: &[String]) -> String {
    serde_json::to_string(list).expect("strings always serialize")
}

/// The hash of a stored drift list (none when empty), as [`Observed::apply_drift`] compares.
fn stored_drift(list: &[String]) -> Option<InfoHash> {
    (!list.is_empty())
        .then(|| json_list(list))
        .and_then(|t| InfoHash::of(Some(&t)))
}

impl ObservedInterface {
    /// An interface row whose VIM state is not known yet.
    pub fn new(row: ItemId, vim_interface_id: Option<String>) -> ObservedInterface {
        ObservedInterface {
            row,
            net: None,
            port: None,
            vim_interface_id,
            vim_net_id: None,
            mac_address: None,
            ip_address: None,
            compute_node: None,
            pci: None,
            vlan: None,
            vim_info: None,
        }
    }

    fn fresh(row: ItemId, net: Option<ItemId>) -> ObservedInterface {
        ObservedInterface {
            net,
            ..ObservedInterface::new(row, None)
        }
    }

    fn of_row(r: &InterfaceRecord) -> ObservedInterface {
        ObservedInterface {
            row: r.id,
            net: r.net,
            // A port made by an earlier run was made for what the row holds.
            port: r.sdn_port_id.as_ref().map(|id| {
                let key = r.compute_node.clone().zip(r.pci.clone());
                Box::new(SdnPort {
                    id: Some(id.clone()),
                    key: key.map(|(compute_node, pci)| PortKey {
                        compute_node,
                        pci,
                        vlan: r.vlan,
                        mac: r.mac_address.clone(),
                    }),
                    ..SdnPort::default()
                })
            }),
            vim_interface_id: r.vim_interface_id.clone(),
            vim_net_id: r.vim_net_id.clone(),
            mac_address: r.mac_address.clone(),
            ip_address: r.ip_address.clone(),
            compute_node: r.compute_node.clone(),
            pci: r.pci.clone(),
            vlan: r.vlan,
            vim_info: InfoHash::of(r.vim_info.as_deref()),
        }
    }

    /// The port this interface should have on `sdn_net` (the SDN network of its net): a
    /// passthrough interface, with compute node and PCI known, gets one.
    pub fn wanted_port(&self, sdn_net: Option<&str>) -> Option<PortKey> {
        sdn_net?;
        Some(PortKey {
            compute_node: self.compute_node.clone()?,
            pci: self.pci.clone()?,
            vlan: self.vlan,
            mac: self.mac_address.clone(),
        })
    }

    /// The change needed for this interface's SDN port, if any; none while one is under way.
    pub fn port_job(&self, sdn_net: Option<&str>) -> Option<PortJob> {
        let port = self.port.as_deref();
        if port.is_some_and(|p| {
            p.pending || p.retry_at.is_some_and(|t| tokio::time::Instant::now() < t)
        }) {
            return None;
        }
        let wanted = self.wanted_port(sdn_net);
        let (id, key) = port.map_or((None, None), |p| (p.id.as_ref(), p.key.as_ref()));
        match (id, &wanted) {
            (None, None) => None,
            (Some(_), Some(want)) if key == Some(want) => None,
            _ => Some(PortJob {
                row: self.row,
                old: id.cloned(),
                new: wanted,
            }),
        }
    }

    /// Records the outcome of an SDN port creation: a failure pushes the next try back.
    pub fn port_tried(&mut self, ok: bool, jitter: f64) {
        let port = self.port_mut();
        if ok {
            port.failures = 0;
            port.retry_at = None;
            return;
        }
        let wait = rovim_core::Backoff::actor_restart().delay(port.failures, jitter);
        port.failures = port.failures.saturating_add(1);
        port.retry_at = Some(tokio::time::Instant::now() + wait);
    }

    /// The SDN port's state, made when the interface first needs one.
    pub fn port_mut(&mut self) -> &mut SdnPort {
        self.port.get_or_insert_default()
    }

    fn apply(&mut self, seen: &InterfaceReport) -> Option<InterfaceUpdate> {
        let mut u = InterfaceUpdate::default();
        fn field<T: Clone + PartialEq>(
            mine: &mut Option<T>,
            theirs: &Option<T>,
            out: &mut Option<Option<T>>,
        ) {
            if mine != theirs {
                *mine = theirs.clone();
                *out = Some(theirs.clone());
            }
        }
        field(&mut self.vim_net_id, &seen.vim_net_id, &mut u.vim_net_id);
        field(&mut self.mac_address, &seen.mac_address, &mut u.mac_address);
        field(&mut self.ip_address, &seen.ip_address, &mut u.ip_address);
        field(
            &mut self.compute_node,
            &seen.compute_node,
            &mut u.compute_node,
        );
        field(&mut self.pci, &seen.pci, &mut u.pci);
        field(&mut self.vlan, &seen.vlan.map(i32::from), &mut u.vlan);
        u.vim_info = InfoHash::follow(&mut self.vim_info, &seen.vim_info);
        (u != InterfaceUpdate::default()).then_some(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm_report(status: ItemStatus, ip: &str) -> VmReport {
        VmReport {
            seen: Default::default(),
            status,
            error_msg: None,
            vim_info: Some("{}".into()),
            interfaces: vec![InterfaceReport {
                vim_interface_id: "p1".into(),
                mac_address: Some("fa:16:3e:00:00:01".into()),
                ip_address: Some(ip.into()),
                ..InterfaceReport::default()
            }],
        }
    }

    fn observed() -> Observed {
        let row = ItemId::generate();
        Observed {
            interfaces: vec![ObservedInterface::new(row, Some("p1".into()))],
            ..Default::default()
        }
    }

    #[test]
    fn only_what_changed_is_written() {
        let mut o = observed();
        let first = o.apply_vm(Some(&vm_report(ItemStatus::Build, "10.0.0.2")));
        assert_eq!(first.item.as_ref().unwrap().status, Some(ItemStatus::Build));
        assert_eq!(first.interfaces.len(), 1);
        assert!(
            o.apply_vm(Some(&vm_report(ItemStatus::Build, "10.0.0.2")))
                .is_empty(),
            "same answer, no write"
        );
        let active = o.apply_vm(Some(&vm_report(ItemStatus::Active, "10.0.0.2")));
        assert_eq!(
            active.item.unwrap(),
            ItemUpdate {
                status: Some(ItemStatus::Active),
                ..Default::default()
            }
        );
        assert!(active.interfaces.is_empty());
        let moved = o.apply_vm(Some(&vm_report(ItemStatus::Active, "10.0.0.9")));
        assert!(moved.item.is_none());
        assert_eq!(
            moved.interfaces[0].1.ip_address,
            Some(Some("10.0.0.9".into()))
        );
        assert_eq!(
            moved.interfaces[0].1.mac_address, None,
            "the MAC did not change"
        );
    }

    #[test]
    fn vim_info_is_written_when_its_text_changes_and_kept_through_a_vim_error() {
        let mut o = observed();
        let mut report = vm_report(ItemStatus::Active, "10.0.0.2");
        report.vim_info = Some(r#"{"host":"a"}"#.into());
        report.interfaces[0].vim_info = Some(r#"{"port":"a"}"#.into());
        let first = o.apply_vm(Some(&report));
        assert_eq!(
            first.item.unwrap().vim_info,
            Some(Some(r#"{"host":"a"}"#.into()))
        );
        assert_eq!(
            first.interfaces[0].1.vim_info,
            Some(Some(r#"{"port":"a"}"#.into()))
        );
        assert!(o.apply_vm(Some(&report)).is_empty(), "same text, no write");

        let down = o.apply_vim_error("unreachable", None);
        let u = down.item.unwrap();
        assert_eq!(u.status, Some(ItemStatus::VimError));
        assert_eq!(
            u.vim_info, None,
            "a VIM error leaves the VIM info as stored"
        );
        let back = o.apply_vm(Some(&report)).item.unwrap();
        assert_eq!(back.status, Some(ItemStatus::Active));
        assert_eq!(back.vim_info, None, "same text as stored before the error");

        report.vim_info = Some(r#"{"host":"b"}"#.into());
        report.interfaces[0].vim_info = None;
        let moved = o.apply_vm(Some(&report));
        assert_eq!(
            moved.item.unwrap().vim_info,
            Some(Some(r#"{"host":"b"}"#.into()))
        );
        assert_eq!(moved.interfaces[0].1.vim_info, Some(None), "cleared");
        let gone = o.apply_vm(None).item.unwrap();
        assert_eq!(
            gone.vim_info,
            Some(None),
            "a deleted element's info is cleared"
        );
    }

    #[test]
    fn an_sdn_port_is_made_for_passthrough_and_remade_only_when_its_key_changes() {
        let mut o = observed();
        let mut report = vm_report(ItemStatus::Active, "10.0.0.2");
        report.interfaces[0].compute_node = Some("c1".into());
        report.interfaces[0].pci = Some("0000:81:00.1".into());
        report.interfaces[0].vlan = Some(1001);
        o.apply_vm(Some(&report));
        let iface = &mut o.interfaces[0];
        assert_eq!(iface.port_job(None), None, "no SDN network, no port");
        let job = iface.port_job(Some("sdn-1")).expect("a new port");
        assert_eq!(
            (job.old.as_deref(), job.new.as_ref().map(|k| k.pci.as_str())),
            (None, Some("0000:81:00.1"))
        );
        iface.port_mut().id = Some("port-1".into());
        iface.port_mut().key = job.new;
        assert_eq!(iface.port_job(Some("sdn-1")), None, "made: nothing to do");

        report.interfaces[0].ip_address = Some("10.0.0.77".into());
        o.apply_vm(Some(&report));
        assert_eq!(
            o.interfaces[0].port_job(Some("sdn-1")),
            None,
            "an IP change re-creates nothing"
        );
        report.interfaces[0].compute_node = Some("c2".into());
        o.apply_vm(Some(&report));
        let job = o.interfaces[0]
            .port_job(Some("sdn-1"))
            .expect("moved: re-made");
        assert_eq!(job.old.as_deref(), Some("port-1"));
        assert_eq!(job.new.unwrap().compute_node, "c2");
    }

    #[test]
    fn an_sdn_error_shows_on_the_net_with_both_messages() {
        let mut o = Observed::default();
        let ok = NetReport {
            seen: Default::default(),
            status: ItemStatus::Active,
            error_msg: None,
            vim_info: None,
        };
        let broken = SdnNetState {
            status: rovim_core::SdnNetStatus::Error,
            error: Some("fabric down".into()),
        };
        let c = o.apply_net(Some(&ok), Some(&broken));
        assert_eq!(c.status, Some(ItemStatus::SdnError));
        assert_eq!(o.error_msg.as_deref(), Some("fabric down"));
        let vim_err = NetReport {
            seen: Default::default(),
            status: ItemStatus::VimError,
            error_msg: Some("vim says no".into()),
            vim_info: None,
        };
        let c = o.apply_net(Some(&vim_err), Some(&broken));
        assert_eq!(c.status, Some(ItemStatus::VimSdnError));
        let msg = o.error_msg.clone().unwrap();
        assert!(
            msg.contains("vim says no") && msg.contains("fabric down") && msg.len() <= 1024,
            "{msg}"
        );
    }

    #[test]
    fn a_missing_element_is_deleted_once_and_a_vim_error_keeps_the_reason() {
        let mut o = observed();
        o.apply_vm(Some(&vm_report(ItemStatus::Active, "10.0.0.2")));
        let gone = o.apply_vm(None);
        assert_eq!(gone.status, Some(ItemStatus::Deleted));
        assert_eq!(gone.item.unwrap().error_msg, Some(Some(GONE.into())));

        let mut o = observed();
        o.apply_vm(Some(&vm_report(ItemStatus::Active, "10.0.0.2")));
        let err = o.apply_vim_error("cannot connect to the VIM: refused", None);
        assert_eq!(err.status, Some(ItemStatus::VimError));
        assert!(
            o.apply_vim_error("cannot connect to the VIM: refused", None)
                .is_empty()
        );
        let back = o.apply_vm(Some(&vm_report(ItemStatus::Active, "10.0.0.2")));
        let u = back.item.unwrap();
        assert_eq!(
            (u.status, u.error_msg),
            (Some(ItemStatus::Active), Some(None))
        );
    }
}
