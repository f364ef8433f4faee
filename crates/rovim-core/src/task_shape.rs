//! What each task of a submission may carry, by its action and item: CREATE takes params;
//! FIND takes a filter and is for nets only; ADOPT takes a filter (id or name), nets and VMs; DELETE takes neither and needs an element that
//! exists; a filter is for nets only (with a net CREATE it makes a FIND-then-CREATE).

use crate::ids::ItemId;
use crate::task::{Action, ItemKind};

/// A task's shape as submitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskShape {
    pub action: Action,
    pub item: ItemKind,
    pub item_id: ItemId,
    pub has_params: bool,
    pub has_find: bool,
    /// The element exists already (in the database, or made earlier in the same action).
    pub exists: bool,
}

/// A shape refused: the task's field at fault and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct ShapeError {
    pub field: &'static str,
    pub reason: String,
}

fn refuse(field: &'static str, reason: impl Into<String>) -> Result<(), ShapeError> {
    Err(ShapeError {
        field,
        reason: reason.into(),
    })
}

pub fn check_task_shape(t: &TaskShape) -> Result<(), ShapeError> {
    match t.action {
        Action::Delete if !t.exists => {
            return refuse("item_id", format!("no {} {} to delete", t.item, t.item_id));
        }
        Action::Delete if t.has_params || t.has_find => {
            return refuse("params", "DELETE takes neither params nor find");
        }
        Action::Find if t.item != ItemKind::Net => {
            return refuse("item", "FIND is supported for nets only");
        }
        Action::Find if t.has_params => {
            return refuse("params", "FIND takes a find filter, not params");
        }
        Action::Adopt if t.has_params => {
            return refuse(
                "params",
                "ADOPT takes a find filter (id or name), not params",
            );
        }
        Action::Adopt if !t.has_find => {
            return refuse("find", "is required for ADOPT: the element's id or name");
        }
        Action::Create if !t.has_params => {
            return refuse("params", format!("is required to CREATE a {}", t.item));
        }
        _ => {}
    }
    if t.has_find && t.item != ItemKind::Net && t.action != Action::Adopt {
        return refuse("find", "only nets can be found");
    }
    if !t.has_find && t.action == Action::Find {
        return refuse("find", "is required for FIND");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(
        action: Action,
        item: ItemKind,
        has_params: bool,
        has_find: bool,
        exists: bool,
    ) -> TaskShape {
        TaskShape {
            action,
            item,
            item_id: ItemId(uuid::Uuid::from_u128(5)),
            has_params,
            has_find,
            exists,
        }
    }

    fn field(t: TaskShape) -> Option<&'static str> {
        check_task_shape(&t).err().map(|e| e.field)
    }

    #[test]
    fn each_action_carries_what_it_needs_and_nothing_else() {
        use Action::*;
        use ItemKind::*;
        assert_eq!(field(shape(Create, Vm, true, false, false)), None);
        assert_eq!(
            field(shape(Create, Net, true, true, false)),
            None,
            "FIND-then-CREATE"
        );
        assert_eq!(
            field(shape(Create, Vm, false, false, false)),
            Some("params")
        );
        assert_eq!(
            field(shape(Create, Vm, true, true, false)),
            Some("find"),
            "only nets are found"
        );
        assert_eq!(field(shape(Find, Net, false, true, false)), None);
        assert_eq!(field(shape(Find, Net, false, false, false)), Some("find"));
        assert_eq!(field(shape(Find, Vm, false, true, false)), Some("item"));
        assert_eq!(field(shape(Find, Net, true, true, false)), Some("params"));
        assert_eq!(field(shape(Adopt, Vm, false, true, false)), None);
        assert_eq!(field(shape(Adopt, Net, false, true, false)), None);
        assert_eq!(field(shape(Adopt, Vm, false, false, false)), Some("find"));
        assert_eq!(field(shape(Adopt, Net, true, true, false)), Some("params"));
        assert_eq!(field(shape(Delete, Vm, false, false, true)), None);
        assert_eq!(
            field(shape(Delete, Vm, false, false, false)),
            Some("item_id")
        );
        assert_eq!(field(shape(Delete, Net, true, false, true)), Some("params"));
        let e = check_task_shape(&shape(Delete, Vm, false, false, false)).unwrap_err();
        assert_eq!(
            e.reason,
            "no vm 00000000-0000-0000-0000-000000000005 to delete"
        );
    }
}
