//! The live elements of one VIM account, as its VimActor watches them: what was last stored of
//! each (so a refresh writes only changes), when each is polled next, which VIM ids a refresh
//! asks for, what an answer writes, and which SDN ports to make or re-make. A plain struct that
//! returns its decisions; the VimActor carries them out (calls, writes, scheduling), as it does
//! for the [`crate::working_set::WorkingSet`]'s outbox.

use std::collections::HashMap;
use std::time::Duration;

use rovim_core::CreatedKind;
use rovim_core::{ItemId, ItemKind, ItemStatus, Outcome, RefreshPolicy};
use rovim_sdn::{SdnError, SdnNetState};
use rovim_store::{InterfaceUpdate, WriteBatch};

use crate::calls::CallResult;
use crate::live_calls::RefreshError;
use crate::refresh::{Observed, PortJob};
use crate::task_entry::ElementKey;
use crate::vim_call::RefreshAnswer;

/// One refresh call: the elements of one kind due now with their VIM ids, the distinct ids to
/// ask for (two rovim items on one VIM element are asked once and both follow it, BUG-15), and
/// the SDN networks whose state is merged into their net's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshCall {
    pub kind: ItemKind,
    pub targets: Vec<(ElementKey, String)>,
    pub ids: Vec<String>,
    pub sdn_nets: Vec<(ElementKey, String)>,
}

/// What a refresh answer leads to.
#[derive(Debug, Default)]
pub struct RefreshApplied {
    pub batch: WriteBatch,
    /// To poll again, at the interval of their status.
    pub again: Vec<(ElementKey, ItemStatus)>,
    /// Gone from the VIM (deleted outside rovim), with their VIM ids: no longer polled.
    pub gone: Vec<(ElementKey, String)>,
    /// Elements found drifted from what was asked since their last refresh.
    pub drifted: Vec<ElementKey>,
}

/// An SDN port change for one interface of a VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortWork {
    pub vm: ElementKey,
    pub vm_vim_id: String,
    /// The SDN network of the interface's net.
    pub sdn_net: Option<String>,
    pub job: PortJob,
}

/// What became of a [`PortWork`]: the port made (or none wanted), or why not.
pub type PortDone = (PortWork, Result<Option<String>, SdnError>);

/// When a tracked element is polled first (`due`) and then every `interval`.
pub type Poll = (ElementKey, Duration, Duration);

pub struct LiveSet {
    observed: HashMap<ElementKey, Observed>,
    asked: rovim_core::AskedPool,
    policy: RefreshPolicy,
    /// How soon an element just created is polled first.
    first_poll: Duration,
}

/// When a newly tracked element is polled first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPoll {
    /// After the interval of its status, with jitter.
    Interval,
    /// Anywhere in the interval (after a restart, so the elements do not all fall due at once).
    Spread,
    /// Soon (`refresh.first_secs`): just created, its first state read joins the batch of
    /// every element created meanwhile instead of costing a call of its own.
    Soon,
}

impl LiveSet {
    pub fn new(policy: RefreshPolicy, first_poll: Duration) -> LiveSet {
        LiveSet {
            observed: HashMap::new(),
            asked: Default::default(),
            policy,
            first_poll,
        }
    }

    /// Takes over the live elements restored at start, with what was stored of them.
    pub fn restore(
        &mut self,
        live: impl IntoIterator<Item = (ElementKey, Option<Observed>)>,
    ) -> Vec<(ElementKey, ItemStatus)> {
        live.into_iter()
            .map(|(element, observed)| {
                let observed = observed.unwrap_or_default();
                let status = observed.status.unwrap_or(ItemStatus::Build);
                self.observed.insert(element, observed);
                (element, status)
            })
            .collect()
    }

    /// A call's result: an element created or found is live from now on (with what the call
    /// reported of it); returns it with its status, to be polled.
    pub fn on_outcome(&mut self, result: &CallResult) -> Option<(ElementKey, ItemStatus)> {
        let sdn_net_id = match &result.outcome {
            Outcome::Created(made) => made
                .created_items
                .iter()
                .find(|c| c.kind == CreatedKind::SdnNet)
                .map(|c| c.id.clone()),
            Outcome::Found { .. } => None,
            _ => return None,
        };
        let observed = Observed::of_outcome(
            result.report.as_ref(),
            &result.interfaces,
            &result.iface_nets,
            sdn_net_id,
        );
        let status = observed.status.unwrap_or(ItemStatus::Build);
        let observed = Observed {
            asked: result.asked.clone().map(|a| self.asked.share(a)),
            ..observed
        };
        self.observed.insert(result.element, observed);
        Some((result.element, status))
    }

    /// Elements no longer live (deleted, superseded): not polled, not written by a refresh.
    pub fn forget(&mut self, elements: &[ElementKey]) {
        for element in elements {
            self.observed.remove(element);
        }
    }

    #[cfg(test)]
    pub fn is_live(&self, element: &ElementKey) -> bool {
        self.observed.contains_key(element)
    }

    /// When each element is polled: first as `first` says (`random` in `[0, 1)` for the
    /// jitter), then after the interval of its status. Statuses that are not polled (DELETED)
    /// are left out.
    pub fn polls(
        &self,
        elements: Vec<(ElementKey, ItemStatus)>,
        first: FirstPoll,
        mut random: impl FnMut() -> f64,
    ) -> Vec<Poll> {
        elements
            .into_iter()
            .filter_map(|(element, status)| {
                let interval = self.policy.interval(status)?;
                let due = match first {
                    FirstPoll::Spread => interval.mul_f64(random()),
                    FirstPoll::Interval => self.policy.jittered(status, random())?,
                    FirstPoll::Soon => self.first_poll.min(interval),
                };
                Some((element, due, interval))
            })
            .collect()
    }

    /// The refresh calls for the elements due, given their VIM ids: one per kind.
    pub fn refresh_calls(
        &self,
        due: Vec<(ElementKey, String)>,
        with_sdn: bool,
    ) -> Vec<RefreshCall> {
        let mut calls = Vec::new();
        for kind in [ItemKind::Net, ItemKind::Vm] {
            let targets: Vec<(ElementKey, String)> =
                due.iter().filter(|(e, _)| e.0 == kind).cloned().collect();
            if targets.is_empty() {
                continue;
            }
            let mut ids: Vec<String> = targets.iter().map(|(_, v)| v.clone()).collect();
            ids.sort();
            ids.dedup();
            let sdn_nets = if with_sdn && kind == ItemKind::Net {
                targets
                    .iter()
                    .filter_map(|(e, _)| Some((*e, self.observed.get(e)?.sdn_net_id.clone()?)))
                    .collect()
            } else {
                Vec::new()
            };
            calls.push(RefreshCall {
                kind,
                targets,
                ids,
                sdn_nets,
            });
        }
        calls
    }

    /// Compares a refresh answer with what was stored: what to write, what to poll again (a
    /// VIM that could not answer: soon, whatever the state), and what is gone.
    pub fn apply_refresh(
        &mut self,
        call: &RefreshCall,
        answer: &Result<RefreshAnswer, RefreshError>,
        sdn: &HashMap<ElementKey, SdnNetState>,
    ) -> RefreshApplied {
        let mut out = RefreshApplied::default();
        for (element, vim_id) in &call.targets {
            // Deleted or superseded meanwhile: its DELETE took it out of polling.
            let Some(observed) = self.observed.get_mut(element) else {
                continue;
            };
            let changes = match answer {
                Ok(RefreshAnswer::Nets(m)) => observed.apply_net(m.get(vim_id), sdn.get(element)),
                Ok(RefreshAnswer::Vms(m)) => observed.apply_vm(m.get(vim_id)),
                Err(e) => observed.apply_vim_error(&e.to_string(), sdn.get(element)),
            };
            if let Some(u) = changes.item {
                match call.kind {
                    ItemKind::Net => out.batch.nets.push((element.1, u)),
                    ItemKind::Vm => out.batch.vms.push((element.1, u)),
                }
            }
            out.batch.interfaces.extend(changes.interfaces);
            if changes.drifted {
                out.drifted.push(*element);
            }
            let status = changes.status.unwrap_or(ItemStatus::Build);
            if answer.is_err() {
                out.again.push((*element, ItemStatus::Build));
            } else if status == ItemStatus::Deleted {
                self.observed.remove(element);
                out.gone.push((*element, vim_id.clone()));
            } else {
                out.again.push((*element, status));
            }
        }
        out
    }

    /// The SDN port changes the VMs' interfaces need now (spec §1.12): a port where compute
    /// node and PCI are known on a net with an SDN network, re-made when they, the VLAN or the
    /// MAC change. Each is marked under way until [`LiveSet::ports_done`].
    pub fn port_work(&mut self, vms: &[(ElementKey, String)]) -> Vec<PortWork> {
        let mut work = Vec::new();
        for (vm, vm_vim_id) in vms {
            let Some(o) = self.observed.get(vm) else {
                continue;
            };
            let sdn_nets: Vec<Option<String>> = o
                .interfaces
                .iter()
                .map(|i| {
                    i.net
                        .and_then(|n| self.observed.get(&(ItemKind::Net, n)))
                        .and_then(|n| n.sdn_net_id.clone())
                })
                .collect();
            let Some(observed) = self.observed.get_mut(vm) else {
                continue;
            };
            for (iface, sdn_net) in observed.interfaces.iter_mut().zip(sdn_nets) {
                if let Some(job) = iface.port_job(sdn_net.as_deref()) {
                    iface.port_mut().pending = true;
                    work.push(PortWork {
                        vm: *vm,
                        vm_vim_id: vm_vim_id.clone(),
                        sdn_net,
                        job,
                    });
                }
            }
        }
        work
    }

    /// Records what became of the port changes: what to write, and the failures to report. A
    /// failed creation backs off (`random` in `[0, 1)` jitters it); a failed re-make clears the
    /// old port's id, since the old port was deleted first.
    pub fn ports_done(
        &mut self,
        done: Vec<PortDone>,
        mut random: impl FnMut() -> f64,
    ) -> (WriteBatch, Vec<(ItemId, SdnError)>) {
        let mut batch = WriteBatch::default();
        let mut failures = Vec::new();
        for (work, made) in done {
            let job = work.job;
            let Some(iface) = self
                .observed
                .get_mut(&work.vm)
                .and_then(|o| o.interfaces.iter_mut().find(|i| i.row == job.row))
            else {
                continue;
            };
            iface.port_mut().pending = false;
            iface.port_tried(made.is_ok(), random());
            match made {
                Ok(port) => {
                    let state = iface.port_mut();
                    state.key = port.as_ref().and(job.new.clone());
                    state.id = port.clone();
                    let u = InterfaceUpdate {
                        sdn_port_id: Some(port),
                        ..Default::default()
                    };
                    batch.interfaces.push((job.row, u));
                }
                Err(e) => {
                    failures.push((job.row, e));
                    if job.old.is_some() {
                        let state = iface.port_mut();
                        state.id = None;
                        state.key = None;
                        let u = InterfaceUpdate {
                            sdn_port_id: Some(None),
                            ..Default::default()
                        };
                        batch.interfaces.push((job.row, u));
                    }
                }
            }
        }
        (batch, failures)
    }
}

#[cfg(test)]
mod tests;
