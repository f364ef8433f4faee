//! What rovim created on a VIM for one element and has not deleted yet. Ownership lives on the
//! element, not on a task: whichever task created it, exactly one DELETE can take it, which is
//! what makes "at most one VIM delete, and only of what rovim created" hold by construction.

use serde::{Deserialize, Serialize};

/// A partial resource made while creating an element (a port, a volume, a subnet), recorded so a
/// failed create or a DELETE can clean it (reference 98e909c, bug 331).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CreatedItem {
    /// The connector's kind of resource, e.g. `port`, `volume`, `subnet`.
    pub kind: String,
    pub id: String,
}

/// Resources that rovim created for an element and still owns on the VIM.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Owned {
    /// The element's VIM id, when the create got that far.
    pub vim_id: Option<String>,
    /// Partial resources besides the element itself.
    #[serde(default)]
    pub created_items: Vec<CreatedItem>,
}

impl Owned {
    /// Whether there is anything to delete.
    pub fn is_empty(&self) -> bool {
        self.vim_id.is_none() && self.created_items.is_empty()
    }

    /// `Some(self)` when there is something to delete.
    pub fn non_empty(self) -> Option<Owned> {
        (!self.is_empty()).then_some(self)
    }

    /// Everything two records own together (the later VIM id wins); `None` when that is nothing.
    pub fn merge(a: Option<Owned>, b: Option<Owned>) -> Option<Owned> {
        match (a, b) {
            (None, x) | (x, None) => x.and_then(Owned::non_empty),
            (Some(mut a), Some(b)) => {
                a.vim_id = b.vim_id.or(a.vim_id);
                a.created_items.extend(b.created_items);
                a.non_empty()
            }
        }
    }
}
