//! Runs one [`CallOrder`] against the VIM: commits the task's BUILD first, then calls under the
//! account's in-flight bound, rate limit and timeout, retrying retryable errors with backoff, and
//! turns the answer into an [`Outcome`]. A create that is retried, or resumed after a restart,
//! first looks its idempotency token up, so it never makes a second element.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rovim_core::{
    Backoff, FindOutcome, ItemId, ItemKind, Outcome, Owned, TaskParams, VimCall, find_outcome,
};
use rovim_store::{DbWrite, DbWriter, InterfaceUpdate, Store, StoreError, reads};
use rovim_vim::{
    CreateFailure, Created, InterfaceReport, TokenMatch, VimConnector, VimError, VmRequest,
};
use tokio::sync::Semaphore;

use crate::calls::{CallOrder, CallResult, ItemReport, NetTarget};
use crate::rate_limit::RateLimiter;

/// What every call of one VimActor shares.
pub struct CallEnv {
    pub connector: Arc<dyn VimConnector>,
    pub limiter: RateLimiter,
    pub permits: Semaphore,
    pub writer: DbWriter,
    pub store: Store,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub retry: Backoff,
}

/// A step of a call that may be retried.
enum Step<T> {
    Done(T),
    Fail(VimError, Option<Owned>),
}

impl CallEnv {
    /// One VIM request under the rate limit and the timeout (the caller holds a slot).
    async fn request<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<VimError>,
        F: Future<Output = Result<T, E>>,
    {
        self.limiter.acquire().await;
        match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(E::from(VimError::Timeout(self.timeout))),
        }
    }

    async fn pause(&self, attempt: u32, error: &VimError) {
        let wait = error
            .retry_after()
            .unwrap_or_else(|| self.retry.delay(attempt, rand::rng().random()));
        tokio::time::sleep(wait).await;
    }
}

/// Why a call ended without an outcome for its task. Either way the actor stops and its next
/// incarnation resumes the task from the database (it is BUILD there, with its token).
#[derive(Debug, thiserror::Error)]
pub enum CallAbort {
    #[error("cannot write to the database: {0}")]
    Db(#[from] StoreError),
    /// The VIM stayed unreachable through every retry: that says nothing about the task.
    #[error("{0}")]
    VimDown(VimError),
}

/// Runs the order to an outcome for its task, or aborts (see [`CallAbort`]).
///
/// Each try holds one of the account's `max_in_flight` slots, from the BUILD write (first try)
/// to the answer; a retry waits without one. So at most `max_in_flight` tasks of a VIM are BUILD
/// because of this run, and a crash leaves few tokens to look up.
pub async fn run(env: Arc<CallEnv>, order: CallOrder) -> Result<CallResult, CallAbort> {
    let mut attempts = 0;
    let mut leftover: Option<Owned> = None;
    let mut recovering = order.recovering;
    let (outcome, report, interfaces) = loop {
        attempts += 1;
        let Ok(slot) = env.permits.acquire().await else {
            return Err(CallAbort::VimDown(VimError::Connection(
                "the VimActor is stopping".into(),
            )));
        };
        if attempts == 1 && !order.before.is_empty() {
            env.writer
                .write(DbWrite::Batch(order.before.clone()))
                .await?;
        }
        let step = attempt(&env, &order, recovering).await;
        drop(slot);
        match step {
            Step::Done(done) => break done,
            Step::Fail(error, left) => {
                leftover = merge(leftover, left);
                if error.is_retryable() && attempts < env.max_attempts {
                    // Whatever the failed try did, the next one must not create a twin.
                    recovering = true;
                    env.pause(attempts - 1, &error).await;
                    continue;
                }
                if matches!(error, VimError::Connection(_)) {
                    return Err(CallAbort::VimDown(error));
                }
                let error = if attempts > 1 {
                    format!("{error} (after {attempts} attempts)")
                } else {
                    error.to_string()
                };
                break (
                    Outcome::Failed {
                        error,
                        leftover: leftover.take(),
                    },
                    None,
                    Vec::new(),
                );
            }
        }
    };
    Ok(CallResult {
        key: order.key,
        element: order.element,
        outcome,
        attempts,
        report,
        interfaces,
    })
}

type Done = (Outcome, Option<ItemReport>, Vec<(ItemId, InterfaceUpdate)>);

async fn attempt(env: &CallEnv, order: &CallOrder, recovering: bool) -> Step<Done> {
    let kind = order.element.0;
    match &order.call {
        VimCall::Delete(owned) => {
            let r = match kind {
                ItemKind::Net => env.request(env.connector.delete_net(owned)).await,
                ItemKind::Vm => env.request(env.connector.delete_vm(owned)).await,
            };
            match r {
                Ok(()) | Err(VimError::NotFound(_)) => {
                    Step::Done((Outcome::Deleted, None, Vec::new()))
                }
                Err(e) => Step::Fail(e, None),
            }
        }
        VimCall::Find => match find(env, order, false).await {
            Ok(done) => Step::Done(done),
            Err(e) => Step::Fail(e, None),
        },
        VimCall::FindThenCreate => match find(env, order, true).await {
            Ok(done) => Step::Done(done),
            Err(VimError::NotFound(_)) => create(env, order, recovering).await,
            Err(e) => Step::Fail(e, None),
        },
        VimCall::Create => create(env, order, recovering).await,
    }
}

/// Looks the net up. With `then_create`, "none found" comes back as `NotFound` for the caller
/// to go on with the create.
async fn find(env: &CallEnv, order: &CallOrder, then_create: bool) -> Result<Done, VimError> {
    let filter = order.find.clone().unwrap_or_default();
    let nets = env.request(env.connector.list_nets(&filter)).await?;
    let ids: Vec<String> = nets.iter().map(|n| n.id.clone()).collect();
    match find_outcome(&filter, &ids, then_create) {
        FindOutcome::Found(vim_id) => {
            let net = nets.into_iter().find(|n| n.id == vim_id);
            let report = net.map(|n| ItemReport {
                status: n.status,
                error_msg: n.error_msg,
                vim_info: None,
            });
            Ok((Outcome::Found { vim_id }, report, Vec::new()))
        }
        FindOutcome::Create => Err(VimError::NotFound(format!("no net matches {filter}"))),
        FindOutcome::Failed(msg) => Ok((
            Outcome::Failed {
                error: msg,
                leftover: None,
            },
            None,
            Vec::new(),
        )),
    }
}

async fn create(env: &CallEnv, order: &CallOrder, recovering: bool) -> Step<Done> {
    let kind = order.element.0;
    if recovering {
        match env
            .request(env.connector.find_by_token(kind, &order.token))
            .await
        {
            Ok(Some(found)) => return Step::Done(adopted(env, order, found).await),
            Ok(None) => {}
            Err(e) => return Step::Fail(e, None),
        }
    }
    match &order.params {
        Some(TaskParams::Net(p)) => {
            match env.request(env.connector.create_net(p, &order.token)).await {
                Ok(made) => Step::Done(created_net(env, made).await),
                Err(CreateFailure { error, leftover }) => Step::Fail(error, leftover),
            }
        }
        Some(TaskParams::Vm(p)) => {
            let vim_net_ids = match resolve_nets(env, &order.nets).await {
                Ok(ids) => ids,
                Err(reason) => {
                    return Step::Done((
                        Outcome::Failed {
                            error: reason,
                            leftover: None,
                        },
                        None,
                        Vec::new(),
                    ));
                }
            };
            let request = VmRequest {
                params: p.clone(),
                vim_net_ids,
            };
            match env
                .request(env.connector.create_vm(&request, &order.token))
                .await
            {
                Ok(made) => {
                    let found = TokenMatch {
                        created: made.created,
                        interface_ids: made.interface_ids,
                    };
                    Step::Done(adopted(env, order, found).await)
                }
                Err(CreateFailure { error, leftover }) => Step::Fail(error, leftover),
            }
        }
        None => Step::Done((
            Outcome::Failed {
                error: "internal: a CREATE task without params".into(),
                leftover: None,
            },
            None,
            Vec::new(),
        )),
    }
}

async fn created_net(env: &CallEnv, made: Created) -> Done {
    let report = match env
        .request(
            env.connector
                .refresh_nets(std::slice::from_ref(&made.vim_id)),
        )
        .await
    {
        Ok(mut m) => m.remove(&made.vim_id).map(|r| ItemReport {
            status: r.status,
            error_msg: r.error_msg,
            vim_info: r.vim_info,
        }),
        Err(_) => None,
    };
    (Outcome::Created(made.owned()), report, Vec::new())
}

/// An element created now or found by its token: reads its state (and a VM's interfaces) once
/// so the orchestrator sees addresses without waiting for the first refresh.
async fn adopted(env: &CallEnv, order: &CallOrder, found: TokenMatch) -> Done {
    let owned = found.created.owned();
    let vim_id = found.created.vim_id.clone();
    match order.element.0 {
        ItemKind::Net => created_net(env, found.created).await,
        ItemKind::Vm => {
            let vm_id = order.element.1;
            let store = env.store.clone();
            let rows = tokio::task::spawn_blocking(move || {
                let mut conn = store.conn()?;
                reads::get_vm(&mut conn, vm_id)
            })
            .await;
            let iface_ids: Vec<ItemId> = match rows {
                Ok(Ok(Some(vm))) => vm.interfaces.iter().map(|i| i.id).collect(),
                _ => Vec::new(),
            };
            let reports = env
                .request(env.connector.refresh_vms(std::slice::from_ref(&vim_id)))
                .await
                .ok();
            let report = reports.as_ref().and_then(|m| m.get(&vim_id));
            let mut interfaces = Vec::new();
            for (i, row) in iface_ids.iter().enumerate() {
                let Some(port) = found.interface_ids.get(i) else {
                    continue;
                };
                let seen =
                    report.and_then(|r| r.interfaces.iter().find(|x| &x.vim_interface_id == port));
                interfaces.push((*row, interface_update(port, seen)));
            }
            let item = report.map(|r| ItemReport {
                status: r.status,
                error_msg: r.error_msg.clone(),
                vim_info: r.vim_info.clone(),
            });
            (Outcome::Created(owned), item, interfaces)
        }
    }
}

pub fn interface_update(port: &str, seen: Option<&InterfaceReport>) -> InterfaceUpdate {
    let mut u = InterfaceUpdate {
        vim_interface_id: Some(Some(port.to_owned())),
        ..InterfaceUpdate::default()
    };
    if let Some(r) = seen {
        u.vim_net_id = Some(r.vim_net_id.clone());
        u.mac_address = Some(r.mac_address.clone());
        u.ip_address = Some(r.ip_address.clone());
        u.compute_node = Some(r.compute_node.clone());
        u.pci = Some(r.pci.clone());
        u.vlan = Some(r.vlan.map(i32::from));
        u.vim_info = Some(r.vim_info.clone());
    }
    u
}

async fn resolve_nets(env: &CallEnv, targets: &[NetTarget]) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        match t {
            NetTarget::VimId(id) => out.push(id.clone()),
            NetTarget::Missing(reason) => return Err(format!("interface {i}: {reason}")),
            NetTarget::Item(id) => {
                let (store, id) = (env.store.clone(), *id);
                let net = tokio::task::spawn_blocking(move || {
                    let mut conn = store.conn()?;
                    reads::get_net(&mut conn, id)
                })
                .await
                .map_err(|e| format!("interface {i}: {e}"))?
                .map_err(|e| format!("interface {i}: {e}"))?;
                match net.and_then(|n| n.vim_id) {
                    Some(v) => out.push(v),
                    None => return Err(format!("interface {i}: net {id} has no VIM id")),
                }
            }
        }
    }
    Ok(out)
}

fn merge(a: Option<Owned>, b: Option<Owned>) -> Option<Owned> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(mut a), Some(b)) => {
            a.vim_id = b.vim_id.or(a.vim_id);
            a.created_items.extend(b.created_items);
            Some(a)
        }
    }
}

/// A refresh answer, by VIM id.
pub enum RefreshAnswer {
    Nets(HashMap<String, rovim_vim::NetReport>),
    Vms(HashMap<String, rovim_vim::VmReport>),
}

/// One refresh call for a batch of elements of one kind, under the account's slot, rate limit
/// and timeout (no retries: the next poll is the retry).
pub async fn refresh(
    env: Arc<CallEnv>,
    kind: ItemKind,
    ids: Vec<String>,
) -> Result<RefreshAnswer, VimError> {
    let Ok(_slot) = env.permits.acquire().await else {
        return Err(VimError::Connection("the VimActor is stopping".into()));
    };
    match kind {
        ItemKind::Net => env
            .request(env.connector.refresh_nets(&ids))
            .await
            .map(RefreshAnswer::Nets),
        ItemKind::Vm => env
            .request(env.connector.refresh_vms(&ids))
            .await
            .map(RefreshAnswer::Vms),
    }
}
