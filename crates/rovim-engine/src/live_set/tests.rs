//! The LiveSet's decisions, without an actor: what a refresh asks and writes, when elements are
//! polled, which SDN ports are made.

use std::collections::HashMap;
use std::time::Duration;

use rovim_core::{ItemId, ItemKind, ItemStatus, RefreshPolicy};
use rovim_sdn::{SdnError, SdnNetState};
use rovim_vim::{NetReport, VmReport};

use super::*;
use crate::refresh::ObservedInterface;
use crate::vim_call::RefreshAnswer;

fn id(n: u128) -> ItemId {
    format!("00000000-0000-0000-0000-{n:012}").parse().unwrap()
}

fn net(n: u128) -> ElementKey {
    (ItemKind::Net, id(n))
}

fn vm(n: u128) -> ElementKey {
    (ItemKind::Vm, id(n))
}

fn active() -> Observed {
    Observed {
        status: Some(ItemStatus::Active),
        ..Observed::default()
    }
}

#[test]
fn two_items_on_one_vim_element_are_asked_once_and_both_follow_it() {
    let mut live = LiveSet::new(RefreshPolicy::default(), Duration::from_millis(500));
    live.restore([
        (net(1), Some(active())),
        (net(2), Some(active())),
        (vm(3), None),
    ]);
    let calls = live.refresh_calls(
        vec![
            (net(1), "n-a".into()),
            (vm(3), "v-a".into()),
            (net(2), "n-a".into()),
        ],
        false,
    );
    assert_eq!(calls.len(), 2, "one call per kind");
    assert_eq!(calls[0].kind, ItemKind::Net);
    assert_eq!(calls[0].ids, vec!["n-a".to_owned()], "BUG-15: asked once");
    assert_eq!(calls[0].targets.len(), 2);

    let down = NetReport {
        seen: Default::default(),
        status: ItemStatus::Error,
        error_msg: Some("link down".into()),
        vim_info: None,
    };
    let answer = Ok(RefreshAnswer::Nets(HashMap::from([(
        "n-a".to_owned(),
        down,
    )])));
    let applied = live.apply_refresh(&calls[0], &answer, &HashMap::new());
    assert_eq!(applied.batch.nets.len(), 2, "both items written");
    assert_eq!(
        applied.again,
        vec![(net(1), ItemStatus::Error), (net(2), ItemStatus::Error)]
    );
    let again = live.apply_refresh(&calls[0], &answer, &HashMap::new());
    assert!(again.batch.is_empty(), "nothing changed, nothing written");
}

#[test]
fn a_vim_error_polls_the_whole_batch_again_soon_and_a_missing_element_is_gone() {
    let mut live = LiveSet::new(RefreshPolicy::default(), Duration::from_millis(500));
    live.restore([(vm(1), Some(active())), (vm(2), Some(active()))]);
    let calls = live.refresh_calls(vec![(vm(1), "a".into()), (vm(2), "b".into())], false);
    let timeout = rovim_vim::VimError::Timeout(Duration::from_secs(30));
    let failed = live.apply_refresh(&calls[0], &Err(timeout.into()), &HashMap::new());
    assert_eq!(failed.batch.vms.len(), 2, "BUG-16: every element marked");
    assert!(
        failed.again.iter().all(|(_, s)| *s == ItemStatus::Build),
        "soon"
    );

    let only_a = VmReport {
        seen: Default::default(),
        status: ItemStatus::Active,
        error_msg: None,
        vim_info: None,
        interfaces: Vec::new(),
    };
    let answer = Ok(RefreshAnswer::Vms(HashMap::from([(
        "a".to_owned(),
        only_a,
    )])));
    let applied = live.apply_refresh(&calls[0], &answer, &HashMap::new());
    assert_eq!(
        applied.gone,
        vec![(vm(2), "b".to_owned())],
        "BUG-17: not dropped silently"
    );
    assert!(!live.is_live(&vm(2)) && live.is_live(&vm(1)));
    assert_eq!(applied.again, vec![(vm(1), ItemStatus::Active)]);
}

#[test]
fn a_net_with_an_sdn_network_merges_its_state() {
    let mut live = LiveSet::new(RefreshPolicy::default(), Duration::from_millis(500));
    let wired = Observed {
        sdn_net_id: Some("sdn-1".into()),
        ..active()
    };
    live.restore([(net(1), Some(wired)), (net(2), Some(active()))]);
    let calls = live.refresh_calls(vec![(net(1), "a".into()), (net(2), "b".into())], true);
    assert_eq!(calls[0].sdn_nets, vec![(net(1), "sdn-1".to_owned())]);
    assert!(
        live.refresh_calls(vec![(net(1), "a".into())], false)[0]
            .sdn_nets
            .is_empty()
    );
    let ok = |_| NetReport {
        seen: Default::default(),
        status: ItemStatus::Active,
        error_msg: None,
        vim_info: None,
    };
    let answer = Ok(RefreshAnswer::Nets(HashMap::from([
        ("a".to_owned(), ok(())),
        ("b".to_owned(), ok(())),
    ])));
    let sdn = HashMap::from([(
        net(1),
        SdnNetState {
            status: rovim_core::SdnNetStatus::Error,
            error: Some("controller lost the VLAN".into()),
        },
    )]);
    let applied = live.apply_refresh(&calls[0], &answer, &sdn);
    assert_eq!(applied.again[0], (net(1), ItemStatus::SdnError));
    assert_eq!(applied.again[1], (net(2), ItemStatus::Active));
}

#[test]
fn polls_follow_the_status_interval_with_jitter_and_spread_after_a_restart() {
    let live = LiveSet::new(RefreshPolicy::default(), Duration::from_millis(500));
    let elements = vec![
        (vm(1), ItemStatus::Build),
        (vm(2), ItemStatus::Active),
        (vm(3), ItemStatus::Deleted),
    ];
    let polls = live.polls(elements.clone(), FirstPoll::Interval, || 0.5);
    assert_eq!(polls.len(), 2, "a DELETED element is not polled");
    assert_eq!(polls[0].2, Duration::from_secs(5));
    assert_eq!(polls[1].2, Duration::from_secs(60));
    let spread = live.polls(elements.clone(), FirstPoll::Spread, || 0.25);
    assert_eq!(
        spread[1].1,
        Duration::from_secs(15),
        "anywhere in the interval"
    );
    let soon = live.polls(elements, FirstPoll::Soon, || 0.9);
    assert_eq!(soon.len(), 2);
    assert_eq!(
        (soon[0].1, soon[0].2),
        (Duration::from_millis(500), Duration::from_secs(5)),
        "just created: polled soon, then at its status' interval"
    );
}

fn passthrough(row: u128, on: u128) -> ObservedInterface {
    ObservedInterface {
        net: Some(id(on)),
        compute_node: Some("node-1".into()),
        pci: Some("0000:81:00.1".into()),
        vlan: Some(101),
        ..ObservedInterface::new(id(row), Some(format!("if-{row}")))
    }
}

#[test]
fn ports_are_made_once_for_passthrough_interfaces_on_sdn_nets_and_back_off_on_failure() {
    let mut live = LiveSet::new(RefreshPolicy::default(), Duration::from_millis(500));
    let sdn_net = Observed {
        sdn_net_id: Some("sdn-1".into()),
        ..active()
    };
    let on_plain_net = passthrough(11, 2);
    let the_vm = Observed {
        interfaces: vec![passthrough(10, 1), on_plain_net],
        ..active()
    };
    live.restore([
        (net(1), Some(sdn_net)),
        (net(2), Some(active())),
        (vm(5), Some(the_vm)),
    ]);
    let work = live.port_work(&[(vm(5), "vm-5".into())]);
    assert_eq!(work.len(), 1, "only the interface on the SDN net: {work:?}");
    assert_eq!(work[0].sdn_net.as_deref(), Some("sdn-1"));
    assert!(work[0].job.old.is_none() && work[0].job.new.is_some());
    assert!(
        live.port_work(&[(vm(5), "vm-5".into())]).is_empty(),
        "under way: not twice"
    );

    let (batch, failures) = live.ports_done(
        vec![(
            work[0].clone(),
            Err(SdnError::Connection("SDN down".into())),
        )],
        || 0.0,
    );
    assert_eq!(
        failures,
        vec![(id(10), SdnError::Connection("SDN down".into()))]
    );
    assert!(batch.is_empty(), "nothing existed, nothing to clear");
    assert!(
        live.port_work(&[(vm(5), "vm-5".into())]).is_empty(),
        "backing off"
    );

    let mut live2 = LiveSet::new(RefreshPolicy::default(), Duration::from_millis(500));
    live2.restore([
        (
            net(1),
            Some(Observed {
                sdn_net_id: Some("sdn-1".into()),
                ..active()
            }),
        ),
        (
            vm(5),
            Some(Observed {
                interfaces: vec![passthrough(10, 1)],
                ..active()
            }),
        ),
    ]);
    let work = live2.port_work(&[(vm(5), "vm-5".into())]);
    let (batch, _) = live2.ports_done(vec![(work[0].clone(), Ok(Some("port-9".into())))], || 0.0);
    assert_eq!(batch.interfaces.len(), 1);
    assert_eq!(
        batch.interfaces[0].1.sdn_port_id,
        Some(Some("port-9".into()))
    );
    assert!(
        live2.port_work(&[(vm(5), "vm-5".into())]).is_empty(),
        "made: nothing more to do"
    );
}
