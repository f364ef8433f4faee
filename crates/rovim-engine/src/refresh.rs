//! What a refresh writes: the last state rovim stored of each live element, compared with what
//! the VIM reports now, so that only changes reach the database. An element missing from the
//! VIM's answer becomes DELETED with a message (the reference dropped it from polling, BUG-17);
//! a VIM error marks the element VIM_ERROR with the VIM's words (for the whole batch, BUG-16).

use rovim_core::{ItemId, ItemStatus};
use rovim_store::{InterfaceRecord, InterfaceUpdate, ItemUpdate, NetRecord, VmRecord};
use rovim_vim::{InterfaceReport, NetReport, VmReport};

use crate::calls::ItemReport;

/// The message stored when the VIM no longer has an element.
pub const GONE: &str = "the element is no longer on the VIM (deleted outside rovim)";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    pub status: Option<ItemStatus>,
    pub error_msg: Option<String>,
    pub vim_info: Option<String>,
    pub interfaces: Vec<ObservedInterface>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedInterface {
    pub row: ItemId,
    pub vim_interface_id: Option<String>,
    pub vim_net_id: Option<String>,
    pub mac_address: Option<String>,
    pub ip_address: Option<String>,
    pub compute_node: Option<String>,
    pub pci: Option<String>,
    pub vlan: Option<i32>,
    pub vim_info: Option<String>,
}

/// What to write after comparing, and the element's status now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub item: Option<ItemUpdate>,
    pub interfaces: Vec<(ItemId, InterfaceUpdate)>,
    pub status: Option<ItemStatus>,
}

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
            vim_info: r.vim_info.clone(),
            interfaces: Vec::new(),
        }
    }

    pub fn of_vm(r: &VmRecord) -> Observed {
        Observed {
            status: Some(r.status),
            error_msg: r.error_msg.clone(),
            vim_info: r.vim_info.clone(),
            interfaces: r.interfaces.iter().map(ObservedInterface::of_row).collect(),
        }
    }

    /// What a create (or adoption) just stored.
    pub fn of_outcome(
        report: Option<&ItemReport>,
        interfaces: &[(ItemId, InterfaceUpdate)],
    ) -> Observed {
        let flat = |o: &Option<Option<String>>| o.clone().flatten();
        Observed {
            status: Some(report.map_or(ItemStatus::Build, |r| r.status)),
            error_msg: report.and_then(|r| r.error_msg.clone()),
            vim_info: report.and_then(|r| r.vim_info.clone()),
            interfaces: interfaces
                .iter()
                .map(|(row, u)| ObservedInterface {
                    row: *row,
                    vim_interface_id: flat(&u.vim_interface_id),
                    vim_net_id: flat(&u.vim_net_id),
                    mac_address: flat(&u.mac_address),
                    ip_address: flat(&u.ip_address),
                    compute_node: flat(&u.compute_node),
                    pci: flat(&u.pci),
                    vlan: u.vlan.flatten(),
                    vim_info: flat(&u.vim_info),
                })
                .collect(),
        }
    }

    /// Compares with a net report (`None`: the VIM does not have it any more).
    pub fn apply_net(&mut self, report: Option<&NetReport>) -> Changes {
        match report {
            None => self.apply_item(ItemStatus::Deleted, Some(GONE.to_owned()), None),
            Some(r) => self.apply_item(r.status, r.error_msg.clone(), r.vim_info.clone()),
        }
    }

    pub fn apply_vm(&mut self, report: Option<&VmReport>) -> Changes {
        let Some(r) = report else {
            return self.apply_item(ItemStatus::Deleted, Some(GONE.to_owned()), None);
        };
        let mut changes = self.apply_item(r.status, r.error_msg.clone(), r.vim_info.clone());
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

    /// The VIM could not be asked: the element shows VIM_ERROR with the reason.
    pub fn apply_vim_error(&mut self, error: &str) -> Changes {
        let vim_info = self.vim_info.clone();
        self.apply_item(ItemStatus::VimError, Some(error.to_owned()), vim_info)
    }

    fn apply_item(
        &mut self,
        status: ItemStatus,
        error_msg: Option<String>,
        vim_info: Option<String>,
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
        if self.vim_info != vim_info {
            u.vim_info = Some(vim_info.clone());
            self.vim_info = vim_info;
        }
        let changed = u != ItemUpdate::default();
        Changes {
            item: changed.then_some(u),
            interfaces: Vec::new(),
            status: Some(status),
        }
    }
}

impl ObservedInterface {
    /// An interface row whose VIM state is not known yet.
    pub fn new(row: ItemId, vim_interface_id: Option<String>) -> ObservedInterface {
        ObservedInterface {
            row,
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

    fn of_row(r: &InterfaceRecord) -> ObservedInterface {
        ObservedInterface {
            row: r.id,
            vim_interface_id: r.vim_interface_id.clone(),
            vim_net_id: r.vim_net_id.clone(),
            mac_address: r.mac_address.clone(),
            ip_address: r.ip_address.clone(),
            compute_node: r.compute_node.clone(),
            pci: r.pci.clone(),
            vlan: r.vlan,
            vim_info: r.vim_info.clone(),
        }
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
        field(&mut self.vim_info, &seen.vim_info, &mut u.vim_info);
        (u != InterfaceUpdate::default()).then_some(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vm_report(status: ItemStatus, ip: &str) -> VmReport {
        VmReport {
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
        let row = ItemId::random();
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
    fn a_missing_element_is_deleted_once_and_a_vim_error_keeps_the_reason() {
        let mut o = observed();
        o.apply_vm(Some(&vm_report(ItemStatus::Active, "10.0.0.2")));
        let gone = o.apply_vm(None);
        assert_eq!(gone.status, Some(ItemStatus::Deleted));
        assert_eq!(gone.item.unwrap().error_msg, Some(Some(GONE.into())));

        let mut o = observed();
        o.apply_vm(Some(&vm_report(ItemStatus::Active, "10.0.0.2")));
        let err = o.apply_vim_error("cannot connect to the VIM: refused");
        assert_eq!(err.status, Some(ItemStatus::VimError));
        assert!(
            o.apply_vim_error("cannot connect to the VIM: refused")
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
