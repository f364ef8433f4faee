//! The Engine: the public, typed API of rovim's core, used by the HTTP API and by in-process
//! orchestrators. It owns the DbActor and the Supervisor; call it from inside an actix `System`.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use rovim_core::{ActionId, ItemId, ItemKind, SdnControllerId, VimAccountId};
use rovim_sdn::SdnError;
use rovim_store::{
    DbWrite, DbWriter, NewSdnController, NewVimAccount, SdnController, SecretOwner, Store,
    StoreError, VimAccount, VimAccountChanges, accounts, reads, reconcile,
};

use crate::arbiters::ArbiterPool;
use crate::cluster::{self, KeeperReports};
use crate::config::EngineConfig;
use crate::connectors::Connectors;
use crate::db_lookup::DbLookup;
use crate::error::EngineError;
use crate::messages::*;
use crate::metrics::Metrics;
use crate::refresh_scheduler::{RefreshScheduler, TrackedCount};
use crate::request::{ActionRequest, FieldError, PlanError, plan};
use crate::sdn_actor::{AddController, SdnActor};
use crate::shared::{Shared, read};
use crate::supervisor::Supervisor;

/// What an accepted submission was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    pub action: ActionId,
    /// `(index, item kind, item id)` of every task.
    pub tasks: Vec<(u32, ItemKind, ItemId)>,
}

#[derive(Clone)]
pub struct Engine {
    supervisor: Addr<Supervisor>,
    shared: Shared,
    /// Dropped with the last handle.
    _last: Arc<LastHandle>,
}

/// Stops the engine's arbiter threads when the last [`Engine`] handle goes (a planned stop or
/// not). The actors on those threads hold the engine's [`Shared`], and so its arbiter pool:
/// the pool's own drop never comes while they run, and they ran, idle, until the process
/// ended (after every test Harness restart, in an embedding program).
struct LastHandle(Arc<ArbiterPool>);

impl Drop for LastHandle {
    fn drop(&mut self) {
        self.0.stop();
    }
}

impl Engine {
    /// Starts the DbActor, the Supervisor and a VimActor per stored account.
    pub async fn start(
        store: Store,
        config: EngineConfig,
        connectors: Arc<Connectors>,
        log: slog::Logger,
    ) -> Result<Engine, EngineError> {
        config.validate()?;
        // The instance id first: the writer's commits name it in what they announce.
        let instance = cluster::instance_id();
        let store = store.with_instance(&instance);
        let writer = DbWriter::start(store.clone(), config.db_max_in_flight, log.clone());
        connectors.set_installation(&read(&store, reconcile::installation_id).await?);
        // Sealed passwords are opened here, once: a database the key cannot open refuses to
        // start instead of failing as a wrong password on every VIM.
        let accounts = read(&store, accounts::list_vim_accounts)
            .await?
            .into_iter()
            .map(|a| opened_account(&store, a))
            .collect::<Result<Vec<_>, _>>()?;
        let controllers = read(&store, accounts::list_sdn_controllers)
            .await?
            .into_iter()
            .map(|c| opened_controller(&store, c))
            .collect::<Result<Vec<_>, _>>()?;
        let mut sdn_connectors = HashMap::new();
        for c in &controllers {
            match connectors.connect_sdn(c) {
                Ok(conn) => {
                    sdn_connectors.insert(c.id, conn);
                }
                Err(e) => {
                    slog::warn!(log, "SDN controller unusable"; "sdn" => c.id.to_string(), "error" => e.to_string())
                }
            }
        }
        let sdn = SdnActor::new(sdn_connectors).start();
        let metrics = Arc::new(Metrics::new());
        let joined = {
            let (store, cluster, metrics, log) = (
                store.clone(),
                config.cluster.clone(),
                metrics.clone(),
                log.clone(),
            );
            tokio::task::spawn_blocking(move || {
                cluster::join(&store, instance, &cluster, metrics, &log)
            })
            .await
            .map_err(|e| StoreError::Read(e.to_string()))??
        };
        let refresh = RefreshScheduler::new(metrics.clone()).start();
        let arbiters = Arc::new(ArbiterPool::new(config.arbiters));
        let shared = Shared {
            refresh,
            sdn,
            metrics,
            store,
            writer,
            connectors,
            config,
            log,
            watch: Arc::default(),
            events: Arc::default(),
            arbiters,
            keeper: joined.keeper.clone(),
        };
        let supervisor = Supervisor::new(shared.clone(), accounts, &joined.first.held).start();
        joined.run(KeeperReports {
            events: shared.events.clone(),
            round: supervisor.clone().recipient(),
            work: supervisor.clone().recipient(),
            settled: supervisor.clone().recipient(),
            account: supervisor.clone().recipient(),
            relistened: supervisor.clone().recipient(),
        });
        crate::sweep::start_scheduled(shared.clone(), supervisor.downgrade());
        Ok(Engine {
            supervisor,
            _last: Arc::new(LastHandle(shared.arbiters.clone())),
            shared,
        })
    }

    /// The engine's logger (the API logs requests and audit records under it).
    pub fn log(&self) -> &slog::Logger {
        &self.shared.log
    }

    pub fn store(&self) -> &Store {
        &self.shared.store
    }

    pub fn writer(&self) -> &DbWriter {
        &self.shared.writer
    }

    /// The Prometheus text exposition of the engine's metrics.
    pub fn render_metrics(&self) -> String {
        self.shared.metrics.render(self.shared.writer.stats())
    }

    pub fn connectors(&self) -> &Arc<Connectors> {
        &self.shared.connectors
    }

    /// A receiver that changes whenever a commit settles tasks of `action`: a long-poll waits
    /// on it, then reads the action again.
    /// The engine's events from now on, after those kept since `after` (see [`EventBus`]).
    ///
    /// [`EventBus`]: crate::events::EventBus
    pub fn subscribe_events(&self, after: Option<u64>) -> crate::events::Subscription {
        self.shared.events.subscribe(after)
    }

    pub fn watch_action(&self, action: ActionId) -> tokio::sync::watch::Receiver<()> {
        self.shared.watch.subscribe(action)
    }

    /// Checks the action, stores it with its tasks and item rows in one transaction, and hands
    /// the tasks to their VimActors. Refused input stores nothing.
    pub async fn submit(&self, request: ActionRequest) -> Result<Submitted, EngineError> {
        let started = std::time::Instant::now();
        let planned = read(&self.shared.store, move |conn| {
            Ok(plan(&request, &mut DbLookup(conn)))
        })
        .await??;
        let submitted = Submitted {
            action: planned.action.id,
            tasks: planned.items(),
        };
        let planned_in = started.elapsed();
        self.supervisor.send(Submit(planned.action)).await??;
        slog::info!(self.shared.log, "action accepted";
            "action" => submitted.action.to_string(), "tasks" => submitted.tasks.len(),
            "plan_ms" => planned_in.as_secs_f64() * 1e3,
            "store_ms" => (started.elapsed() - planned_in).as_secs_f64() * 1e3);
        Ok(submitted)
    }

    /// Registers a VIM account and starts its actor.
    pub async fn add_account(&self, new: NewVimAccount) -> Result<VimAccount, EngineError> {
        rovim_core::check_name(&new.name).map_err(|reason| rejected("name", reason))?;
        rovim_core::check_vim_url(
            new.vim_type,
            &new.url,
            self.shared.config.allow_link_local_urls,
        )
        .map_err(|reason| rejected("url", reason))?;
        crate::connectors::check_settings(new.vim_type, &new.config)
            .map_err(|reason| rejected("config", reason))?;
        let (id, name) = (new.id, new.name.clone());
        let owner = SecretOwner::VimAccount(id);
        let mut new = new;
        new.secret = new.secret.map(|s| self.shared.store.seal_secret(owner, s));
        self.shared
            .writer
            .write(DbWrite::InsertVimAccount(new))
            .await
            .map_err(|e| conflict(e, || format!("a VIM account named '{name}' exists")))?;
        let account = stored_account(&self.shared.store, id).await?;
        self.supervisor.send(AddAccount(account.clone())).await?;
        Ok(account)
    }

    /// Registers an SDN controller; VIM accounts name it to get SDN networks and ports.
    pub async fn add_sdn_controller(
        &self,
        new: NewSdnController,
    ) -> Result<SdnController, EngineError> {
        rovim_core::check_name(&new.name).map_err(|reason| rejected("name", reason))?;
        rovim_core::check_sdn_url(
            &new.sdn_type,
            &new.url,
            self.shared.config.allow_link_local_urls,
        )
        .map_err(|reason| rejected("url", reason))?;
        // Connected before it is stored, so a refused config stores nothing.
        let connector = self
            .shared
            .connectors
            .connect_sdn(&SdnController::unsaved(&new))
            .map_err(|e| match e {
                SdnError::BadRequest(reason) => rejected("config", reason),
                other => rejected("type", other.to_string()),
            })?;
        let (id, name) = (new.id, new.name.clone());
        let owner = SecretOwner::SdnController(id);
        let mut new = new;
        new.secret = new.secret.map(|s| self.shared.store.seal_secret(owner, s));
        self.shared
            .writer
            .write(DbWrite::InsertSdnController(new))
            .await
            .map_err(|e| conflict(e, || format!("an SDN controller named '{name}' exists")))?;
        let controllers = read(&self.shared.store, accounts::list_sdn_controllers).await?;
        let controller = controllers
            .into_iter()
            .find(|c| c.id == id)
            .ok_or_else(|| EngineError::NotFound {
                what: "SDN controller",
                id: id.to_string(),
            })?;
        self.shared.sdn.send(AddController(id, connector)).await?;
        Ok(controller)
    }

    /// Re-reads an edited account and restarts its actor with the new settings.
    pub async fn reload_account(&self, id: VimAccountId) -> Result<(), EngineError> {
        let account = stored_account(&self.shared.store, id).await?;
        self.shared
            .connectors
            .reconfigure(&account)
            .map_err(|e| rejected("config", e.to_string()))?;
        self.supervisor.send(ReloadAccount(account)).await?;
        Ok(())
    }

    /// Edits an account and restarts its actor with the new settings.
    pub async fn update_account(
        &self,
        id: VimAccountId,
        changes: VimAccountChanges,
    ) -> Result<VimAccount, EngineError> {
        let current = read(&self.shared.store, move |c| {
            accounts::get_vim_account(c, id)
        })
        .await?;
        if let Some(name) = &changes.name {
            rovim_core::check_name(name).map_err(|reason| rejected("name", reason))?;
        }
        if let Some(url) = &changes.url {
            rovim_core::check_vim_url(
                current.vim_type,
                url,
                self.shared.config.allow_link_local_urls,
            )
            .map_err(|reason| rejected("url", reason))?;
        }
        if let Some(config) = &changes.config {
            // Every type checked as at creation, not only the sim's.
            crate::connectors::check_settings(current.vim_type, config)
                .map_err(|reason| rejected("config", reason))?;
        }
        let mut changes = changes;
        let owner = SecretOwner::VimAccount(id);
        changes.secret = changes
            .secret
            .map(|s| s.map(|s| self.shared.store.seal_secret(owner, s)));
        self.shared
            .writer
            .write(DbWrite::UpdateVimAccount(id, changes))
            .await
            .map_err(|e| conflict(e, || "another VIM account has that name".to_string()))?;
        self.reload_account(id).await?;
        Ok(read(&self.shared.store, move |c| {
            accounts::get_vim_account(c, id)
        })
        .await?)
    }

    /// Stops the account's actor and deletes it with its tasks and item rows. Refused while it
    /// has live elements on its VIM, unless `force` (rovim then forgets them; they stay on the VIM).
    pub async fn delete_account(&self, id: VimAccountId, force: bool) -> Result<(), EngineError> {
        read(&self.shared.store, move |c| {
            accounts::get_vim_account(c, id)
        })
        .await?;
        self.detach_account(id, force).await?;
        self.shared
            .writer
            .write(DbWrite::DeleteVimAccount(id))
            .await?;
        Ok(())
    }

    /// Deletes an SDN controller; refused while a VIM account names it.
    pub async fn delete_sdn_controller(&self, id: SdnControllerId) -> Result<(), EngineError> {
        self.shared
            .writer
            .write(DbWrite::DeleteSdnController(id))
            .await
            .map_err(|e| match e {
                rovim_store::StoreError::Conflict(m) => EngineError::Conflict(m),
                other => other.into(),
            })?;
        Ok(())
    }

    /// Stops the account's actor. Refused while the account still has live elements on its VIM,
    /// unless `force`.
    pub async fn detach_account(&self, id: VimAccountId, force: bool) -> Result<(), EngineError> {
        let live = read(&self.shared.store, move |c| reads::count_live_items(c, id)).await?;
        if live > 0 && !force {
            return Err(EngineError::Conflict(format!(
                "VIM account {id} still has {live} live element(s); delete them first or force"
            )));
        }
        self.supervisor.send(RemoveAccount(id)).await?;
        Ok(())
    }

    /// Live elements the RefreshScheduler polls.
    pub async fn tracked_elements(&self) -> Result<usize, EngineError> {
        Ok(self.shared.refresh.send(TrackedCount).await?)
    }

    pub async fn account_states(&self) -> Result<Vec<AccountState>, EngineError> {
        Ok(self.supervisor.send(GetAccountStates).await?)
    }

    /// Stops every actor, waits until the DbActor has committed what was queued, then hands
    /// this instance's leases back (other instances take its accounts at once).
    pub async fn shutdown(&self) -> Result<(), EngineError> {
        self.supervisor.send(Shutdown).await?;
        self.shared.writer.ping().await?;
        self.shared.keeper.leave().await;
        Ok(())
    }

    /// Whether this instance is a member in good standing: its leases were renewed within
    /// their lease time (always, on SQLite). Readiness follows it: an instance cut off from
    /// the database takes no traffic.
    pub fn is_member(&self) -> bool {
        self.shared.keeper.clock.valid()
    }

    /// The orphans of account `id`: elements on its VIM tagged by this installation that no
    /// live item owns, older than `sweep.grace_secs`.
    pub async fn orphans(&self, id: VimAccountId) -> Result<Vec<crate::Orphan>, EngineError> {
        crate::sweep::account_orphans(&self.shared, id).await
    }

    /// Deletes the orphans of account `id` (only lists them when `dry_run`).
    pub async fn sweep_orphans(
        &self,
        id: VimAccountId,
        dry_run: bool,
    ) -> Result<crate::SweepReport, EngineError> {
        crate::sweep::sweep_account(&self.shared, id, dry_run).await
    }

    /// This instance's id among the instances sharing the database.
    pub fn instance_id(&self) -> &str {
        &self.shared.keeper.id
    }
}

/// The stored account `id`, its password opened.
pub(crate) async fn stored_account(
    store: &Store,
    id: VimAccountId,
) -> Result<VimAccount, EngineError> {
    let account = read(store, move |c| accounts::get_vim_account(c, id)).await?;
    opened_account(store, account)
}

/// The account with its password opened (it is sealed in the database when a key is given).
pub(crate) fn opened_account(
    store: &Store,
    mut account: VimAccount,
) -> Result<VimAccount, EngineError> {
    if let Some(secret) = &account.secret {
        let owner = SecretOwner::VimAccount(account.id);
        account.secret = Some(store.open_secret(owner, secret)?);
    }
    Ok(account)
}

fn opened_controller(
    store: &Store,
    mut controller: SdnController,
) -> Result<SdnController, EngineError> {
    if let Some(secret) = &controller.secret {
        let owner = SecretOwner::SdnController(controller.id);
        controller.secret = Some(store.open_secret(owner, secret)?);
    }
    Ok(controller)
}

/// A unique-key clash as a 409 in the caller's words (the database's own text names tables and
/// constraints, not the field); any other write error as it is.
fn conflict(e: StoreError, what: impl FnOnce() -> String) -> EngineError {
    if e.is_conflict() {
        EngineError::Conflict(what())
    } else {
        e.into()
    }
}

fn rejected(field: &str, reason: impl Into<String>) -> EngineError {
    EngineError::Rejected(PlanError::Field(FieldError {
        field: field.into(),
        reason: reason.into(),
    }))
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use serde_json::json;

    use super::*;
    use crate::test_support::{Harness, fast_config, net_task};

    #[actix_rt::test]
    async fn the_last_engine_handle_stops_its_arbiter_threads() {
        let config = EngineConfig {
            arbiters: 2,
            ..fast_config()
        };
        let h = Harness::with(rovim_store::test_support::sqlite(), config).await;
        // Actors on both arbiters, each holding the engine's Shared.
        for name in ["a", "b"] {
            let (vim, _) = h.sim(name, json!({})).await;
            let sub = h.submit(json!({"tasks": [net_task(vim, name)]})).await;
            h.settled(sub.action).await;
        }
        let arbiters = h.engine.shared.arbiters.handles();
        assert_eq!(arbiters.len(), 2);
        let running = || arbiters.iter().filter(|a| a.spawn(async {})).count();

        let kept = h.engine.clone();
        drop(h);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(running(), 2, "a handle is left: the engine runs on");
        drop(kept);
        let start = Instant::now();
        while running() > 0 {
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "arbiter threads still running after the last engine handle went"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
