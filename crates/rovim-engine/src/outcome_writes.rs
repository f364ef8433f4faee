//! What a VIM call's outcome writes to its task row and its item row: one plain function, so
//! "what does a failed create leave on the item?" has one place to read (and its tests).

use rovim_core::CreatedKind;
use rovim_core::{ItemStatus, Outcome, Owned};
use rovim_store::{ItemUpdate, TaskUpdate};

use crate::calls::ItemReport;

/// The task and item updates of `outcome`. `owned`: what rovim owns on the VIM for the element
/// after the outcome (the item keeps it, so a later DELETE cleans it); `report`: the element's
/// state as the VIM reported it right after the call.
pub fn outcome_writes(
    outcome: &Outcome,
    report: Option<&ItemReport>,
    owned: Option<&Owned>,
    attempts: u32,
    is_delete: bool,
) -> (TaskUpdate, ItemUpdate) {
    let mut task = TaskUpdate {
        attempts: Some(attempts as i32),
        ..TaskUpdate::default()
    };
    let mut item = ItemUpdate::default();
    let owned_items = || owned.map(|o| o.created_items.clone()).unwrap_or_default();
    match outcome {
        Outcome::Found { vim_id } => {
            task.vim_id = Some(Some(vim_id.clone()));
            task.created = Some(false);
            item.vim_id = Some(Some(vim_id.clone()));
            item.created = Some(false);
            item.status = Some(report.map_or(ItemStatus::Active, |r| r.status));
            item.error_msg = Some(None);
        }
        Outcome::Created(made) => {
            if let Some(sdn) = made
                .created_items
                .iter()
                .find(|c| c.kind == CreatedKind::SdnNet)
            {
                item.sdn_net_id = Some(Some(sdn.id.clone()));
            }
            task.vim_id = Some(made.vim_id.clone());
            task.created = Some(true);
            task.created_items = Some(made.created_items.clone());
            item.vim_id = Some(made.vim_id.clone());
            item.created = Some(true);
            item.created_items = Some(owned_items());
            item.status = Some(report.map_or(ItemStatus::Build, |r| r.status));
            item.error_msg = Some(report.and_then(|r| r.error_msg.clone()));
        }
        Outcome::Deleted => {
            item.status = Some(ItemStatus::Deleted);
            item.vim_id = Some(None);
            item.created = Some(false);
            item.created_items = Some(Vec::new());
            item.error_msg = Some(None);
        }
        Outcome::Failed { error, leftover } => {
            if let Some(l) = leftover {
                task.created_items = Some(l.created_items.clone());
            }
            let prefix = if is_delete { "DELETE failed: " } else { "" };
            item.status = Some(ItemStatus::VimError);
            item.error_msg = Some(Some(format!("{prefix}{error}")));
            item.created_items = Some(owned_items());
            // A failed create that left the element itself behind (BUG-11): stored as created,
            // so a DELETE, even after a restart, removes it.
            if let Some(vim_id) = leftover.as_ref().and_then(|l| l.vim_id.clone()) {
                task.vim_id = Some(Some(vim_id.clone()));
                task.created = Some(true);
                item.vim_id = Some(Some(vim_id));
                item.created = Some(true);
            }
        }
    }
    if let Some(r) = report {
        item.vim_info = Some(r.vim_info.clone());
    }
    (task, item)
}

#[cfg(test)]
mod tests {
    use rovim_core::CreatedItem;

    use super::*;

    fn sdn_made() -> Owned {
        Owned {
            vim_id: Some("net-1".into()),
            created_items: vec![CreatedItem {
                kind: CreatedKind::SdnNet,
                id: "sdn-9".into(),
            }],
        }
    }

    #[test]
    fn a_create_stores_the_vim_id_what_rovim_owns_and_the_sdn_network() {
        let made = sdn_made();
        let owned = made.clone();
        let (task, item) = outcome_writes(&Outcome::Created(made), None, Some(&owned), 2, false);
        assert_eq!(task.attempts, Some(2));
        assert_eq!((task.created, item.created), (Some(true), Some(true)));
        assert_eq!(item.vim_id, Some(Some("net-1".into())));
        assert_eq!(item.sdn_net_id, Some(Some("sdn-9".into())));
        assert_eq!(
            item.status,
            Some(ItemStatus::Build),
            "no report: BUILD until polled"
        );
        assert_eq!(item.created_items.unwrap().len(), 1);
    }

    #[test]
    fn a_failed_create_keeps_its_leftover_so_a_delete_removes_it() {
        let leftover = sdn_made();
        let failed = Outcome::Failed {
            error: "no VLAN".into(),
            leftover: Some(leftover.clone()),
        };
        let (task, item) = outcome_writes(&failed, None, Some(&leftover), 1, false);
        assert_eq!(item.status, Some(ItemStatus::VimError));
        assert_eq!(item.error_msg, Some(Some("no VLAN".into())));
        assert_eq!(
            (task.vim_id.clone(), item.created),
            (Some(Some("net-1".into())), Some(true))
        );
        assert_eq!(task.created_items.unwrap().len(), 1);
    }

    #[test]
    fn a_failed_delete_says_so_and_a_found_element_is_not_rovims() {
        let failed = Outcome::Failed {
            error: "in use".into(),
            leftover: None,
        };
        let (_, item) = outcome_writes(&failed, None, None, 1, true);
        assert_eq!(item.error_msg, Some(Some("DELETE failed: in use".into())));
        let found = Outcome::Found {
            vim_id: "net-2".into(),
        };
        let (task, item) = outcome_writes(&found, None, None, 1, false);
        assert_eq!((task.created, item.created), (Some(false), Some(false)));
        assert_eq!(item.status, Some(ItemStatus::Active));
        let (_, gone) = outcome_writes(&Outcome::Deleted, None, None, 1, true);
        assert_eq!(
            (gone.status, gone.vim_id),
            (Some(ItemStatus::Deleted), Some(None))
        );
    }
}
