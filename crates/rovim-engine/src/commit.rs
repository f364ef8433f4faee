//! Commits a working set's batch, then counts and tells only the settlements this commit made:
//! one the database already held (a duplicate in memory) changed nothing there, so it is
//! neither counted in the metrics nor sent to watchers.

use std::collections::HashSet;
use std::sync::Arc;

use actix::Recipient;
use rovim_core::{TaskKey, VimAccountId};
use rovim_store::{FencedWriter, StoreError, WriteBatch};

use crate::action_watch::ActionWatch;
use crate::events::{Event, EventBus, item_changes};
use crate::messages::Settled;
use crate::metrics::Metrics;
use crate::task_entry::TaskSnapshot;

/// Where committed settlements go.
#[derive(Clone)]
pub struct SettledSink {
    /// Every write carries the lease the actor runs under.
    pub writer: FencedWriter,
    pub report: Recipient<Settled>,
    pub metrics: Arc<Metrics>,
    pub log: slog::Logger,
    pub watch: Arc<ActionWatch>,
    pub events: Arc<EventBus>,
    pub vim: VimAccountId,
}

pub async fn commit(
    sink: SettledSink,
    batch: WriteBatch,
    settled: Vec<TaskSnapshot>,
) -> Result<(), StoreError> {
    let changes = item_changes(sink.vim, &batch);
    let applied = sink.writer.write(batch).await?;
    for change in changes {
        sink.events.publish(change);
    }
    let committed: HashSet<TaskKey> = applied.settled.iter().map(|(k, _)| *k).collect();
    let settled: Vec<_> = settled
        .into_iter()
        .filter(|s| committed.contains(&s.key))
        .collect();
    for snap in &settled {
        slog::debug!(sink.log, "task settled"; "action" => snap.key.action.to_string(),
            "task" => snap.key.to_string(), "status" => snap.status.as_str());
        sink.metrics
            .tasks
            .with_label_values(&[snap.action.as_str(), snap.status.as_str()])
            .inc();
    }
    // Only once committed: a watcher that reads the database after registering either sees the
    // new state or gets this message.
    for snap in &settled {
        sink.events.publish(Event::TaskSettled {
            action: snap.key.action,
            task: snap.key.index,
            item: snap.item,
            item_id: snap.item_id,
            vim_account: sink.vim,
            status: snap.status,
            error: snap.error.clone(),
        });
    }
    if !settled.is_empty() {
        sink.watch.settled(settled.iter().map(|s| s.key.action));
        sink.report.do_send(Settled(settled));
    }
    Ok(())
}
