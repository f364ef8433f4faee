//! Issue 15, attacked: orphans made each of the three ways (a forced account removal, a
//! database restored from a backup older than the element, an item row lost) are listed
//! exactly, and only they, on the sim, on AWS (moto) and on OpenStack (the real Neutron); a
//! dry run deletes nothing; a sweep deletes exactly them; another installation's elements and a
//! create in flight are never listed.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use diesel::RunQueryDsl;
use rovim_core::{ActionId, ItemId, NetParams, VimAccountId};
use rovim_engine::{EngineConfig, SweepConfig};
use rovim_store::test_support::TestDb;
use rovim_vim::{ElementKind, VimConnector};
use serde_json::{Value, json};

/// Sweeps only on demand, and any age is old enough: the tests make their orphans now.
fn config() -> EngineConfig {
    EngineConfig {
        sweep: SweepConfig {
            interval_secs: 0.0,
            grace_secs: 0.0,
            ..SweepConfig::default()
        },
        ..fast_config()
    }
}

/// Where the scenario runs, and how to reach the same VIM as another installation.
enum Target {
    Sim {
        url: String,
    },
    Aws {
        endpoint: String,
        vpc: String,
        ami: String,
    },
    OpenStack {
        url: String,
        /// VMs too when the real Nova runs.
        nova: Option<rovim_vim::testing::NovaPeer>,
    },
}

impl Target {
    async fn add(&self, h: &Harness, name: &str) -> VimAccountId {
        match self {
            Target::Sim { url } => add_sim(&h.engine, name, url, json!({}), None).await,
            Target::Aws { endpoint, vpc, .. } => h.aws(name, endpoint, vpc).await,
            Target::OpenStack { url, .. } => {
                // Pages of 2: the listing follows Neutron's markers.
                h.openstack(
                    name,
                    url.clone(),
                    "admin",
                    json!({"physical_network": "physnet1", "list_page_size": 2}),
                )
                .await
            }
        }
    }

    /// A connector to the same VIM that marks what it makes with another installation's id.
    async fn foreign(&self, h: &Harness) -> Arc<dyn VimConnector> {
        let other = "00000000-0000-4000-8000-0000000000ff";
        match self {
            Target::Sim { url } => {
                // The cloud is made by the account's first connect, on its actor's thread.
                let cloud = h.until(|| h.connectors.sim_cloud(url)).await;
                Arc::new(rovim_vim::SimConnector::new(cloud).with_installation(other))
            }
            Target::Aws { endpoint, vpc, .. } => {
                let settings = rovim_vim::aws::AwsSettings::from_config(
                    &json!({"region": "us-east-1", "vpc_id": vpc}),
                )
                .unwrap();
                Arc::new(
                    rovim_vim::aws::AwsConnector::new(endpoint, "test", "test", settings)
                        .unwrap()
                        .with_installation(other),
                )
            }
            Target::OpenStack { url, .. } => Arc::new(admin(url).with_installation(other)),
        }
    }

    fn has_vms(&self) -> bool {
        !matches!(self, Target::OpenStack { nova: None, .. })
    }

    /// The image and flavor a VM of this target boots.
    fn image_and_flavor(&self) -> (String, String) {
        match self {
            Target::Aws { ami, .. } => (ami.clone(), "t3.micro".into()),
            Target::OpenStack { nova: Some(n), .. } => (n.image.clone(), n.flavor.clone()),
            _ => ("cirros".into(), "m1.small".into()),
        }
    }

    fn vm(&self, vim: VimAccountId, name: &str, net: ItemId) -> Value {
        let (image, flavor) = self.image_and_flavor();
        json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "vm",
               "params": {"name": name, "image_id": image, "flavor_id": flavor,
                          "networks": [{"net": {"net_item": net.to_string()}}]}})
    }
}

/// A connector as Keystone's admin, for set-up and for changes behind rovim's back.
fn admin(url: &str) -> rovim_vim::openstack::OpenStackConnector {
    let settings = rovim_vim::openstack::OpenStackSettings::from_config(&json!({})).unwrap();
    rovim_vim::openstack::OpenStackConnector::new(url, "admin", "admin", "admin", settings).unwrap()
}

/// moto (kept running while the first value lives), a connector watching a new VPC of
/// `cidr`, and the target on that VPC; `None` when moto is not installed.
async fn aws_target(
    cidr: &str,
) -> Option<(
    rovim_vim::testing::Moto,
    rovim_vim::aws::AwsConnector,
    Target,
)> {
    let moto = rovim_vim::testing::moto()?;
    let (watcher, vpc) = aws_vpc(&moto.endpoint, cidr).await;
    let ami = between(
        &watcher.ec2().call("DescribeImages", &[]).await.unwrap(),
        "<imageId>",
        "</imageId>",
    );
    let target = Target::Aws {
        endpoint: moto.endpoint.clone(),
        vpc,
        ami,
    };
    Some((moto, watcher, target))
}

fn net(vim: VimAccountId, name: &str, cidr: &str) -> Value {
    json!({"vim_account": vim.to_string(), "action": "CREATE", "item": "net",
           "params": {"name": name, "ip_profile": {"subnet_address": cidr}}})
}

/// Every VIM id an item's element is made of: the element, its created items, its interfaces.
fn element_ids(h: &Harness, kind: &str, id: ItemId) -> Vec<String> {
    if kind == "net" {
        let n = h.net(id);
        let mut ids = vec![n.vim_id.unwrap()];
        ids.extend(n.created_items.into_iter().map(|c| c.id));
        ids
    } else {
        let v = h.vm(id);
        let mut ids = vec![v.vim_id.unwrap()];
        ids.extend(v.created_items.into_iter().map(|c| c.id));
        ids.extend(v.interfaces.into_iter().filter_map(|i| i.vim_interface_id));
        ids
    }
}

/// Makes an action of `tasks` and waits until all are DONE and every VM's interfaces are known.
async fn made(h: &Harness, tasks: Vec<Value>) -> (ActionId, Vec<(String, ItemId)>) {
    let sub = h.submit(json!({ "tasks": tasks })).await;
    let (_, tasks) = h.settled(sub.action).await;
    assert_all_done(&tasks);
    let items: Vec<(String, ItemId)> = sub
        .tasks
        .iter()
        .map(|(_, kind, id)| (kind.to_string(), *id))
        .collect();
    for (kind, id) in &items {
        if kind == "vm" {
            h.until(|| {
                h.vm(*id)
                    .interfaces
                    .iter()
                    .all(|i| i.vim_interface_id.is_some())
                    .then_some(())
            })
            .await;
        }
    }
    (sub.action, items)
}

fn sql(db: &TestDb, statement: &str) {
    let mut conn = db.store.conn().unwrap();
    diesel::sql_query(statement)
        .execute(&mut *conn)
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

fn ids(orphans: &[rovim_engine::Orphan]) -> BTreeSet<String> {
    orphans.iter().map(|o| o.vim_id.clone()).collect()
}

async fn orphans_of_the_three_ways(target: Target, db: TestDb, case: &str) {
    let h = Harness::with(db, config()).await;
    let tag = format!("{}-{}", case, std::process::id());
    let cidr = |n: u8| match &target {
        Target::Aws { .. } => format!("10.41.{n}.0/24"),
        _ => format!("10.{}.{n}.0/24", 50 + (std::process::id() % 100) as u8),
    };

    // A forced removal: account a's net (and VM) stay on the VIM, unknown to the database.
    let a = target.add(&h, &format!("a-{tag}")).await;
    let (_, a_net) = made(&h, vec![net(a, &format!("gone-{tag}"), &cidr(1))]).await;
    let mut expected: BTreeSet<String> = element_ids(&h, "net", a_net[0].1).into_iter().collect();
    if target.has_vms() {
        let (_, vm) = made(
            &h,
            vec![target.vm(a, &format!("gone-vm-{tag}"), a_net[0].1)],
        )
        .await;
        expected.extend(element_ids(&h, "vm", vm[0].1));
    }
    h.engine.delete_account(a, true).await.unwrap();

    // Account b, on the same VIM: what it runs is live and never an orphan.
    let b = target.add(&h, &format!("b-{tag}")).await;
    let (live_action, live) = made(&h, vec![net(b, &format!("live-{tag}"), &cidr(2))]).await;
    let mut live_ids: BTreeSet<String> = element_ids(&h, "net", live[0].1).into_iter().collect();
    let mut teardown = Vec::new();
    if target.has_vms() {
        let (_, vm) = made(&h, vec![target.vm(b, &format!("live-vm-{tag}"), live[0].1)]).await;
        live_ids.extend(element_ids(&h, "vm", vm[0].1));
        teardown.push(delete_task(b, "vm", vm[0].1));
    }
    teardown.push(
        json!({"vim_account": b.to_string(), "action": "DELETE", "item": "net",
        "item_id": live[0].1.to_string(), "depends_on": (0..teardown.len()).collect::<Vec<_>>()}),
    );
    // A backup restored from before an action: its rows are gone, its net is not.
    let (action, restored) = made(&h, vec![net(b, &format!("restored-{tag}"), &cidr(3))]).await;
    expected.extend(element_ids(&h, "net", restored[0].1));
    let item = restored[0].1;
    let h_restored = h.net(item).vim_id.unwrap();
    sql(
        &h.db,
        &format!("DELETE FROM tasks WHERE action_id = '{action}'"),
    );
    sql(&h.db, &format!("DELETE FROM nets WHERE id = '{item}'"));
    sql(&h.db, &format!("DELETE FROM actions WHERE id = '{action}'"));
    // An item row lost (its task stays).
    let (_, lost) = made(&h, vec![net(b, &format!("lost-{tag}"), &cidr(4))]).await;
    let lost_id = h.net(lost[0].1).vim_id.unwrap();
    expected.extend(element_ids(&h, "net", lost[0].1));
    sql(
        &h.db,
        &format!("DELETE FROM nets WHERE id = '{}'", lost[0].1),
    );
    // A twin: a second net with the live net's token (a create the VIM carried out twice, the
    // first time after rovim had given up on it), made here with the account's own connector.
    let account = rovim_store::accounts::get_vim_account(&mut h.store().conn().unwrap(), b)
        .unwrap_or_else(|e| panic!("{e}"));
    let live_token = h.action(live_action).1.remove(0).idempotency_token;
    let twin_params: NetParams = serde_json::from_value(
        json!({"name": format!("twin-{tag}"), "ip_profile": {"subnet_address": cidr(5)}}),
    )
    .unwrap();
    let twin = h
        .connectors
        .connect(&account)
        .unwrap()
        .create_net(&twin_params, &live_token)
        .await
        .unwrap()
        .vim_id;
    expected.insert(twin.clone());
    // Another installation's net on the same VIM.
    let foreign = target.foreign(&h).await;
    let foreign_token = format!("rovim-{}", uuid::Uuid::now_v7().simple());
    let params: NetParams =
        serde_json::from_value(json!({"name": format!("foreign-{tag}")})).unwrap();
    let foreign_net = foreign
        .create_net(&params, &foreign_token)
        .await
        .unwrap()
        .vim_id;

    let orphans = h.engine.orphans(b).await.unwrap();
    assert_eq!(
        ids(&orphans),
        expected,
        "{case}: listed exactly: {orphans:#?}"
    );
    for o in &orphans {
        assert!(!o.why.is_empty() && o.token.is_some(), "{case}: {o:?}");
    }
    let why = |id: &str| &orphans.iter().find(|o| o.vim_id == id).unwrap().why;
    assert!(why(&lost_id).contains("row is gone"), "{case}");
    assert!(why(&h_restored).contains("no task"), "{case}");
    assert!(why(&twin).contains("a twin"), "{case}");

    let dry = h.engine.sweep_orphans(b, true).await.unwrap();
    assert_eq!(ids(&dry.deleted), expected, "{case}: a dry run shows them");
    assert_eq!(
        ids(&h.engine.orphans(b).await.unwrap()),
        expected,
        "{case}: a dry run deletes nothing"
    );

    let swept = h.engine.sweep_orphans(b, false).await.unwrap();
    assert!(swept.failed.is_empty(), "{case}: {:#?}", swept.failed);
    assert_eq!(ids(&swept.deleted), expected, "{case}: swept exactly them");
    let after = h.engine.orphans(b).await.unwrap();
    assert!(after.is_empty(), "{case}: left after the sweep: {after:#?}");
    // What rovim still owns, and the other installation's net, are all still there.
    let left: BTreeSet<String> = h
        .connectors
        .connect(
            &rovim_store::accounts::get_vim_account(&mut h.store().conn().unwrap(), b)
                .unwrap_or_else(|e| panic!("{e}")),
        )
        .unwrap()
        .list_tagged()
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.vim_id)
        .collect();
    assert_eq!(left, live_ids, "{case}: only the live elements are left");
    let theirs = foreign.list_tagged().await.unwrap();
    assert!(
        theirs
            .iter()
            .any(|e| e.vim_id == foreign_net && e.kind == ElementKind::Net),
        "{case}: the other installation's net is untouched"
    );
    foreign
        .delete_net(&rovim_core::Owned {
            vim_id: Some(foreign_net),
            created_items: Vec::new(),
        })
        .await
        .unwrap();
    // The live elements go too: nothing of this test stays on the VIM.
    let down = h.submit(json!({ "tasks": teardown })).await;
    let (_, settled) = h.settled(down.action).await;
    assert!(
        settled
            .iter()
            .all(|t| t.status == rovim_core::TaskStatus::Finished),
        "{case}: {settled:#?}"
    );
}

#[actix_rt::test]
async fn sim_orphans_of_the_three_ways_are_listed_and_swept_exactly() {
    for db in rovim_store::test_support::backends() {
        let name = format!("sim-{}", db.name());
        let url = format!("sim://orphans-{}", VimAccountId::generate());
        orphans_of_the_three_ways(Target::Sim { url }, db, &name).await;
    }
}

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[actix_rt::test]
async fn aws_orphans_of_the_three_ways_are_listed_and_swept_exactly() {
    let Some((_moto, _, target)) = aws_target("10.41.0.0/16").await else {
        return;
    };
    orphans_of_the_three_ways(target, rovim_store::test_support::sqlite(), "aws").await;
}

#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[actix_rt::test]
async fn openstack_orphans_of_the_three_ways_are_listed_and_swept_exactly() {
    let Some(url) = keystone_url() else { return };
    orphans_of_the_three_ways(
        Target::OpenStack {
            url,
            nova: rovim_vim::testing::nova_peer(),
        },
        rovim_store::test_support::sqlite(),
        "openstack",
    )
    .await;
}

/// A create whose element exists on the VIM while its answer is still on the way is owned by
/// its task's token: never listed, whatever the grace period.
#[actix_rt::test]
async fn a_create_in_flight_is_never_an_orphan() {
    let h = Harness::with(rovim_store::test_support::sqlite(), config()).await;
    let (vim, cloud) = h.sim("stall", json!({"stall_after_create_ms": 1500})).await;
    let sub = h
        .submit(json!({"tasks": [net_task(vim, "slow"), vm_task(vim, "slow-vm", &[0])]}))
        .await;
    h.until(|| (cloud.net_count() == 1).then_some(())).await;
    assert!(
        h.engine.orphans(vim).await.unwrap().is_empty(),
        "net in flight"
    );
    h.until(|| (cloud.vm_count() == 1).then_some(())).await;
    assert!(
        h.engine.orphans(vim).await.unwrap().is_empty(),
        "VM in flight"
    );
    let (_, tasks) = h.settled(sub.action).await;
    assert_all_done(&tasks);
    assert!(h.engine.orphans(vim).await.unwrap().is_empty(), "settled");
    // The same VM, its item row lost: now it is one (with its port).
    sql(
        &h.db,
        &format!("DELETE FROM interfaces WHERE vm_id = '{}'", sub.tasks[1].2),
    );
    sql(
        &h.db,
        &format!("DELETE FROM vms WHERE id = '{}'", sub.tasks[1].2),
    );
    let kinds: Vec<ElementKind> = h
        .engine
        .orphans(vim)
        .await
        .unwrap()
        .iter()
        .map(|o| o.kind)
        .collect();
    assert_eq!(kinds, vec![ElementKind::Vm, ElementKind::Port]);
}

/// The default grace period keeps an element made a moment ago out of the list, owned or not.
#[actix_rt::test]
async fn a_young_element_is_not_an_orphan_within_the_grace_period() {
    let h = Harness::new().await;
    assert_eq!(h.config.sweep.grace_secs, 3600.0);
    let (vim, _) = h.sim("young", json!({})).await;
    let (_, items) = made(&h, vec![net_task(vim, "n")]).await;
    sql(
        &h.db,
        &format!("DELETE FROM nets WHERE id = '{}'", items[0].1),
    );
    assert!(h.engine.orphans(vim).await.unwrap().is_empty());
}

/// ADOPT puts an element made elsewhere under rovim: tagged, recorded as created, never an
/// orphan, and a later DELETE removes it; FIND then DELETE leaves its element alone.
async fn adopt_then_delete(target: Target, case: &str) {
    let h = Harness::with(rovim_store::test_support::sqlite(), config()).await;
    let tag = format!("{}-{}", case, std::process::id());
    let vim = target.add(&h, &format!("adopt-{tag}")).await;
    let elsewhere = target.foreign(&h).await;
    let token = |_: u8| format!("rovim-{}", uuid::Uuid::now_v7().simple());
    // Nova boots a server only on a port with an address: the OpenStack nets get a subnet.
    let ip = matches!(target, Target::OpenStack { .. })
        .then(|| json!({"subnet_address": "10.47.0.0/24"}));
    let net_params = |name: &str| -> NetParams {
        serde_json::from_value(json!({ "name": name, "ip_profile": ip })).unwrap()
    };
    let adopted = elsewhere
        .create_net(&net_params(&format!("legacy-{tag}")), &token(0))
        .await
        .unwrap()
        .vim_id;
    let found = elsewhere
        .create_net(&net_params(&format!("found-{tag}")), &token(1))
        .await
        .unwrap()
        .vim_id;
    let v = vim.to_string();
    let mut tasks = vec![
        json!({"vim_account": v, "action": "ADOPT", "item": "net", "find": {"id": adopted}}),
        json!({"vim_account": v, "action": "FIND", "item": "net", "find": {"name": format!("found-{tag}")}}),
        json!({"vim_account": v, "action": "ADOPT", "item": "net", "find": {"name": format!("nothing-{tag}")}}),
    ];
    let mut legacy_vm = None;
    if target.has_vms() {
        let (image, flavor) = target.image_and_flavor();
        let params: rovim_core::VmParams = serde_json::from_value(json!({
            "name": format!("legacy-vm-{tag}"), "image_id": image, "flavor_id": flavor,
            "networks": [{"net": {"vim_net_id": adopted}}]}))
        .unwrap();
        let request = rovim_vim::VmRequest {
            params,
            vim_net_ids: vec![adopted.clone()],
        };
        let made = elsewhere.create_vm(&request, &token(2)).await.unwrap();
        // An existing server is adopted, not one still building (Nova refuses to tag those:
        // busy, retried, but longer than these tests' quick retries wait).
        let start = std::time::Instant::now();
        while elsewhere
            .refresh_vms(std::slice::from_ref(&made.created.vim_id))
            .await
            .unwrap()
            .get(&made.created.vim_id)
            .is_none_or(|r| r.status != rovim_core::ItemStatus::Active)
        {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(60),
                "{case}: never ACTIVE"
            );
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
        tasks.push(json!({"vim_account": v, "action": "ADOPT", "item": "vm",
                          "find": {"name": format!("legacy-vm-{tag}")}}));
        legacy_vm = Some(made.created.vim_id);
    }
    let sub = h.submit(json!({ "tasks": tasks })).await;
    let (_, settled) = h.settled(sub.action).await;
    assert_eq!(
        settled[0].vim_id.as_deref(),
        Some(adopted.as_str()),
        "{case}"
    );
    assert!(settled[0].created, "{case}: adopted counts as created");
    assert_eq!(settled[1].vim_id.as_deref(), Some(found.as_str()), "{case}");
    assert!(!settled[1].created, "{case}: found is not created");
    assert_eq!(settled[2].status, rovim_core::TaskStatus::Failed, "{case}");
    assert!(
        settled[2]
            .error_msg
            .as_deref()
            .unwrap_or("")
            .contains("no net matches"),
        "{case}: {:?}",
        settled[2].error_msg
    );
    if let Some(vm) = &legacy_vm {
        assert_eq!(settled[3].vim_id.as_ref(), Some(vm), "{case}: {settled:#?}");
        assert!(settled[3].created);
    }
    assert!(h.net(sub.tasks[0].2).created, "{case}");
    // Owned now: listed as this installation's, and no orphan.
    let ours: BTreeSet<String> = h
        .connectors
        .connect(
            &rovim_store::accounts::get_vim_account(&mut h.store().conn().unwrap(), vim).unwrap(),
        )
        .unwrap()
        .list_tagged()
        .await
        .unwrap()
        .into_iter()
        .filter(|e| matches!(e.kind, ElementKind::Net | ElementKind::Vm))
        .map(|e| e.vim_id)
        .collect();
    let mut want: BTreeSet<String> = [adopted.clone()].into();
    want.extend(legacy_vm.clone());
    assert_eq!(
        ours, want,
        "{case}: the adopted elements carry this installation's tag"
    );
    let orphans = h.engine.orphans(vim).await.unwrap();
    assert!(orphans.is_empty(), "{case}: {orphans:#?}");

    let mut deletes: Vec<Value> = Vec::new();
    if target.has_vms() {
        deletes.push(delete_task(vim, "vm", sub.tasks[3].2));
    }
    deletes.push(json!({"vim_account": v, "action": "DELETE", "item": "net",
        "item_id": sub.tasks[0].2.to_string(), "depends_on": (0..deletes.len()).collect::<Vec<_>>()}));
    deletes.push(delete_task(vim, "net", sub.tasks[1].2));
    let del = h.submit(json!({ "tasks": deletes })).await;
    let (_, settled) = h.settled(del.action).await;
    assert!(
        settled
            .iter()
            .all(|t| t.error_msg.is_none() || t.status == rovim_core::TaskStatus::Superseded),
        "{case}: {settled:#?}"
    );
    let get = |id: String| {
        let c = elsewhere.clone();
        async move { c.get_net(&id).await }
    };
    assert!(
        matches!(
            get(adopted.clone()).await,
            Err(rovim_vim::VimError::NotFound(_))
        ),
        "{case}: ADOPT then DELETE removed the net"
    );
    assert!(
        get(found.clone()).await.is_ok(),
        "{case}: FIND then DELETE left it"
    );
    elsewhere
        .delete_net(&rovim_core::Owned {
            vim_id: Some(found),
            created_items: Vec::new(),
        })
        .await
        .unwrap();
}

#[actix_rt::test]
async fn sim_adopt_then_delete_removes_the_element_find_then_delete_does_not() {
    let url = format!("sim://adopt-{}", VimAccountId::generate());
    adopt_then_delete(Target::Sim { url }, "sim").await;
}

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[actix_rt::test]
async fn aws_adopt_then_delete_removes_the_element_find_then_delete_does_not() {
    let Some((_moto, _, target)) = aws_target("10.42.0.0/16").await else {
        return;
    };
    adopt_then_delete(target, "aws").await;
}

#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[actix_rt::test]
async fn openstack_adopt_then_delete_removes_the_element_find_then_delete_does_not() {
    let Some(url) = keystone_url() else { return };
    let nova = rovim_vim::testing::nova_peer();
    adopt_then_delete(Target::OpenStack { url, nova }, "openstack").await;
}

/// Polls fast, so a change behind rovim's back shows within a second.
fn polling() -> EngineConfig {
    EngineConfig {
        refresh: rovim_engine::RefreshConfig {
            build_secs: 0.1,
            active_secs: 0.2,
            first_secs: 0.05,
            ..rovim_engine::RefreshConfig::default()
        },
        ..config()
    }
}

/// Drift: an element changed behind rovim's back is shown on its item (and counted), never
/// corrected; back as asked, the drift goes away. It survives a restart (what was asked is
/// read back from the CREATE).
#[actix_rt::test]
async fn sim_drift_is_shown_when_the_vim_changes_behind_rovims_back() {
    for db in rovim_store::test_support::backends() {
        let mut h = Harness::with(db, polling()).await;
        let (vim, cloud) = h.sim("drift", json!({})).await;
        let v = vim.to_string();
        let sub = h
            .submit(json!({"tasks": [
                {"vim_account": v, "action": "CREATE", "item": "net",
                 "params": {"name": "data", "type": "data", "vlan": 1234}},
                vm_task(vim, "vm", &[0])]}))
            .await;
        let (_, tasks) = h.settled(sub.action).await;
        assert_all_done(&tasks);
        let (net, vm) = (sub.tasks[0].2, sub.tasks[1].2);
        h.until(|| (h.vm(vm).status == rovim_core::ItemStatus::Active).then_some(()))
            .await;
        assert!(h.vm(vm).drift.is_empty() && h.net(net).drift.is_empty());

        let vm_vim = h.vm(vm).vim_id.unwrap();
        let net_vim = h.net(net).vim_id.unwrap();
        assert!(cloud.change_behind_back(&vm_vim, Some("m1.xlarge"), None));
        assert!(cloud.change_behind_back(&net_vim, None, Some(1300)));
        let drift = h
            .until(|| {
                let (n, v) = (h.net(net).drift, h.vm(vm).drift);
                (!n.is_empty() && !v.is_empty()).then_some((n, v))
            })
            .await;
        assert_eq!(
            drift,
            (
                vec!["vlan: asked 1234, the VIM has 1300".to_owned()],
                vec!["flavor: asked m1.small, the VIM has m1.xlarge".to_owned()]
            ),
            "{}",
            h.db.name()
        );
        let tasks = h.action(sub.action).1;
        assert_all_done(&tasks);

        // A restart reads what was asked back; the VM put back as asked loses its drift.
        h.restart().await;
        assert!(cloud.change_behind_back(&vm_vim, Some("m1.small"), None));
        h.until(|| h.vm(vm).drift.is_empty().then_some(())).await;
        assert_eq!(h.net(net).drift.len(), 1, "the net still differs");
    }
}

#[cfg_attr(
    rovim_no_moto,
    ignore = "needs moto: .ci/run installs it, or set ROVIM_MOTO_SERVER"
)]
#[actix_rt::test]
async fn aws_drift_is_shown_when_an_instance_type_changes() {
    let Some((_moto, watcher, target)) = aws_target("10.43.0.0/16").await else {
        return;
    };
    let h = Harness::with(rovim_store::test_support::sqlite(), polling()).await;
    let vim = target.add(&h, "aws").await;
    let (_, net) = made(&h, vec![net_task(vim, "n")]).await;
    let (_, vm) = made(&h, vec![target.vm(vim, "vm", net[0].1)]).await;
    let vm = vm[0].1;
    h.until(|| (h.vm(vm).status == rovim_core::ItemStatus::Active).then_some(()))
        .await;
    assert!(h.vm(vm).drift.is_empty(), "{:?}", h.vm(vm).drift);
    let id = h.vm(vm).vim_id.unwrap();
    let call = |action: &'static str, params: Vec<(String, String)>| {
        let ec2 = watcher.ec2();
        async move { ec2.call(action, &params).await.unwrap() }
    };
    call("StopInstances", vec![("InstanceId.1".into(), id.clone())]).await;
    call(
        "ModifyInstanceAttribute",
        vec![
            ("InstanceId".into(), id.clone()),
            ("InstanceType.Value".into(), "t3.large".into()),
        ],
    )
    .await;
    let drift = h
        .until(|| Some(h.vm(vm).drift).filter(|d| !d.is_empty()))
        .await;
    assert_eq!(drift, vec!["flavor: asked t3.micro, the VIM has t3.large"]);
}

/// The scheduled sweep: with `policy: delete` it removes an orphan by itself; with `report` it
/// only counts it.
#[actix_rt::test]
async fn the_scheduled_sweep_deletes_orphans_by_policy_delete_and_only_reports_by_default() {
    for policy in [
        rovim_engine::SweepPolicy::Report,
        rovim_engine::SweepPolicy::Delete,
    ] {
        let config = EngineConfig {
            sweep: SweepConfig {
                interval_secs: 0.2,
                grace_secs: 0.0,
                policy,
            },
            ..fast_config()
        };
        let h = Harness::with(rovim_store::test_support::sqlite(), config).await;
        let (vim, cloud) = h.sim("scheduled", json!({})).await;
        let (_, items) = made(&h, vec![net_task(vim, "kept"), net_task(vim, "lost")]).await;
        sql(
            &h.db,
            &format!("DELETE FROM nets WHERE id = '{}'", items[1].1),
        );
        let lost = h.until(|| {
            let names = cloud.net_names();
            (policy == rovim_engine::SweepPolicy::Report || !names.contains(&"lost".to_owned()))
                .then_some(names)
        });
        let names = lost.await;
        match policy {
            rovim_engine::SweepPolicy::Delete => assert_eq!(names, vec!["kept".to_owned()]),
            rovim_engine::SweepPolicy::Report => {
                tokio::time::sleep(std::time::Duration::from_millis(600)).await;
                assert_eq!(cloud.net_count(), 2, "report leaves it");
                assert!(
                    cloud.calls().list_tagged >= 2,
                    "swept at least twice in 0.6 s"
                );
            }
        }
    }
}

#[cfg_attr(
    rovim_no_keystone,
    ignore = "needs Keystone and Neutron: eval \"$(bash .ci/openstack.sh)\""
)]
#[actix_rt::test]
async fn openstack_drift_is_shown_when_a_network_changes_vlan() {
    let Some(url) = keystone_url() else { return };
    let h = Harness::with(rovim_store::test_support::sqlite(), polling()).await;
    let target = Target::OpenStack { url, nova: None };
    let vim = target.add(&h, "os-drift").await;
    let vlan = 3000 + (std::process::id() % 500) as u16;
    let (_, net) = made(
        &h,
        vec![json!({"vim_account": vim.to_string(), "action": "CREATE",
        "item": "net", "params": {"name": format!("drift-{vlan}"), "type": "data", "vlan": vlan}})],
    )
    .await;
    let net = net[0].1;
    h.until(|| (h.net(net).status == rovim_core::ItemStatus::Active).then_some(()))
        .await;
    assert!(h.net(net).drift.is_empty(), "{:?}", h.net(net).drift);
    let id = h.net(net).vim_id.unwrap();
    let admin = admin(&keystone_url().unwrap());
    let moved = vlan + 500;
    admin
        .keystone()
        .call(
            "network",
            reqwest::Method::PUT,
            &format!("/v2.0/networks/{id}"),
            Some(&json!({"network": {"provider:segmentation_id": moved}})),
        )
        .await
        .expect("Neutron moves a portless VLAN network");
    let drift = h
        .until(|| Some(h.net(net).drift).filter(|d| !d.is_empty()))
        .await;
    assert_eq!(
        drift,
        vec![format!("vlan: asked {vlan}, the VIM has {moved}")]
    );
    let (_, tasks) = h
        .settled(
            h.submit(json!({"tasks": [delete_task(vim, "net", net)]}))
                .await
                .action,
        )
        .await;
    assert_eq!(
        tasks[0].status,
        rovim_core::TaskStatus::Finished,
        "{tasks:?}"
    );
}
