//! Teardown order: a net rovim created is deleted only once no VM rovim knows on that VIM still
//! has an interface on it. Orchestrators tear deployments down as one action listing the VMs'
//! DELETEs then the nets' (OSM's NFVO does), with no `depends_on`; a VIM answers a net delete
//! with ports still on it with a conflict (Neutron's NetworkInUse, EC2's DependencyViolation),
//! so without this rule the net's DELETE would fail and leave the net behind.

use crate::ids::{ItemId, TaskKey};

/// A VM that rovim knows (it exists on the VIM or is being created) with an interface on the
/// net being deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetUser {
    pub vm: ItemId,
    pub name: String,
    /// Its DELETE that has not ended yet, if one was asked for.
    pub pending_delete: Option<TaskKey>,
}

/// What a net's DELETE does given the VMs on the net.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Teardown {
    /// No VM left on it: delete the net.
    Clear,
    /// Every VM on it is being deleted: wait for these DELETEs, then look again.
    WaitFor(Vec<TaskKey>),
    /// Some VM on it is not being deleted: the net's DELETE fails with this message, without a
    /// VIM call.
    Blocked(String),
}

/// The rule. VMs are named in the message (at most five, then a count).
pub fn net_teardown(users: &[NetUser]) -> Teardown {
    if users.is_empty() {
        return Teardown::Clear;
    }
    let staying: Vec<&NetUser> = users
        .iter()
        .filter(|u| u.pending_delete.is_none())
        .collect();
    if staying.is_empty() {
        let mut keys: Vec<TaskKey> = users.iter().filter_map(|u| u.pending_delete).collect();
        keys.sort();
        keys.dedup();
        return Teardown::WaitFor(keys);
    }
    let mut names: Vec<String> = staying
        .iter()
        .take(5)
        .map(|u| format!("'{}' ({})", u.name, u.vm))
        .collect();
    if staying.len() > 5 {
        names.push(format!("and {} more", staying.len() - 5));
    }
    Teardown::Blocked(format!(
        "Cannot delete net: VM(s) {} still have an interface on it and no DELETE of them is pending",
        names.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::ActionId;

    fn user(name: &str, pending: Option<TaskKey>) -> NetUser {
        NetUser {
            vm: ItemId::generate(),
            name: name.into(),
            pending_delete: pending,
        }
    }

    #[test]
    fn a_net_without_users_is_deleted() {
        assert_eq!(net_teardown(&[]), Teardown::Clear);
    }

    #[test]
    fn a_net_whose_vms_are_all_being_deleted_waits_for_those_deletes() {
        let a = ActionId::generate();
        let (d0, d1) = (TaskKey::new(a, 0), TaskKey::new(a, 1));
        let users = [
            user("a", Some(d1)),
            user("b", Some(d0)),
            user("c", Some(d1)),
        ];
        assert_eq!(net_teardown(&users), Teardown::WaitFor(vec![d0, d1]));
    }

    #[test]
    fn a_vm_that_stays_blocks_the_delete_and_is_named() {
        let d = TaskKey::new(ActionId::generate(), 0);
        let stay = user("web", None);
        let Teardown::Blocked(msg) = net_teardown(&[user("db", Some(d)), stay.clone()]) else {
            panic!("blocked");
        };
        assert!(
            msg.contains("'web'") && msg.contains(&stay.vm.to_string()),
            "{msg}"
        );
        assert!(
            !msg.contains("'db'"),
            "a VM being deleted is not in the way: {msg}"
        );
        let many: Vec<NetUser> = (0..8).map(|i| user(&format!("v{i}"), None)).collect();
        let Teardown::Blocked(msg) = net_teardown(&many) else {
            panic!("blocked");
        };
        assert!(msg.contains("and 3 more"), "{msg}");
    }
}
