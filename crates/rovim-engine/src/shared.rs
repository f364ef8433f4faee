//! What every actor of one engine shares, and the one way they read the database from async
//! code (a blocking pool thread, never the actor's own).

use std::collections::HashMap;
use std::sync::Arc;

use rovim_core::{ItemId, ItemKind};
use rovim_store::{AnyConnection, DbWriter, Store, StoreError, reads};

use crate::config::EngineConfig;
use crate::connectors::Connectors;
use crate::refresh::Observed;
use crate::refresh_scheduler::RefreshScheduler;
use crate::sdn_actor::SdnActor;
use crate::task_entry::ElementKey;
use crate::working_set::ItemState;

#[derive(Clone)]
pub struct Shared {
    pub refresh: actix::Addr<RefreshScheduler>,
    pub sdn: actix::Addr<SdnActor>,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
    pub store: Store,
    pub writer: DbWriter,
    pub connectors: Arc<Connectors>,
    pub config: EngineConfig,
    pub log: slog::Logger,
    pub watch: Arc<crate::action_watch::ActionWatch>,
    /// What happens, for the event stream (`GET /v1/events`).
    pub events: Arc<crate::events::EventBus>,
    /// Where VimActors start.
    pub arbiters: Arc<crate::arbiters::ArbiterPool>,
    /// This instance's membership: its id, its leases' validity, lease rounds on demand.
    pub keeper: crate::cluster::Keeper,
}

/// Runs a read on a blocking thread with a pooled connection.
pub fn read<T, F>(
    store: &Store,
    f: F,
) -> impl Future<Output = Result<T, StoreError>> + Send + 'static
where
    T: Send + 'static,
    F: FnOnce(&mut AnyConnection) -> Result<T, StoreError> + Send + 'static,
{
    let store = store.clone();
    async move {
        tokio::task::spawn_blocking(move || {
            let mut conn = store.conn()?;
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Read(e.to_string()))?
    }
}

/// The stored state of elements (VIM id, what rovim owns there): a query per thousand
/// elements, so an actor's start with 100,000 live elements does not make 100,000 queries.
pub fn item_states(
    conn: &mut AnyConnection,
    elements: &[ElementKey],
) -> Result<HashMap<ElementKey, ItemState>, StoreError> {
    let ids = |kind| -> Vec<ItemId> {
        elements
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, id)| *id)
            .collect()
    };
    let mut out = HashMap::with_capacity(elements.len());
    for n in reads::get_nets(conn, &ids(ItemKind::Net))? {
        let state = ItemState {
            owned: n.owned(),
            observed: Some(Observed::of_net(&n)),
            vim_id: n.vim_id,
        };
        out.insert((ItemKind::Net, n.id), state);
    }
    for v in reads::get_vms(conn, &ids(ItemKind::Vm))? {
        let state = ItemState {
            owned: v.owned(),
            observed: Some(Observed::of_vm(&v)),
            vim_id: v.vim_id,
        };
        out.insert((ItemKind::Vm, v.id), state);
    }
    // What their CREATEs asked, for drift (one more query per thousand elements).
    let created: Vec<ItemId> = out
        .iter()
        .filter(|(_, s)| s.owned.as_ref().is_some_and(|o| o.vim_id.is_some()))
        .map(|((_, id), _)| *id)
        .collect();
    for (item, asked) in reads::asked_of(conn, &created)? {
        for kind in [ItemKind::Net, ItemKind::Vm] {
            if let Some(o) = out.get_mut(&(kind, item)).and_then(|s| s.observed.as_mut()) {
                o.asked = Some(asked.clone());
            }
        }
    }
    Ok(out)
}
