//! Runs one [`CallOrder`] against the VIM: commits the task's BUILD first, then calls under the
//! account's in-flight bound, rate limit and timeout, retrying retryable errors with backoff, and
//! turns the answer into an [`Outcome`]. A create that is retried, or resumed after a restart,
//! first looks its idempotency token up, so it never makes a second element.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use rovim_core::CreatedKind;
use rovim_core::{
    Backoff, CallKind, CreatedItem, FailureKind, FindOutcome, GaveUp, ItemId, ItemKind, ItemStatus,
    NetParams, NotVlan, Outcome, Owned, RetryBudget, RetryDecision, SdnVlan, TaskParams, VimCall,
    find_outcome, retry_decision,
};
use rovim_sdn::{SdnError, SdnNetRequest, sdn_net_name};
use rovim_store::{FencedWriter, InterfaceUpdate, Store, StoreError, reads};
use rovim_vim::{
    CreateFailure, Created, TokenMatch, VimConnector, VimError, VmRequest, human_duration,
};
use tokio::sync::Semaphore;

use crate::calls::{CallOrder, CallResult, ItemReport, NetTarget};
use crate::cluster::LeaseClock;
use crate::metrics::Metrics;
use crate::rate_limit::RateLimiter;
use crate::sdn_actor::{CreateNet, DeleteNetAndPorts, DeletePort, SdnLink};

/// What every call of one VimActor shares.
pub struct CallEnv {
    pub connector: Arc<dyn VimConnector>,
    pub limiter: RateLimiter,
    /// Slots of VIM calls in flight (`max_in_flight`).
    pub permits: Semaphore,
    /// Every write carries the lease the actor runs under.
    pub writer: FencedWriter,
    pub store: Store,
    pub timeout: Duration,
    /// Tries of a call that failed for other reasons than throttling.
    pub max_attempts: u32,
    /// How long a call keeps being throttled before its task fails.
    pub throttle_deadline: Duration,
    /// How long a DELETE is retried while the VIM says its element is still in use.
    pub in_use_deadline: Duration,
    pub retry: Backoff,
    /// The account's SDN controller, when it names one.
    pub sdn: Option<SdnLink>,
    pub metrics: Arc<Metrics>,
    /// The VIM account id, as a metrics label.
    pub vim_label: String,
    /// Whether the lease may still be relied on: no VIM call once it may not.
    pub lease: LeaseClock,
}

/// A step of a call that may be retried.
enum Step<T> {
    Done(T),
    Fail(VimError, Option<Owned>),
}

impl CallEnv {
    /// One VIM request under the rate limit and the timeout (the caller holds a slot), timed
    /// and counted as `call`.
    async fn request<T, E, F>(&self, call: &str, f: F) -> Result<T, E>
    where
        E: From<VimError> + ErrorClass,
        F: Future<Output = Result<T, E>>,
    {
        self.limiter.acquire().await;
        // The last moment before the request leaves (after the limiter's wait and the calls
        // before it): an instance paused past its lease must not send it, since the new owner
        // may have looked the token up already and created the element itself. The caller
        // sees the lease gone before its next try and stands down.
        if !self.lease.valid() {
            return Err(E::from(VimError::Connection(
                "the lease on the VIM account was not renewed in time".into(),
            )));
        }
        let started = tokio::time::Instant::now();
        let r = match tokio::time::timeout(self.timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(E::from(VimError::Timeout(self.timeout))),
        };
        match &r {
            Ok(_) => self.limiter.on_success(),
            Err(e) => {
                if let VimError::RateLimited { retry_after } = e.vim_error() {
                    self.limiter.on_throttled(*retry_after);
                }
            }
        }
        let class = r.as_ref().err().map(ErrorClass::class);
        self.metrics
            .observe_call(&self.vim_label, call, started.elapsed(), class);
        r
    }

    async fn pause(&self, attempt: u32) {
        let wait = self.retry.delay(attempt, rand::rng().random());
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
    /// The database holds the task as settled already: memory and database disagree, so the
    /// actor reloads rather than call the VIM for it.
    #[error("task {0} is settled in the database already; reloading")]
    Stale(rovim_core::TaskKey),
    /// The instance has not renewed its leases in time: another may run the account now.
    #[error("the lease on the VIM account was not renewed in time; standing down")]
    LeaseLost,
}

impl CallAbort {
    /// How the actor ends for it.
    pub fn exit(&self) -> crate::messages::ActorExit {
        use crate::messages::ActorExit;
        match self {
            CallAbort::VimDown(_) => ActorExit::VimDown,
            CallAbort::Db(e) => ActorExit::of_store_error(e),
            CallAbort::Stale(_) => ActorExit::Database,
            CallAbort::LeaseLost => ActorExit::LeaseLost,
        }
    }
}

/// Runs the order to an outcome for its task, or aborts (see [`CallAbort`]).
///
/// The run commits the task's BUILD first, then each try holds one of the `max_in_flight` slots
/// for the VIM call alone (a retry waits without one). Its VimActor runs at most twice
/// `max_in_flight` of these at once, so the next tasks' BUILD commits overlap the calls in
/// flight, and a crash leaves few BUILD tasks to look up by token.
pub async fn run(env: Arc<CallEnv>, order: CallOrder) -> Result<CallResult, CallAbort> {
    let stopping = || CallAbort::VimDown(VimError::Connection("the VimActor is stopping".into()));
    if !order.before.is_empty() {
        let applied = env.writer.write(order.before.clone()).await?;
        if applied.stale.contains(&order.key) {
            return Err(CallAbort::Stale(order.key));
        }
    }
    let started = tokio::time::Instant::now();
    let mut attempts: u32 = 0;
    let mut leftover: Option<Owned> = None;
    let mut recovering = order.recovering;
    let budget = RetryBudget {
        max_attempts: env.max_attempts,
        throttle_deadline: env.throttle_deadline,
        in_use_deadline: env.in_use_deadline,
    };
    let done = loop {
        attempts += 1;
        let Ok(slot) = env.permits.acquire().await else {
            return Err(stopping());
        };
        if !env.lease.valid() {
            return Err(CallAbort::LeaseLost);
        }
        let step = attempt(&env, &order, recovering).await;
        drop(slot);
        let (error, left) = match step {
            Step::Done(done) => break done,
            Step::Fail(error, left) => (error, left),
        };
        if !env.lease.valid() {
            // Whatever failed, the account may be another instance's now (and a request
            // refused for the lease is no sign of the VIM's health).
            return Err(CallAbort::LeaseLost);
        }
        leftover = Owned::merge(leftover, left);
        let failure = failure_kind(&error);
        match retry_decision(
            failure,
            call_kind(&order.call),
            attempts,
            started.elapsed(),
            &budget,
        ) {
            RetryDecision::AgainThrottled => {
                // The limiter now paces every call of the account; a throttled request was not
                // carried out, so neither a failed try nor a reason to look the token up.
                attempts -= 1;
            }
            RetryDecision::Retry { step, recover } => {
                // Whatever a failed try did, the next one must not create a twin.
                recovering |= recover;
                env.pause(step).await;
            }
            RetryDecision::VimDown => return Err(CallAbort::VimDown(error)),
            RetryDecision::Fail { look_by_token, why } => {
                if look_by_token && let Some(found) = look_by_token_once(&env, &order).await {
                    match finish(&env, &order, found).await {
                        Ok(found) => break adopted(&env, &order, found).await,
                        Err(fail) => leftover = Owned::merge(leftover, fail.leftover),
                    }
                }
                let error = match why {
                    Some(GaveUp::StillThrottled(d)) => {
                        format!(
                            "{error}; still throttled after {}, giving up",
                            human_duration(d)
                        )
                    }
                    Some(GaveUp::StillInUse(d)) => {
                        format!(
                            "{error} (still in use after {}, giving up)",
                            human_duration(d)
                        )
                    }
                    None if attempts > 1 => format!("{error} (after {attempts} attempts)"),
                    None => error.to_string(),
                };
                break Done::failed(error, leftover.take());
            }
        }
    };
    #[cfg(feature = "failpoints")]
    if matches!(done.outcome, Outcome::Created(_)) && crate::failpoints::take_after_create() {
        return Err(CallAbort::Db(StoreError::Writer(
            "failpoint: crash after the VIM create".into(),
        )));
    }
    let asked = match (&order.call, &done.outcome, &order.params) {
        (VimCall::Create | VimCall::FindThenCreate, Outcome::Created(_), Some(p)) => {
            Some(rovim_core::Asked::of(p))
        }
        _ => None,
    };
    Ok(CallResult {
        key: order.key,
        element: order.element,
        outcome: done.outcome,
        attempts,
        report: done.report,
        interfaces: done.interfaces,
        iface_nets: done.iface_nets,
        asked,
    })
}

fn failure_kind(e: &VimError) -> FailureKind {
    match e {
        VimError::RateLimited { .. } => FailureKind::Throttled,
        VimError::InUse(_) => FailureKind::InUse,
        VimError::Connection(_) => FailureKind::Unreachable,
        e if e.is_retryable() => FailureKind::Transient,
        _ => FailureKind::Permanent,
    }
}

fn call_kind(call: &VimCall) -> CallKind {
    match call {
        VimCall::Create | VimCall::FindThenCreate => CallKind::Create,
        VimCall::Delete(_) => CallKind::Delete,
        // Adopting looks its token up first at every try: a lost answer is found again.
        VimCall::Find | VimCall::Adopt => CallKind::Find,
    }
}

/// A create that timed out (or got a 5xx) may still have happened on the VIM: one look by its
/// token, so the element is adopted rather than leaked.
async fn look_by_token_once(env: &CallEnv, order: &CallOrder) -> Option<rovim_vim::TokenMatch> {
    let _slot = env.permits.acquire().await.ok()?;
    env.request(
        "find_by_token",
        env.connector.find_by_token(order.element.0, &order.token),
    )
    .await
    .ok()
    .flatten()
}

/// What a finished try yields for its task.
struct Done {
    outcome: Outcome,
    report: Option<ItemReport>,
    interfaces: Vec<(ItemId, InterfaceUpdate)>,
    /// Each VM interface row's rovim net (to find its SDN network).
    iface_nets: Vec<(ItemId, Option<ItemId>)>,
}

impl Done {
    fn of(outcome: Outcome) -> Done {
        Done {
            outcome,
            report: None,
            interfaces: Vec::new(),
            iface_nets: Vec::new(),
        }
    }

    fn failed(error: String, leftover: Option<Owned>) -> Done {
        Done::of(Outcome::Failed { error, leftover })
    }
}

async fn attempt(env: &CallEnv, order: &CallOrder, recovering: bool) -> Step<Done> {
    let kind = order.element.0;
    match &order.call {
        VimCall::Delete(owned) => {
            // SDN first: a net's ports and SDN network, a VM's external ports.
            let mut cleared = Vec::new();
            match kind {
                ItemKind::Net => {
                    if let Err(e) = delete_sdn_net(env, owned).await {
                        return Step::Fail(e, None);
                    }
                }
                ItemKind::Vm => cleared = delete_sdn_ports(env, order.element.1).await,
            }
            let r = match kind {
                ItemKind::Net => {
                    env.request("delete_net", env.connector.delete_net(owned))
                        .await
                }
                ItemKind::Vm => {
                    env.request("delete_vm", env.connector.delete_vm(owned))
                        .await
                }
            };
            match r {
                Ok(()) | Err(VimError::NotFound(_)) => Step::Done(Done {
                    interfaces: cleared,
                    ..Done::of(Outcome::Deleted)
                }),
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
        VimCall::Adopt => adopt(env, order).await,
    }
}

/// Takes an existing element over: found by the task's token when an earlier try tagged it
/// already, else tagged now by the connector.
async fn adopt(env: &CallEnv, order: &CallOrder) -> Step<Done> {
    let kind = order.element.0;
    let known = env
        .request(
            "find_by_token",
            env.connector.find_by_token(kind, &order.token),
        )
        .await;
    let found = match known {
        Ok(Some(found)) => Ok(found),
        Ok(None) => {
            let filter = order.find.clone().unwrap_or_default();
            env.request("adopt", env.connector.adopt(kind, &filter, &order.token))
                .await
        }
        Err(e) => Err(e),
    };
    match found {
        Ok(found) => Step::Done(adopted(env, order, found).await),
        // Nothing or several match: the filter is wrong, trying again will not help.
        Err(VimError::NotFound(m) | VimError::Conflict(m)) => Step::Done(Done::failed(m, None)),
        Err(e) => Step::Fail(e, None),
    }
}

/// Looks the net up. With `then_create`, "none found" comes back as `NotFound` for the caller
/// to go on with the create.
async fn find(env: &CallEnv, order: &CallOrder, then_create: bool) -> Result<Done, VimError> {
    let filter = order.find.clone().unwrap_or_default();
    let nets = env
        .request("list_nets", env.connector.list_nets(&filter))
        .await?;
    let ids: Vec<String> = nets.iter().map(|n| n.id.clone()).collect();
    match find_outcome(&filter, &ids, then_create) {
        FindOutcome::Found(vim_id) => {
            let net = nets.into_iter().find(|n| n.id == vim_id);
            let report = net.map(|n| ItemReport {
                status: n.status,
                error_msg: n.error_msg,
                vim_info: None,
            });
            Ok(Done {
                report,
                ..Done::of(Outcome::Found { vim_id })
            })
        }
        FindOutcome::Create => Err(VimError::NotFound(format!("no net matches {filter}"))),
        FindOutcome::Failed(msg) => Ok(Done::failed(msg, None)),
    }
}

async fn create(env: &CallEnv, order: &CallOrder, recovering: bool) -> Step<Done> {
    let kind = order.element.0;
    if recovering {
        match env
            .request(
                "find_by_token",
                env.connector.find_by_token(kind, &order.token),
            )
            .await
        {
            Ok(Some(found)) => {
                return match finish(env, order, found).await {
                    Ok(found) => Step::Done(adopted(env, order, found).await),
                    Err(fail) => Step::Fail(fail.error, fail.leftover),
                };
            }
            Ok(None) => {}
            Err(e) => return Step::Fail(e, None),
        }
    }
    match &order.params {
        Some(TaskParams::Net(p)) => {
            match env
                .request("create_net", env.connector.create_net(p, &order.token))
                .await
            {
                Ok(made) => Step::Done(created_net(env, order, made).await),
                Err(CreateFailure { error, leftover }) => Step::Fail(error, leftover),
            }
        }
        Some(TaskParams::Vm(p)) => {
            let vim_net_ids = match resolve_nets(env, &order.nets).await {
                Ok(ids) => ids,
                Err(unresolved) => return Step::Done(Done::failed(unresolved.to_string(), None)),
            };
            let request = VmRequest {
                params: p.clone(),
                vim_net_ids,
            };
            match env
                .request("create_vm", env.connector.create_vm(&request, &order.token))
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
        None => Step::Done(Done::failed(
            "internal: a CREATE task without params".into(),
            None,
        )),
    }
}

/// Completes a net found by its token (a create whose answer was lost may have stopped half
/// way on the VIM: see [`VimConnector::finish_net`]).
async fn finish(
    env: &CallEnv,
    order: &CallOrder,
    found: TokenMatch,
) -> Result<TokenMatch, CreateFailure> {
    let Some(TaskParams::Net(p)) = &order.params else {
        return Ok(found);
    };
    let created = env
        .request(
            "finish_net",
            env.connector.finish_net(p, &order.token, found.created),
        )
        .await?;
    Ok(TokenMatch {
        created,
        interface_ids: found.interface_ids,
    })
}

/// A net just created (or adopted): its SDN network when it needs one, then its status.
async fn created_net(env: &CallEnv, order: &CallOrder, mut made: Created) -> Done {
    let mut sdn_error = None;
    if let Some(TaskParams::Net(p)) = &order.params {
        match sdn_assist(env, p, &order.token, &mut made).await {
            Ok(e) => sdn_error = e,
            // The VIM net exists: keep it as leftover so the DELETE removes it (BUG-11).
            Err(not_vlan) => return Done::failed(not_vlan.to_string(), Some(made.owned())),
        }
    }
    // No status read here: the net's first poll joins the RefreshScheduler's next batch.
    let report = sdn_error.map(|msg| ItemReport {
        status: ItemStatus::SdnError,
        error_msg: Some(msg),
        vim_info: None,
    });
    Done {
        report,
        ..Done::of(Outcome::Created(made.owned()))
    }
}

/// Creates the SDN network of a data/ptp net on an account with an SDN controller, with the VIM
/// net's VLAN ([`rovim_core::sdn_vlan`]). `Err` fails the task (the VIM net is not
/// VLAN-encapsulated); `Ok(Some)` is an SDN problem shown on the net while the task succeeds
/// (the VIM net is there and usable).
async fn sdn_assist(
    env: &CallEnv,
    p: &NetParams,
    token: &str,
    made: &mut Created,
) -> Result<Option<String>, NotVlan> {
    let Some(link) = &env.sdn else {
        return Ok(None);
    };
    if !p.net_type.is_dataplane()
        || made
            .created_items
            .iter()
            .any(|c| c.kind == CreatedKind::SdnNet)
    {
        return Ok(None);
    }
    let net = match env
        .request("get_net", env.connector.get_net(&made.vim_id))
        .await
    {
        Ok(n) => n,
        Err(e) => {
            return Ok(Some(format!(
                "SDN network not created: cannot read the VIM net: {e}"
            )));
        }
    };
    let encapsulation = net.encapsulation.as_deref();
    let vlan = match rovim_core::sdn_vlan(&p.name, p.net_type, encapsulation, net.segmentation_id) {
        Ok(SdnVlan::Wire(vlan)) => vlan,
        Ok(SdnVlan::NoVlanId) => {
            return Ok(Some(
                "SDN network not created: the VIM net has no VLAN".into(),
            ));
        }
        Err(not_vlan) => return Err(not_vlan),
    };
    let request = SdnNetRequest {
        name: sdn_net_name(&p.name, token),
        net_type: p.net_type,
        vlan,
        region: link.region.clone(),
    };
    match link.call(CreateNet(request)).await {
        Ok(id) => {
            made.created_items.push(CreatedItem {
                kind: CreatedKind::SdnNet,
                id,
            });
            Ok(None)
        }
        Err(e) => Ok(Some(format!("SDN network not created: {e}"))),
    }
}

fn sdn_to_vim(e: SdnError) -> VimError {
    if e.is_retryable() {
        VimError::UnexpectedResponse(format!("SDN controller: {e}"))
    } else {
        VimError::Conflict(format!("SDN controller: {e}"))
    }
}

/// Deletes a net's SDN ports and network before the VIM net.
async fn delete_sdn_net(env: &CallEnv, owned: &Owned) -> Result<(), VimError> {
    for item in owned
        .created_items
        .iter()
        .filter(|c| c.kind == CreatedKind::SdnNet)
    {
        let Some(link) = &env.sdn else {
            return Err(VimError::Conflict(format!(
                "SDN network {} cannot be deleted: the VIM account names no SDN controller any more",
                item.id
            )));
        };
        link.call(DeleteNetAndPorts(item.id.clone()))
            .await
            .map_err(sdn_to_vim)?;
    }
    Ok(())
}

/// Deletes a VM's external ports (failures are left for the net's deletion, which removes every
/// port of its SDN network); returns the interface rows to clear.
async fn delete_sdn_ports(env: &CallEnv, vm: ItemId) -> Vec<(ItemId, InterfaceUpdate)> {
    let Some(link) = &env.sdn else {
        return Vec::new();
    };
    let store = env.store.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let mut conn = store.conn()?;
        reads::get_vm(&mut conn, vm)
    })
    .await;
    let Ok(Ok(Some(vm))) = rows else {
        return Vec::new();
    };
    let mut cleared = Vec::new();
    for iface in vm.interfaces {
        let Some(port) = iface.sdn_port_id else {
            continue;
        };
        if link.call(DeletePort(port)).await.is_ok() {
            cleared.push((
                iface.id,
                InterfaceUpdate {
                    sdn_port_id: Some(None),
                    ..InterfaceUpdate::default()
                },
            ));
        }
    }
    cleared
}

/// An element created now or found by its token: a net gets its SDN network if it needs one; a
/// VM's interface rows are paired with its VIM ports. Their state comes with the first poll.
async fn adopted(env: &CallEnv, order: &CallOrder, found: TokenMatch) -> Done {
    let owned = found.created.owned();
    match order.element.0 {
        ItemKind::Net => created_net(env, order, found.created).await,
        ItemKind::Vm => {
            let iface_nets = match &order.interfaces {
                Some(rows) => rows.clone(),
                None => interface_rows(env, order.element.1).await,
            };
            // No status read here: the VM's first poll (addresses, host, PCI) joins the
            // RefreshScheduler's next batch; the ports are paired with their rows now.
            let interfaces = iface_nets
                .iter()
                .zip(&found.interface_ids)
                .map(|((row, _), port)| (*row, port_of(port)))
                .collect();
            Done {
                outcome: Outcome::Created(owned),
                report: None,
                interfaces,
                iface_nets,
            }
        }
    }
}

/// A VM's interface rows and their rovim nets, read from the database.
async fn interface_rows(env: &CallEnv, vm: ItemId) -> Vec<(ItemId, Option<ItemId>)> {
    let store = env.store.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let mut conn = store.conn()?;
        reads::get_vm(&mut conn, vm)
    })
    .await;
    match rows {
        Ok(Ok(Some(vm))) => vm.interfaces.iter().map(|i| (i.id, i.net)).collect(),
        _ => Vec::new(),
    }
}

/// The row change of a VM interface paired with its VIM port at the create; its addresses,
/// host and PCI come with the VM's first poll.
fn port_of(port: &str) -> InterfaceUpdate {
    InterfaceUpdate {
        vim_interface_id: Some(Some(port.to_owned())),
        ..InterfaceUpdate::default()
    }
}

/// Why a VM's interface has no VIM net to go on: the VM's task fails with it.
#[derive(Debug, thiserror::Error)]
enum NetUnresolved {
    #[error("interface {0}: {1}")]
    Missing(usize, String),
    #[error("interface {0}: {1}")]
    Read(usize, StoreError),
    #[error("interface {0}: the read of its net failed: {1}")]
    ReadFailed(usize, tokio::task::JoinError),
    #[error("interface {0}: net {1} has no VIM id")]
    NoVimId(usize, ItemId),
}

/// The VIM net id of each VM interface, in order.
async fn resolve_nets(env: &CallEnv, targets: &[NetTarget]) -> Result<Vec<String>, NetUnresolved> {
    let mut out = Vec::with_capacity(targets.len());
    for (i, t) in targets.iter().enumerate() {
        match t {
            NetTarget::VimId(id) => out.push(id.clone()),
            NetTarget::Missing(reason) => return Err(NetUnresolved::Missing(i, reason.clone())),
            NetTarget::Item(id) => {
                let (store, id) = (env.store.clone(), *id);
                let net = tokio::task::spawn_blocking(move || {
                    let mut conn = store.conn()?;
                    reads::get_net(&mut conn, id)
                })
                .await
                .map_err(|e| NetUnresolved::ReadFailed(i, e))?
                .map_err(|e| NetUnresolved::Read(i, e))?;
                match net.and_then(|n| n.vim_id) {
                    Some(v) => out.push(v),
                    None => return Err(NetUnresolved::NoVimId(i, id)),
                }
            }
        }
    }
    Ok(out)
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
            .request("refresh_nets", env.connector.refresh_nets(&ids))
            .await
            .map(RefreshAnswer::Nets),
        ItemKind::Vm => env
            .request("refresh_vms", env.connector.refresh_vms(&ids))
            .await
            .map(RefreshAnswer::Vms),
    }
}

/// The metrics class of an error a VIM request may end with, and the VIM error inside it.
pub trait ErrorClass {
    fn class(&self) -> &'static str;
    fn vim_error(&self) -> &VimError;
}

impl ErrorClass for VimError {
    fn class(&self) -> &'static str {
        VimError::class(self)
    }
    fn vim_error(&self) -> &VimError {
        self
    }
}

impl ErrorClass for CreateFailure {
    fn class(&self) -> &'static str {
        self.error.class()
    }
    fn vim_error(&self) -> &VimError {
        &self.error
    }
}
