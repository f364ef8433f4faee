//! Test support (feature `test-support`): the [`Harness`], an Engine over a test database with
//! sim VIM accounts, helpers that wait for actions and read rows back and check the invariants,
//! and task builders, for this crate's tests, the API's tests, the benches and the process-level
//! tests alike.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::{AccountState, ActionRequest, Connectors, Engine, EngineConfig, Submitted};
use rovim_core::{ActionId, ItemId, SdnControllerId, TaskStatus, VimAccountId, VimType};
use rovim_sdn::SimSdn;
use rovim_store::invariants::{self, VimElement};
use rovim_store::test_support::{TestDb, sqlite};
use rovim_store::{
    ActionRecord, NetRecord, NewSdnController, NewVimAccount, Store, TaskRecord, VmRecord, reads,
};
use rovim_vim::SimCloud;
use serde_json::{Value, json};

/// The real Keystone's URL (`.ci/openstack.sh`), or `None` with a note (a failure under CI).
pub fn keystone_url() -> Option<String> {
    match std::env::var("ROVIM_TEST_KEYSTONE_URL") {
        Ok(u) => Some(u),
        Err(_) => {
            rovim_core::test_peers::absent(
                "ROVIM_TEST_KEYSTONE_URL is not set (eval \"$(bash .ci/openstack.sh)\" starts Keystone and Neutron)",
            );
            None
        }
    }
}

pub fn quiet() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

/// Quick retries and restarts so tests stay short.
pub fn fast_config() -> EngineConfig {
    EngineConfig {
        retry_min_secs: 0.01,
        retry_max_secs: 0.05,
        restart_min_secs: 0.05,
        restart_max_secs: 0.2,
        call_timeout_secs: 5.0,
        ..EngineConfig::default()
    }
}

/// For the wire-fault tests: a call timeout short enough for a slow answer to pass it, room
/// for retries, and quick polls.
pub fn wire_config() -> EngineConfig {
    EngineConfig {
        call_timeout_secs: 1.0,
        max_attempts: 8,
        refresh: crate::RefreshConfig {
            build_secs: 0.2,
            active_secs: 0.5,
            error_secs: 0.5,
            ..crate::RefreshConfig::default()
        },
        ..fast_config()
    }
}

/// An engine over `store` with a silent logger: the set-up every test and bench shares.
pub async fn start_engine(
    store: Store,
    config: EngineConfig,
    connectors: Arc<Connectors>,
) -> Engine {
    Engine::start(store, config, connectors, quiet())
        .await
        .expect("the engine starts")
}

/// Registers a `sim` VIM account at `url` (`sim://name`, or a `rovim sim-vim`'s http:// URL),
/// wired to the SDN controller `sdn` when given.
pub async fn add_sim(
    engine: &Engine,
    name: &str,
    url: &str,
    config: Value,
    sdn: Option<SdnControllerId>,
) -> VimAccountId {
    let id = VimAccountId::generate();
    engine
        .add_account(NewVimAccount {
            id,
            name: name.into(),
            vim_type: VimType::Sim,
            url: url.into(),
            tenant: None,
            username: None,
            secret: None,
            config,
            sdn_controller: sdn,
        })
        .await
        .expect("the sim account is added");
    id
}

pub struct Harness {
    pub config: EngineConfig,
    pub db: TestDb,
    pub connectors: Arc<Connectors>,
    pub engine: Engine,
}

impl Harness {
    pub async fn new() -> Harness {
        Harness::on(sqlite()).await
    }

    /// For tests that pause tokio's clock (call `tokio::time::pause()` first): the engine's
    /// actors run on the test's own thread (`arbiters: 1`), since a paused clock holds only on
    /// the runtime that paused it.
    pub async fn on_test_thread(config: EngineConfig) -> Harness {
        let config = EngineConfig {
            arbiters: 1,
            // A paused clock jumps to the next timer whenever the runtime waits on a blocking
            // read: the hourly sweep would come due at every such wait.
            sweep: crate::SweepConfig {
                interval_secs: 0.0,
                ..config.sweep
            },
            ..config
        };
        Harness::with(sqlite(), config).await
    }

    pub async fn on(db: TestDb) -> Harness {
        Harness::with(db, fast_config()).await
    }

    pub async fn with(db: TestDb, config: EngineConfig) -> Harness {
        let connectors = Arc::new(Connectors::new());
        let engine = start_engine(db.store.clone(), config.clone(), connectors.clone()).await;
        Harness {
            config,
            db,
            connectors,
            engine,
        }
    }

    /// Stops this engine and starts another over the same database and the same sim clouds,
    /// as after a crash and restart of rovim.
    pub async fn restart(&mut self) {
        self.engine.shutdown().await.unwrap();
        let store = self.db.reopen();
        self.engine = start_engine(store, self.config.clone(), self.connectors.clone()).await;
    }

    pub fn store(&self) -> &Store {
        &self.db.store
    }

    /// A sim VIM account with the given knobs; returns its id and its cloud.
    pub async fn sim(&self, name: &str, config: Value) -> (VimAccountId, Arc<SimCloud>) {
        self.sim_with(name, config, None).await
    }

    /// A sim SDN controller; returns its id and the controller itself.
    pub async fn sim_sdn(&self, name: &str) -> (SdnControllerId, Arc<SimSdn>) {
        let id = SdnControllerId::generate();
        let url = format!("sim-sdn://{name}-{id}");
        self.engine
            .add_sdn_controller(NewSdnController {
                id,
                name: name.into(),
                sdn_type: "sim".into(),
                url: url.clone(),
                username: None,
                secret: None,
                config: json!({}),
            })
            .await
            .unwrap();
        (
            id,
            self.connectors
                .sim_sdn(&url)
                .expect("the sim SDN controller exists once added"),
        )
    }

    /// A `ryu` SDN controller at Ryu's REST `url` with this `config.port_mapping`.
    pub async fn ryu_sdn(&self, url: &str, port_mapping: Value) -> SdnControllerId {
        let id = SdnControllerId::generate();
        self.engine
            .add_sdn_controller(NewSdnController {
                id,
                name: "ryu".into(),
                sdn_type: "ryu".into(),
                url: url.into(),
                username: None,
                secret: None,
                config: json!({ "port_mapping": port_mapping }),
            })
            .await
            .unwrap();
        id
    }

    /// A sim VIM account wired to an SDN controller when `sdn` is given.
    pub async fn sim_with(
        &self,
        name: &str,
        config: Value,
        sdn: Option<SdnControllerId>,
    ) -> (VimAccountId, Arc<SimCloud>) {
        // A fresh suffix: sim URLs key the in-process clouds.
        let url = format!("sim://{name}-{}", VimAccountId::generate());
        let id = add_sim(&self.engine, name, &url, config, sdn).await;
        // The cloud is made by the account's first connect, on its actor's thread.
        let cloud = self.until(|| self.connectors.sim_cloud(&url)).await;
        (id, cloud)
    }

    pub async fn submit(&self, body: Value) -> Submitted {
        let req: ActionRequest = serde_json::from_value(body).unwrap();
        self.engine.submit(req).await.unwrap()
    }

    pub fn action(&self, id: ActionId) -> (ActionRecord, Vec<TaskRecord>) {
        reads::get_action(&mut self.store().conn().unwrap(), id).unwrap()
    }

    pub fn task(&self, id: ActionId, index: u32) -> TaskRecord {
        let key = rovim_core::TaskKey::new(id, index);
        reads::get_task(&mut self.store().conn().unwrap(), key)
            .unwrap()
            .unwrap()
    }

    pub fn net(&self, id: ItemId) -> NetRecord {
        reads::get_net(&mut self.store().conn().unwrap(), id)
            .unwrap()
            .unwrap()
    }

    pub fn vm(&self, id: ItemId) -> VmRecord {
        reads::get_vm(&mut self.store().conn().unwrap(), id)
            .unwrap()
            .unwrap()
    }

    /// Waits until every task of the action is settled (not SCHEDULED or BUILD), then checks
    /// the counter invariants over the whole database.
    pub async fn settled(&self, id: ActionId) -> (ActionRecord, Vec<TaskRecord>) {
        let out = self
            .until(|| {
                let (a, t) = self.action(id);
                (a.overall_status() != "BUILD").then_some((a, t))
            })
            .await;
        self.check();
        out
    }

    /// As [`Harness::settled`], polling once per `every` of tokio time: with paused time, each
    /// poll lets the clock jump by that much (a 10 ms poll would crawl through minutes).
    pub async fn settled_every(
        &self,
        id: ActionId,
        every: Duration,
    ) -> (ActionRecord, Vec<TaskRecord>) {
        let start = Instant::now();
        loop {
            self.check();
            let (a, t) = self.action(id);
            if a.overall_status() != "BUILD" {
                return (a, t);
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting: {}/{} done, {} failed",
                a.number_done,
                a.number_tasks,
                a.number_failed
            );
            tokio::time::sleep(every).await;
        }
    }

    /// The invariants that hold at every moment (counters exact, DONE only when settled).
    pub fn check(&self) {
        let v = invariants::check_counters(&mut self.store().conn().unwrap()).unwrap();
        assert!(v.is_empty(), "invariants broken: {v:#?}");
    }

    /// The invariants between the database and a settled sim VIM: no twin, no leak, every live
    /// item's element present.
    pub fn check_vim(&self, vim: VimAccountId, cloud: &SimCloud) {
        self.check_inventory(vim, &sim_inventory(cloud), "sim");
    }

    /// The same against any VIM's inventory (moto's, Neutron's); `case` names it on failure.
    pub fn check_inventory(&self, vim: VimAccountId, inventory: &[VimElement], case: &str) {
        let v = invariants::check_against_vim(
            &mut self.store().conn().unwrap(),
            &vim.to_string(),
            inventory,
        )
        .unwrap();
        assert!(v.is_empty(), "{case}: invariants broken: {v:#?}");
    }

    /// Waits until the Supervisor's view of account `id` satisfies `pred`.
    pub async fn account_until(
        &self,
        id: VimAccountId,
        pred: impl Fn(&AccountState) -> bool,
    ) -> AccountState {
        let start = Instant::now();
        loop {
            let states = self.engine.account_states().await.unwrap();
            if let Some(s) = states.into_iter().find(|s| s.id == id && pred(s)) {
                return s;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "timed out waiting for account {id}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Polls `f` every 10 ms until it gives a value (at most 20 s: a stuck engine fails the test).
    pub async fn until<T>(&self, f: impl FnMut() -> Option<T>) -> T {
        self.until_within(Duration::from_secs(20), f).await
    }

    /// [`until`](Self::until) for what a real VIM takes its time over (a server's build, a
    /// guest's boot): at most `limit`.
    pub async fn until_within<T>(&self, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                start.elapsed() < limit,
                "timed out waiting ({})",
                rovim_vim::human_duration(limit)
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A sim VIM's elements as the invariant checker reads them.
pub fn sim_inventory(cloud: &SimCloud) -> Vec<VimElement> {
    elements(cloud.inventory())
}

/// A VIM inventory (the sim's shape, also `rovim_vim::testing::aws_inventory`'s) as the
/// invariant checker reads it.
pub fn elements(inventory: Vec<rovim_vim::SimElement>) -> Vec<VimElement> {
    inventory
        .into_iter()
        .map(|e| VimElement {
            kind: e.kind,
            vim_id: e.vim_id,
            token: e.token,
        })
        .collect()
}

/// Asserts that every task is DONE, showing the errors of those that are not.
pub fn assert_all_done(tasks: &[TaskRecord]) {
    let not_done: Vec<_> = tasks
        .iter()
        .filter(|t| t.status != TaskStatus::Done)
        .map(|t| (t.key.index, t.status, t.error_msg.clone()))
        .collect();
    assert!(not_done.is_empty(), "not DONE: {not_done:?}");
}

pub fn statuses(tasks: &[TaskRecord]) -> Vec<TaskStatus> {
    tasks.iter().map(|t| t.status).collect()
}

pub fn net_task(vim: VimAccountId, name: &str) -> Value {
    json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "net", "params": {"name": name}})
}

pub fn vm_task(vim: VimAccountId, name: &str, nets: &[u32]) -> Value {
    let networks: Vec<Value> = nets
        .iter()
        .map(|n| json!({"net": format!("TASK-{n}")}))
        .collect();
    json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "vm",
           "params": {"name": name, "image_id": "cirros", "flavor_id": "m1.small", "networks": networks}})
}

pub fn delete_task(vim: VimAccountId, item: &str, id: ItemId) -> Value {
    json!({"vim_account": vim.to_string(), "action": "DELETE", "item": item, "item_id": id.to_string()})
}

/// The text between the first `open` and the next `close` (reading EC2's XML in tests).
pub fn between(xml: &str, open: &str, close: &str) -> String {
    let start = xml.find(open).expect(open) + open.len();
    xml[start..].split(close).next().unwrap().to_owned()
}

/// A new VPC on the EC2 endpoint (moto in tests) and a connector bound to it, for test set-up
/// and for looking at what the engine made there.
pub async fn aws_vpc(endpoint: &str, cidr: &str) -> (rovim_vim::aws::AwsConnector, String) {
    use rovim_vim::aws::{AwsConnector, AwsSettings};
    let settings = |vpc: &str| {
        AwsSettings::from_config(&json!({"region": "us-east-1", "vpc_id": vpc})).unwrap()
    };
    let boot = AwsConnector::new(endpoint, "test", "test", settings("vpc-00000000")).unwrap();
    let xml = boot
        .ec2()
        .call("CreateVpc", &[("CidrBlock".into(), cidr.into())])
        .await
        .unwrap();
    let vpc = between(&xml, "<vpcId>", "</vpcId>");
    (
        AwsConnector::new(endpoint, "test", "test", settings(&vpc)).unwrap(),
        vpc,
    )
}

impl Harness {
    /// An `openstack` VIM account named `name` (project and user `admin`) on the Keystone URL.
    pub async fn openstack(
        &self,
        name: &str,
        url: String,
        password: &str,
        config: Value,
    ) -> VimAccountId {
        self.openstack_in(name, url, "admin", password, config)
            .await
    }

    /// An `openstack` VIM account of user `admin` in `project`.
    pub async fn openstack_in(
        &self,
        name: &str,
        url: String,
        project: &str,
        password: &str,
        config: Value,
    ) -> VimAccountId {
        let id = VimAccountId::generate();
        self.engine
            .add_account(NewVimAccount {
                id,
                name: name.into(),
                vim_type: VimType::OpenStack,
                url,
                tenant: Some(project.into()),
                username: Some("admin".into()),
                secret: Some(rovim_store::Secret::new(password)),
                config,
                sdn_controller: None,
            })
            .await
            .unwrap();
        id
    }

    /// A `libvirt` VIM account named `name` on the libvirt URI, with the SDN controller given.
    pub async fn libvirt(
        &self,
        name: &str,
        uri: &str,
        config: Value,
        sdn_controller: Option<SdnControllerId>,
    ) -> VimAccountId {
        let id = VimAccountId::generate();
        self.engine
            .add_account(NewVimAccount {
                id,
                name: name.into(),
                vim_type: VimType::Libvirt,
                url: uri.into(),
                tenant: None,
                username: None,
                secret: None,
                config,
                sdn_controller,
            })
            .await
            .unwrap();
        id
    }

    /// An `aws` VIM account named `name` on the endpoint and VPC.
    pub async fn aws(&self, name: &str, endpoint: &str, vpc: &str) -> VimAccountId {
        let id = VimAccountId::generate();
        self.engine
            .add_account(NewVimAccount {
                id,
                name: name.into(),
                vim_type: VimType::Aws,
                url: endpoint.into(),
                tenant: None,
                username: Some("test".into()),
                secret: Some(rovim_store::Secret::new("test")),
                config: json!({"region": "us-east-1", "vpc_id": vpc}),
                sdn_controller: None,
            })
            .await
            .unwrap();
        id
    }
}
