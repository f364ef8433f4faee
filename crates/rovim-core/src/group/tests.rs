use super::*;
use crate::created::CreatedItem;
use crate::ids::ActionId;
use proptest::prelude::*;

fn key(i: u32) -> TaskKey {
    TaskKey::new(ActionId(uuid::Uuid::from_u128(1)), i)
}

fn net() -> ElementGroup {
    ElementGroup::new(ItemKind::Net, ItemId(uuid::Uuid::from_u128(7)))
}

fn created(id: &str) -> Outcome {
    Outcome::Created(Owned {
        vim_id: Some(id.into()),
        created_items: vec![],
    })
}

fn call_of(start: Start) -> VimCall {
    match start {
        Start::Call { call, .. } => call,
        Start::Settled(t) => panic!("expected a call, settled {t:?}"),
    }
}

/// Admits task `i` (SCHEDULED), which the group must accept.
fn admit(g: &mut ElementGroup, i: u32, action: Action, find_then_create: bool) {
    g.admit(GroupTask::scheduled(key(i), action, find_then_create))
        .unwrap();
}

fn status(g: &ElementGroup, i: u32) -> TaskStatus {
    g.task(key(i)).unwrap().status
}

// --- conformance list, spec §6.2 (reload and superseding of the in-memory design) ---

#[test]
fn conformance_1_reloaded_scheduled_creates_are_all_pending() {
    let groups: Vec<ElementGroup> = (0..5)
        .map(|i| {
            ElementGroup::restore(
                ItemKind::Vm,
                ItemId(uuid::Uuid::from_u128(100 + i as u128)),
                None,
                None,
                vec![GroupTask::scheduled(key(i), Action::Create, false)],
            )
        })
        .collect();
    for (i, g) in groups.iter().enumerate() {
        assert_eq!(g.next(), Next::Candidate(key(i as u32)));
    }
}

#[test]
fn conformance_2_reloaded_done_tasks_are_polled_not_executed() {
    let g = ElementGroup::restore(
        ItemKind::Net,
        ItemId::generate(),
        Some("vim-net".into()),
        Some(Owned {
            vim_id: Some("vim-net".into()),
            created_items: vec![],
        }),
        vec![GroupTask {
            status: TaskStatus::Done,
            ..GroupTask::scheduled(key(0), Action::Create, false)
        }],
    );
    assert_eq!(g.next(), Next::Idle);
    assert_eq!(g.live_tasks().count(), 1);
}

#[test]
fn conformance_3_4_create_find_and_scheduled_delete_form_one_group_and_delete_runs() {
    let mut g = ElementGroup::restore(
        ItemKind::Net,
        ItemId::generate(),
        Some("n1".into()),
        Some(Owned {
            vim_id: Some("n1".into()),
            created_items: vec![],
        }),
        vec![
            GroupTask {
                status: TaskStatus::Done,
                ..GroupTask::scheduled(key(0), Action::Create, false)
            },
            GroupTask {
                status: TaskStatus::Done,
                ..GroupTask::scheduled(key(1), Action::Find, false)
            },
            GroupTask::scheduled(key(2), Action::Delete, false),
        ],
    );
    assert!(g.delete_requested);
    assert_eq!(g.next(), Next::Candidate(key(2)));
    let Start::Call { call, transitions } = g.start(key(2)).unwrap() else {
        panic!()
    };
    assert_eq!(
        call,
        VimCall::Delete(Owned {
            vim_id: Some("n1".into()),
            created_items: vec![]
        })
    );
    // the CREATE and the FIND stop being polled; none of them is counted again
    assert_eq!(
        transitions
            .iter()
            .filter(|t| t.to == TaskStatus::Finished)
            .count(),
        2
    );
    assert!(transitions.iter().all(|t| t.counters().is_zero()));
}

#[test]
fn conformance_5_a_completed_group_has_nothing_pending() {
    let g = ElementGroup::restore(
        ItemKind::Net,
        ItemId::generate(),
        None,
        None,
        vec![
            GroupTask {
                status: TaskStatus::Finished,
                ..GroupTask::scheduled(key(0), Action::Create, false)
            },
            GroupTask {
                status: TaskStatus::Finished,
                ..GroupTask::scheduled(key(1), Action::Delete, false)
            },
        ],
    );
    assert_eq!(g.next(), Next::Idle);
    assert_eq!(g.live_tasks().count(), 0);
    assert!(g.is_quiet());
}

#[test]
fn conformance_8_delete_after_scheduled_create_supersedes_it_without_vim_calls() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    let t = g
        .admit(GroupTask::scheduled(key(1), Action::Delete, false))
        .unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!((t[0].key, t[0].to), (key(0), TaskStatus::Superseded));
    assert_eq!(t[0].counters(), CounterDelta { done: 1, failed: 0 });
    // the DELETE has nothing to delete: settled, no call
    let Start::Settled(t) = g.start(key(1)).unwrap() else {
        panic!()
    };
    assert_eq!(t[0].to, TaskStatus::Superseded);
    assert_eq!(g.next(), Next::Idle);
    assert!(g.is_quiet());
}

// --- behaviour of the rules ---

#[test]
fn create_then_delete_deletes_what_was_created() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    assert_eq!(call_of(g.start(key(0)).unwrap()), VimCall::Create);
    let t = g.finish(key(0), created("n1")).unwrap();
    assert_eq!(t[0].to, TaskStatus::Done);
    admit(&mut g, 1, Action::Delete, false);
    assert_eq!(
        call_of(g.start(key(1)).unwrap()),
        VimCall::Delete(Owned {
            vim_id: Some("n1".into()),
            created_items: vec![]
        })
    );
    let t = g.finish(key(1), Outcome::Deleted).unwrap();
    assert_eq!(t[0].to, TaskStatus::Finished);
    assert_eq!(g.vim_id, None);
    assert_eq!(status(&g, 0), TaskStatus::Finished);
}

/// A net rovim only found (by FIND, or by a FIND-then-CREATE that found it) is never deleted
/// on the VIM: its DELETE settles without a call.
#[test]
fn a_found_net_is_never_deleted() {
    for (action, find_then_create, call) in [
        (Action::Find, false, VimCall::Find),
        (Action::Create, true, VimCall::FindThenCreate),
    ] {
        let mut g = net();
        admit(&mut g, 0, action, find_then_create);
        assert_eq!(call_of(g.start(key(0)).unwrap()), call);
        let found = Outcome::Found {
            vim_id: "shared".into(),
        };
        g.finish(key(0), found).unwrap();
        admit(&mut g, 1, Action::Delete, false);
        assert!(matches!(g.start(key(1)).unwrap(), Start::Settled(_)));
        assert_eq!(status(&g, 1), TaskStatus::Superseded, "{call:?}");
    }
}

#[test]
fn delete_while_create_in_flight_waits_then_deletes() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    g.start(key(0)).unwrap();
    let t = g
        .admit(GroupTask::scheduled(key(1), Action::Delete, false))
        .unwrap();
    assert!(t.is_empty(), "an in-flight create is not superseded");
    assert_eq!(g.next(), Next::Busy(key(0)));
    assert!(g.start(key(1)).is_err(), "one call per element at a time");
    g.finish(key(0), created("n1")).unwrap();
    assert_eq!(g.next(), Next::Candidate(key(1)));
    assert!(matches!(
        call_of(g.start(key(1)).unwrap()),
        VimCall::Delete(_)
    ));
}

#[test]
fn failed_create_leftovers_are_deleted_bug_11() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    g.start(key(0)).unwrap();
    let leftover = Owned {
        vim_id: Some("n1".into()),
        created_items: vec![],
    };
    let t = g
        .finish(
            key(0),
            Outcome::Failed {
                error: "not vlan".into(),
                leftover: Some(leftover.clone()),
            },
        )
        .unwrap();
    assert_eq!(t[0].to, TaskStatus::Failed);
    assert_eq!(t[0].counters(), CounterDelta { done: 0, failed: 1 });
    admit(&mut g, 1, Action::Delete, false);
    assert_eq!(call_of(g.start(key(1)).unwrap()), VimCall::Delete(leftover));
}

#[test]
fn partial_created_items_alone_are_deleted() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    g.start(key(0)).unwrap();
    let port = CreatedItem {
        kind: crate::CreatedKind::Port,
        id: "p1".into(),
    };
    let leftover = Owned {
        vim_id: None,
        created_items: vec![port],
    };
    g.finish(
        key(0),
        Outcome::Failed {
            error: "boom".into(),
            leftover: Some(leftover.clone()),
        },
    )
    .unwrap();
    admit(&mut g, 1, Action::Delete, false);
    assert_eq!(call_of(g.start(key(1)).unwrap()), VimCall::Delete(leftover));
}

#[test]
fn a_second_delete_is_a_no_op_bug_6() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    g.start(key(0)).unwrap();
    g.finish(key(0), created("n1")).unwrap();
    admit(&mut g, 1, Action::Delete, false);
    g.start(key(1)).unwrap();
    g.finish(key(1), Outcome::Deleted).unwrap();
    admit(&mut g, 2, Action::Delete, false);
    assert!(matches!(g.start(key(2)).unwrap(), Start::Settled(_)));
    assert_eq!(status(&g, 2), TaskStatus::Superseded);
}

#[test]
fn a_failed_delete_keeps_what_is_left_for_the_next_delete() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    g.start(key(0)).unwrap();
    g.finish(key(0), created("n1")).unwrap();
    admit(&mut g, 1, Action::Delete, false);
    g.start(key(1)).unwrap();
    g.finish(
        key(1),
        Outcome::Failed {
            error: "in use".into(),
            leftover: None,
        },
    )
    .unwrap();
    admit(&mut g, 2, Action::Delete, false);
    assert!(matches!(
        call_of(g.start(key(2)).unwrap()),
        VimCall::Delete(_)
    ));
}

#[test]
fn create_after_delete_is_refused_and_duplicates_too() {
    let mut g = net();
    admit(&mut g, 0, Action::Delete, false);
    assert!(matches!(
        g.admit(GroupTask::scheduled(key(1), Action::Create, false)),
        Err(AdmitError::ItemDeleted { .. })
    ));
    assert_eq!(
        g.admit(GroupTask::scheduled(key(0), Action::Delete, false)),
        Err(AdmitError::Duplicate(key(0)))
    );
}

#[test]
fn a_second_create_of_an_existing_element_adopts_it() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    g.start(key(0)).unwrap();
    g.finish(key(0), created("n1")).unwrap();
    admit(&mut g, 1, Action::Find, false);
    let Start::Settled(t) = g.start(key(1)).unwrap() else {
        panic!()
    };
    assert_eq!(t[0].to, TaskStatus::Done);
    assert_eq!(g.live_tasks().count(), 2, "both tasks are polled (BUG-15)");
}

#[test]
fn dependency_failures_settle_a_scheduled_task() {
    let mut g = net();
    admit(&mut g, 0, Action::Create, false);
    let t = g.fail_scheduled(key(0), "dep failed".into()).unwrap();
    assert_eq!(t.counters(), CounterDelta { done: 0, failed: 1 });
    assert!(g.fail_scheduled(key(0), "again".into()).is_err());
}

// --- properties over any sequence of requests and VIM answers ---

#[derive(Debug, Clone)]
enum Op {
    Admit(Action, bool),
    Start,
    /// Complete the call in flight; the number picks the VIM's answer.
    Finish(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => prop_oneof![Just(Action::Create), Just(Action::Find), Just(Action::Delete)]
            .prop_flat_map(|a| any::<bool>().prop_map(move |ftc| Op::Admit(a, ftc && a == Action::Create))),
        3 => Just(Op::Start),
        3 => any::<u8>().prop_map(Op::Finish),
    ]
}

/// The VIM side of the model: what exists, who made it, what was deleted.
#[derive(Default)]
struct World {
    next_id: u32,
    created_by_rovim: Vec<String>,
    preexisting: Vec<String>,
    delete_calls: Vec<Owned>,
    deleted_ok: u32,
}

struct Run {
    g: ElementGroup,
    world: World,
    in_flight: Option<(TaskKey, VimCall)>,
    counted: std::collections::HashMap<TaskKey, i32>,
    index: u32,
}

impl Run {
    fn new() -> Self {
        let world = World {
            preexisting: vec!["pre-1".into()],
            ..World::default()
        };
        Run {
            g: net(),
            world,
            in_flight: None,
            counted: Default::default(),
            index: 0,
        }
    }

    fn record(&mut self, ts: &[Transition]) {
        for t in ts {
            let d = t.counters();
            *self.counted.entry(t.key).or_default() += d.done + d.failed;
        }
    }

    fn apply(&mut self, op: &Op, deletes_can_fail: bool) {
        match op {
            Op::Admit(action, ftc) => {
                let k = key(self.index);
                self.index += 1;
                if let Ok(ts) = self.g.admit(GroupTask::scheduled(k, *action, *ftc)) {
                    self.record(&ts);
                }
            }
            Op::Start => {
                if self.in_flight.is_some() {
                    return;
                }
                if let Next::Candidate(k) = self.g.next() {
                    match self.g.start(k).unwrap() {
                        Start::Call { call, transitions } => {
                            self.record(&transitions);
                            if let VimCall::Delete(owned) = &call {
                                self.world.delete_calls.push(owned.clone());
                            }
                            self.in_flight = Some((k, call));
                        }
                        Start::Settled(ts) => self.record(&ts),
                    }
                }
            }
            Op::Finish(pick) => {
                let Some((k, call)) = self.in_flight.take() else {
                    return;
                };
                let pick = *pick;
                let outcome = match call {
                    // An adopted element is rovim's to delete, like one it created.
                    VimCall::Create | VimCall::Adopt => self.create(pick),
                    VimCall::Find | VimCall::FindThenCreate => match pick % 3 {
                        0 => Outcome::Found {
                            vim_id: self.world.preexisting[0].clone(),
                        },
                        1 if call == VimCall::FindThenCreate => self.create(pick / 3),
                        _ => Outcome::Failed {
                            error: "not found or several".into(),
                            leftover: None,
                        },
                    },
                    VimCall::Delete(_) if deletes_can_fail && pick % 4 == 0 => Outcome::Failed {
                        error: "VIM refused".into(),
                        leftover: None,
                    },
                    VimCall::Delete(_) => {
                        self.world.deleted_ok += 1;
                        Outcome::Deleted
                    }
                };
                let ts = self.g.finish(k, outcome).unwrap();
                self.record(&ts);
            }
        }
    }

    fn create(&mut self, pick: u8) -> Outcome {
        self.world.next_id += 1;
        let id = format!("made-{}", self.world.next_id);
        self.world.created_by_rovim.push(id.clone());
        match pick % 4 {
            0 => Outcome::Failed {
                error: "quota".into(),
                leftover: None,
            },
            1 => Outcome::Failed {
                error: "half-way".into(),
                leftover: Some(Owned {
                    vim_id: Some(id),
                    created_items: vec![],
                }),
            },
            _ => Outcome::Created(Owned {
                vim_id: Some(id),
                created_items: vec![],
            }),
        }
    }

    /// Runs every remaining task to its end.
    fn drain(&mut self, deletes_can_fail: bool) {
        for _ in 0..100 {
            self.apply(&Op::Finish(2), deletes_can_fail);
            self.apply(&Op::Start, deletes_can_fail);
        }
        self.apply(&Op::Finish(2), deletes_can_fail);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the sequence of CREATE/FIND/DELETE on one element and whatever the VIM answers
    /// (deletes succeed), at most one VIM delete is issued, and only of something rovim created.
    #[test]
    fn at_most_one_delete_and_only_of_what_rovim_created(ops in proptest::collection::vec(op(), 0..40)) {
        let mut run = Run::new();
        for op in &ops { run.apply(op, false); }
        run.drain(false);
        prop_assert!(run.world.delete_calls.len() <= 1, "deletes: {:?}", run.world.delete_calls);
        for owned in &run.world.delete_calls {
            let id = owned.vim_id.as_ref().unwrap();
            prop_assert!(run.world.created_by_rovim.contains(id), "deleted {id} that rovim did not create");
            prop_assert!(!run.world.preexisting.contains(id), "deleted a found element");
        }
    }

    /// With failing deletes too: a found element is never deleted and at most one delete
    /// succeeds.
    #[test]
    fn found_elements_are_never_deleted(ops in proptest::collection::vec(op(), 0..40)) {
        let mut run = Run::new();
        for op in &ops { run.apply(op, true); }
        run.drain(true);
        prop_assert!(run.world.deleted_ok <= 1);
        for owned in &run.world.delete_calls {
            prop_assert!(!run.world.preexisting.contains(owned.vim_id.as_ref().unwrap()));
        }
    }

    /// Every admitted task ends counted exactly once, in done or failed.
    #[test]
    fn every_task_is_counted_exactly_once(ops in proptest::collection::vec(op(), 0..40)) {
        let mut run = Run::new();
        for op in &ops { run.apply(op, true); }
        run.drain(true);
        for t in &run.g.tasks {
            prop_assert!(!t.status.is_open(), "{t:?} still open after draining");
            prop_assert_eq!(run.counted.get(&t.key).copied().unwrap_or(0), 1, "{:?}", t);
        }
    }
}

#[test]
fn a_task_restored_in_build_resumes_the_call_its_start_made() {
    let build = |action, find_then_create| GroupTask {
        status: TaskStatus::Build,
        ..GroupTask::scheduled(key(0), action, find_then_create)
    };
    let restored = |task, owned| {
        ElementGroup::restore(
            ItemKind::Net,
            ItemId(uuid::Uuid::from_u128(7)),
            None,
            owned,
            vec![task],
        )
    };
    assert_eq!(
        restored(build(Action::Create, false), None).resume(),
        Some((key(0), VimCall::Create))
    );
    assert_eq!(
        restored(build(Action::Create, true), None).resume(),
        Some((key(0), VimCall::FindThenCreate))
    );
    assert_eq!(
        restored(build(Action::Find, false), None).resume(),
        Some((key(0), VimCall::Find))
    );
    let owned = Owned {
        vim_id: Some("net-1".into()),
        created_items: Vec::new(),
    };
    assert_eq!(
        restored(build(Action::Delete, false), Some(owned.clone())).resume(),
        Some((key(0), VimCall::Delete(owned)))
    );
    assert_eq!(
        restored(build(Action::Delete, false), None).resume(),
        Some((key(0), VimCall::Delete(Owned::default()))),
        "what it was to delete is gone: the delete finds nothing and succeeds"
    );
    let scheduled = GroupTask::scheduled(key(0), Action::Create, false);
    assert_eq!(
        restored(scheduled, None).resume(),
        None,
        "nothing was in flight"
    );
}
