//! A VimActor's start: make the connector, check that the VIM answers, load the account's
//! unfinished tasks and the state of their elements, and set up what its calls share. Plain
//! async: the actor only carries the outcome out, and a failure says how it ended.

use std::collections::HashMap;
use std::sync::Arc;

use rovim_store::{FencedWriter, VimAccount, reads};
use rovim_vim::VimError;
use tokio::sync::Semaphore;

use crate::messages::ActorExit;
use crate::rate_limit::RateLimiter;
use crate::sdn_actor::SdnLink;
use crate::shared::{Shared, item_states, read};
use crate::task_entry::{ElementKey, TaskEntry};
use crate::vim_call::CallEnv;
use crate::working_set::{ItemState, TaskEntryWithStatus};

/// A started account: what its calls share, its unfinished tasks, their elements' state.
pub struct Booted {
    pub env: CallEnv,
    pub tasks: Vec<TaskEntryWithStatus>,
    pub items: HashMap<ElementKey, ItemState>,
}

/// Why a start failed, and how the actor therefore ends.
#[derive(Debug)]
pub struct BootFailure {
    pub exit: ActorExit,
    pub reason: String,
}

impl BootFailure {
    fn new(exit: ActorExit, reason: impl Into<String>) -> BootFailure {
        BootFailure {
            exit,
            reason: reason.into(),
        }
    }
}

pub async fn boot(
    account: VimAccount,
    writer: FencedWriter,
    shared: Shared,
) -> Result<Booted, BootFailure> {
    let connector = shared
        .connectors
        .connect(&account)
        .map_err(|e| BootFailure::new(ActorExit::ConnectFailed, e.to_string()))?;
    let timeout = shared.config.call_timeout();
    match tokio::time::timeout(timeout, connector.check_connectivity()).await {
        Ok(Ok(())) => {}
        Ok(Err(e @ VimError::Auth(_))) => {
            return Err(BootFailure::new(ActorExit::AuthRefused, e.to_string()));
        }
        Ok(Err(e)) => return Err(BootFailure::new(ActorExit::VimDown, e.to_string())),
        Err(_) => {
            let waited = rovim_vim::human_duration(timeout);
            let reason = format!("the VIM did not answer within {waited}");
            return Err(BootFailure::new(ActorExit::VimDown, reason));
        }
    }
    let vim = account.id;
    let (tasks, items) = read(&shared.store, move |conn| {
        let records = reads::load_unfinished_tasks(conn, vim)?;
        let mut elements: Vec<ElementKey> =
            records.iter().map(|r| (r.item_kind, r.item_id)).collect();
        elements.sort();
        elements.dedup();
        let items = item_states(conn, &elements)?;
        let tasks = records
            .into_iter()
            .map(|r| TaskEntryWithStatus {
                status: r.status,
                entry: TaskEntry::from_record(r),
            })
            .collect::<Vec<_>>();
        Ok((tasks, items))
    })
    .await
    .map_err(|e| BootFailure::new(ActorExit::Database, e.to_string()))?;
    let env = call_env(&account, writer, &shared, connector);
    Ok(Booted { env, tasks, items })
}

fn call_env(
    account: &VimAccount,
    writer: FencedWriter,
    shared: &Shared,
    connector: Arc<dyn rovim_vim::VimConnector>,
) -> CallEnv {
    let c = &shared.config;
    CallEnv {
        connector,
        limiter: RateLimiter::new(c.rate_limit_qps),
        permits: Semaphore::new(c.max_in_flight),
        writer,
        store: shared.store.clone(),
        timeout: c.call_timeout(),
        max_attempts: c.max_attempts,
        throttle_deadline: c.throttle_deadline(),
        in_use_deadline: c.in_use_deadline(),
        retry: c
            .retry_backoff()
            .unwrap_or_else(|_| rovim_core::Backoff::actor_restart()),
        sdn: account.sdn_controller.map(|controller| SdnLink {
            actor: shared.sdn.clone(),
            controller,
            region: account.name.clone(),
        }),
        metrics: shared.metrics.clone(),
        vim_label: account.id.to_string(),
        lease: shared.keeper.clock.clone(),
    }
}
