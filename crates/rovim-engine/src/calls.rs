//! The VIM work a VimActor hands out, and what comes back: plain values between the working set
//! (which decides) and the call runner (which talks to the VIM).

use rovim_core::{FindFilter, ItemId, ItemStatus, Outcome, TaskKey, TaskParams, VimCall};
use rovim_store::{InterfaceUpdate, WriteBatch};

use crate::task_entry::ElementKey;

/// Where a VM interface's network is on the VIM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetTarget {
    VimId(String),
    /// A rovim net item: its VIM id is read from the database at call time.
    Item(ItemId),
    /// The reference cannot be resolved: the create fails with this reason.
    Missing(String),
}

/// One VIM call to make for one element.
#[derive(Debug, Clone)]
pub struct CallOrder {
    pub key: TaskKey,
    pub element: ElementKey,
    pub call: VimCall,
    pub params: Option<TaskParams>,
    pub find: Option<FindFilter>,
    pub token: String,
    /// Look the token up before creating: an earlier try may have created it.
    pub recovering: bool,
    /// One per VM interface, in order.
    pub nets: Vec<NetTarget>,
    /// A VM's interface rows and their rovim nets, in order, when known in memory (else read).
    pub interfaces: Option<Vec<(ItemId, Option<ItemId>)>>,
    /// Committed before the VIM is called (the task's BUILD with its token).
    pub before: WriteBatch,
}

/// The element's state as the VIM reported it right after the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemReport {
    pub status: ItemStatus,
    pub error_msg: Option<String>,
    pub vim_info: Option<String>,
}

#[derive(Debug, Clone)]
pub struct CallResult {
    pub key: TaskKey,
    pub element: ElementKey,
    pub outcome: Outcome,
    pub attempts: u32,
    pub report: Option<ItemReport>,
    pub interfaces: Vec<(ItemId, InterfaceUpdate)>,
    /// Each VM interface row's rovim net (to find its SDN network).
    pub iface_nets: Vec<(ItemId, Option<ItemId>)>,
    /// What the create asked of the element it made (drift is measured against it).
    pub asked: Option<rovim_core::Asked>,
}

impl CallResult {
    /// The result of `order` with `outcome` and nothing reported (for tests of the decisions).
    #[cfg(test)]
    pub fn of(order: &CallOrder, outcome: Outcome) -> CallResult {
        CallResult {
            key: order.key,
            element: order.element,
            outcome,
            attempts: 1,
            report: None,
            interfaces: Vec::new(),
            iface_nets: Vec::new(),
            asked: None,
        }
    }

    /// The result of a call that panicked (a connector bug): the task fails with `error`, the
    /// actor goes on.
    pub fn panicked(key: TaskKey, element: ElementKey, error: String) -> CallResult {
        CallResult {
            key,
            element,
            outcome: Outcome::Failed {
                error,
                leftover: None,
            },
            attempts: 1,
            report: None,
            interfaces: Vec::new(),
            iface_nets: Vec::new(),
            asked: None,
        }
    }
}
