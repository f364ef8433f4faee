//! The VimActor's live elements: it registers with the RefreshScheduler, polls what falls due,
//! and carries out what its [`LiveSet`] decides (writes, next polls, SDN ports).

use std::collections::HashMap;

use actix::fut::{ActorFutureExt, wrap_future};
use actix::prelude::*;
use rand::Rng;
use rovim_core::{ItemKind, ItemStatus};
use rovim_sdn::SdnNetState;
use slog::warn;

use super::VimActor;
use crate::live_calls::{self, RefreshError};
use crate::live_set::{FirstPoll, RefreshCall};
use crate::refresh_scheduler::{RefreshDue, Register, Track};
use crate::task_entry::ElementKey;
use crate::vim_call::RefreshAnswer;

impl VimActor {
    /// Writes a batch; a failure stops the actor (its successor reloads what was committed).
    fn write(&mut self, batch: rovim_store::WriteBatch, ctx: &mut Context<Self>) {
        if batch.is_empty() {
            return;
        }
        let writer = self.writer.clone();
        let changes = crate::events::item_changes(self.account.id, &batch);
        let events = self.shared.events.clone();
        ctx.spawn(
            wrap_future::<_, Self>(async move {
                writer.write(batch).await?;
                for change in changes {
                    events.publish(change);
                }
                Ok(())
            })
            .map(|res, act, ctx| {
                if let Err(e) = res {
                    act.write_failed(ctx, e);
                }
            }),
        );
    }

    /// Registers with the RefreshScheduler and tracks every live element, their first polls
    /// spread over one interval so a restart does not poll everything at once.
    pub(super) fn start_refresh(
        &mut self,
        ctx: &mut Context<Self>,
        mut items: HashMap<ElementKey, crate::working_set::ItemState>,
    ) {
        let batch_size = self
            .env
            .as_ref()
            .map_or(1, |e| e.connector.refresh_batch_size());
        self.shared.refresh.do_send(Register {
            vim: self.account.id,
            generation: self.generation,
            recipient: ctx.address().recipient(),
            batch_size,
        });
        let live = self.ws.live_elements().into_iter().map(|(element, _)| {
            let observed = items.remove(&element).and_then(|i| i.observed);
            (element, observed)
        });
        let live = self.live.restore(live);
        self.track(live, FirstPoll::Spread);
    }

    /// Asks the RefreshScheduler to poll elements again after the interval of their status.
    pub(super) fn track(&mut self, elements: Vec<(ElementKey, ItemStatus)>, first: FirstPoll) {
        let mut rng = rand::rng();
        let elements = self.live.polls(elements, first, || rng.random());
        if !elements.is_empty() {
            self.shared.refresh.do_send(Track {
                vim: self.account.id,
                elements,
            });
        }
    }

    /// Applies a refresh answer: writes what changed and schedules the next polls.
    fn on_refresh(
        &mut self,
        call: RefreshCall,
        answer: Result<RefreshAnswer, RefreshError>,
        sdn: HashMap<ElementKey, SdnNetState>,
        ctx: &mut Context<Self>,
    ) {
        let applied = self.live.apply_refresh(&call, &answer, &sdn);
        for (element, vim_id) in &applied.gone {
            warn!(self.log, "element deleted outside rovim"; "item" => element.1.to_string(), "vim_id" => vim_id);
        }
        for (kind, item) in &applied.drifted {
            warn!(self.log, "element differs from what was asked"; "item" => item.to_string(), "kind" => kind.as_str());
            self.shared
                .metrics
                .drift
                .with_label_values(&[&self.account.id.to_string(), kind.as_str()])
                .inc();
        }
        if answer.is_ok() && call.kind == ItemKind::Vm {
            self.sync_sdn_ports(&applied.again, ctx);
        }
        self.write(applied.batch, ctx);
        self.track(applied.again, FirstPoll::Interval);
    }

    /// Makes each passthrough interface's SDN port match what the VIM reports.
    fn sync_sdn_ports(&mut self, vms: &[(ElementKey, ItemStatus)], ctx: &mut Context<Self>) {
        let Some(link) = self.env.as_ref().and_then(|e| e.sdn.clone()) else {
            return;
        };
        let vms: Vec<(ElementKey, String)> = vms
            .iter()
            .filter_map(|(e, _)| Some((*e, self.ws.live_vim_id(*e)?)))
            .collect();
        let work = self.live.port_work(&vms);
        if work.is_empty() {
            return;
        }
        ctx.spawn(
            wrap_future::<_, Self>(live_calls::carry_out_ports(link, work)).map(|done, act, ctx| {
                let (batch, failures) = act.live.ports_done(done, || rand::rng().random());
                for (row, error) in failures {
                    warn!(act.log, "SDN port not made"; "interface" => row.to_string(), "error" => error.to_string());
                }
                act.write(batch, ctx);
            }),
        );
    }
}

impl Handler<RefreshDue> for VimActor {
    type Result = ();

    /// One refresh call per kind for the batch (the scheduler keeps batches within the
    /// connector's size).
    fn handle(&mut self, msg: RefreshDue, ctx: &mut Context<Self>) {
        let Some(env) = self.env.clone() else { return };
        let due: Vec<(ElementKey, String)> = msg
            .0
            .into_iter()
            .filter_map(|e| Some((e, self.ws.live_vim_id(e)?)))
            .collect();
        for call in self.live.refresh_calls(due, env.sdn.is_some()) {
            let env = env.clone();
            let work = async move {
                let (answer, sdn) = live_calls::refresh(env, &call).await;
                (call, answer, sdn)
            };
            ctx.spawn(
                wrap_future::<_, Self>(work)
                    .map(|(call, answer, sdn), act, ctx| act.on_refresh(call, answer, sdn, ctx)),
            );
        }
    }
}
