//! The planner's view of the database.

use rovim_core::{Action, ItemId, ItemKind, TaskKey, VimAccountId};
use rovim_store::{AnyConnection, StoreError, accounts, reads};

use crate::request::Lookup;

pub struct DbLookup<'a>(pub &'a mut AnyConnection);

impl Lookup for DbLookup<'_> {
    fn account(&mut self, reference: &str) -> Result<Option<VimAccountId>, StoreError> {
        if let Ok(id) = reference.parse::<VimAccountId>() {
            return match accounts::get_vim_account(self.0, id) {
                Ok(a) => Ok(Some(a.id)),
                Err(StoreError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            };
        }
        accounts::find_vim_account_by_name(self.0, reference).map(|a| a.map(|a| a.id))
    }

    fn item(&mut self, kind: ItemKind, id: ItemId) -> Result<Option<VimAccountId>, StoreError> {
        match kind {
            ItemKind::Net => reads::get_net(self.0, id).map(|n| n.map(|n| n.vim_account)),
            ItemKind::Vm => reads::get_vm(self.0, id).map(|v| v.map(|v| v.vim_account)),
        }
    }

    fn task(&mut self, key: TaskKey) -> Result<Option<(ItemKind, ItemId, Action)>, StoreError> {
        reads::get_task(self.0, key).map(|t| t.map(|t| (t.item_kind, t.item_id, t.action)))
    }
}
