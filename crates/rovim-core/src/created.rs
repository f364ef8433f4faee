//! What rovim created on a VIM for one element and has not deleted yet. Ownership lives on the
//! element, not on a task: whichever task created it, exactly one DELETE can take it, which is
//! what makes "at most one VIM delete, and only of what rovim created" hold by construction.

use serde::{Deserialize, Serialize};

/// A partial resource made while creating an element (a port, a volume, a subnet), recorded so a
/// failed create or a DELETE can clean it (reference 98e909c, bug 331).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CreatedItem {
    pub kind: CreatedKind,
    pub id: String,
}

/// The kind of a partial resource. Stored by its name; a name this rovim does not know (written
/// by a newer one) is kept as it is, so it is still deleted by the connector that knows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum CreatedKind {
    /// An OpenStack subnet made with its network.
    Subnet,
    /// A port (OpenStack, the sim) made for a VM's interface.
    Port,
    /// The SDN network rovim wired for a data/ptp net.
    SdnNet,
    Other(String),
}

impl CreatedKind {
    pub fn as_str(&self) -> &str {
        match self {
            CreatedKind::Subnet => "subnet",
            CreatedKind::Port => "port",
            CreatedKind::SdnNet => "sdn_net",
            CreatedKind::Other(name) => name,
        }
    }
}

impl From<String> for CreatedKind {
    fn from(name: String) -> Self {
        match name.as_str() {
            "subnet" => CreatedKind::Subnet,
            "port" => CreatedKind::Port,
            "sdn_net" => CreatedKind::SdnNet,
            _ => CreatedKind::Other(name),
        }
    }
}

impl From<CreatedKind> for String {
    fn from(kind: CreatedKind) -> Self {
        kind.as_str().to_owned()
    }
}

impl std::fmt::Display for CreatedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_stored_by_name_and_unknown_ones_kept() {
        for (kind, name) in [
            (CreatedKind::Subnet, "subnet"),
            (CreatedKind::Port, "port"),
            (CreatedKind::SdnNet, "sdn_net"),
        ] {
            let item = CreatedItem {
                kind: kind.clone(),
                id: "x".into(),
            };
            let json = serde_json::to_string(&item).unwrap();
            assert_eq!(json, format!(r#"{{"kind":"{name}","id":"x"}}"#));
            assert_eq!(
                serde_json::from_str::<CreatedItem>(&json).unwrap().kind,
                kind
            );
        }
        let newer: CreatedItem = serde_json::from_str(r#"{"kind":"volume","id":"v"}"#).unwrap();
        assert_eq!(newer.kind, CreatedKind::Other("volume".into()));
        assert_eq!(
            serde_json::to_string(&newer).unwrap(),
            r#"{"kind":"volume","id":"v"}"#
        );
    }
}
