//! Fixtures shared by the store tests.
#![allow(dead_code)]

use rovim_core::{
    Action, ActionId, FindFilter, Interface, InterfaceType, ItemId, ItemKind, NetParams, NetRef,
    NetType, TaskKey, TaskParams, VimAccountId, VimType, VmParams,
};
use rovim_store::{NewAction, NewInterface, NewNet, NewTask, NewVimAccount, NewVm, Secret};

pub fn logger() -> slog::Logger {
    slog::Logger::root(slog::Discard, slog::o!())
}

pub fn account(name: &str) -> NewVimAccount {
    NewVimAccount {
        id: VimAccountId::generate(),
        name: name.to_owned(),
        vim_type: VimType::Sim,
        url: "sim://local".into(),
        tenant: Some("demo".into()),
        username: Some("admin".into()),
        secret: Some(Secret::new("hunter2")),
        config: serde_json::json!({"build_seconds": 1}),
        sdn_controller: None,
    }
}

/// Two nets (one CREATE, one FIND-then-CREATE) and a VM on both, depending on them.
pub struct Sample {
    pub action: NewAction,
    pub nets: [ItemId; 2],
    pub vm: ItemId,
}

pub fn sample(vim: VimAccountId) -> Sample {
    let id = ActionId::generate();
    let nets = [ItemId::generate(), ItemId::generate()];
    let vm = ItemId::generate();
    let net_params = |name: &str, t| {
        TaskParams::Net(NetParams {
            name: name.into(),
            net_type: t,
            ip_profile: None,
            shared: false,
            vlan: None,
        })
    };
    let mut t0 = NewTask::new(0, vim, ItemKind::Net, nets[0], Action::Create);
    t0.params = Some(net_params("mgmt", NetType::Bridge));
    let mut t1 = NewTask::new(1, vim, ItemKind::Net, nets[1], Action::Create);
    t1.params = Some(net_params("data", NetType::Data));
    t1.find = Some(FindFilter {
        name: Some("data".into()),
        ..Default::default()
    });
    let mut t2 = NewTask::new(2, vim, ItemKind::Vm, vm, Action::Create);
    t2.params = Some(TaskParams::Vm(VmParams {
        name: "vm1".into(),
        description: None,
        start: true,
        image_id: "cirros".into(),
        flavor_id: "m1.small".into(),
        networks: vec![
            Interface {
                name: None,
                net: NetRef::Task(0),
                iface_type: InterfaceType::Virtual,
                model: None,
                mac_address: None,
                port_security: true,
                floating_ip: false,
                vpci: None,
            },
            Interface {
                name: None,
                net: NetRef::Task(1),
                iface_type: InterfaceType::VF,
                model: None,
                mac_address: None,
                port_security: false,
                floating_ip: false,
                vpci: None,
            },
        ],
        cloud_config: None,
        disks: vec![],
        availability_zone: None,
    }));
    t2.depends_on = vec![TaskKey::new(id, 0), TaskKey::new(id, 1)];
    let action = NewAction {
        id,
        description: "sample".into(),
        tasks: vec![t0, t1, t2],
        nets: vec![
            NewNet {
                id: nets[0],
                vim_account: vim,
                name: "mgmt".into(),
                net_type: NetType::Bridge,
            },
            NewNet {
                id: nets[1],
                vim_account: vim,
                name: "data".into(),
                net_type: NetType::Data,
            },
        ],
        vms: vec![NewVm {
            id: vm,
            vim_account: vim,
            name: "vm1".into(),
            interfaces: vec![
                NewInterface {
                    id: ItemId::generate(),
                    index: 0,
                    net: Some(nets[0]),
                    iface_type: InterfaceType::Virtual,
                    floating_ip: false,
                    port_security: true,
                },
                NewInterface {
                    id: ItemId::generate(),
                    index: 1,
                    net: Some(nets[1]),
                    iface_type: InterfaceType::VF,
                    floating_ip: false,
                    port_security: false,
                },
            ],
        }],
    };
    Sample { action, nets, vm }
}

/// A writer on `db` (`in_flight` writes at most) with account "vim-a" and the [`sample`]
/// action stored: the start of most store tests.
pub async fn stored_sample(
    db: &rovim_store::test_support::TestDb,
    in_flight: usize,
) -> (rovim_store::DbWriter, NewVimAccount, Sample) {
    let w = rovim_store::DbWriter::start(db.store.clone(), in_flight, logger());
    let acc = account("vim-a");
    w.write(rovim_store::DbWrite::InsertVimAccount(acc.clone()))
        .await
        .unwrap();
    let s = sample(acc.id);
    w.write(rovim_store::DbWrite::InsertAction(s.action.clone()))
        .await
        .unwrap();
    (w, acc, s)
}
