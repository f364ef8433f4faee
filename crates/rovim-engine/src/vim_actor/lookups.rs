//! What a VimActor looks up outside itself: which VMs are still on a net about to be deleted,
//! and the state of tasks of other accounts its tasks depend on (registering with the
//! Supervisor first, so a settlement in between is not missed).

use actix::fut::{ActorFutureExt, wrap_future};
use actix::prelude::*;
use rovim_core::TaskKey;
use rovim_store::reads;

use super::VimActor;
use crate::messages::{ActorExit, ForeignSettled, Watch};
use crate::shared::read;
use crate::task_entry::TaskSnapshot;
use crate::working_set::NetUsersQuery;

impl VimActor {
    /// Reads which VMs are still on the net of a DELETE about to run.
    pub(super) fn ask_net_users(&mut self, query: NetUsersQuery, ctx: &mut Context<Self>) {
        let vim = self.account.id;
        let (net, vim_id) = (query.element.1, query.vim_id.clone());
        let fetch = read(&self.shared.store, move |conn| {
            reads::net_users(conn, vim, net, vim_id.as_deref())
        });
        ctx.spawn(
            wrap_future::<_, Self>(fetch).map(move |res, act, ctx| match res {
                Ok(users) => {
                    act.ws.net_users(&query, &users);
                    act.pump(ctx);
                }
                Err(e) => act.read_failed(ctx, e),
            }),
        );
    }

    /// Registers interest in tasks outside this actor, then reads their stored state.
    pub(super) fn resolve(&mut self, keys: Vec<TaskKey>, ctx: &mut Context<Self>) {
        let watch = self.reports.watch.clone();
        let store = self.shared.store.clone();
        let vim = self.account.id;
        let lookup = async move {
            watch
                .send(Watch {
                    vim,
                    keys: keys.clone(),
                })
                .await
                .map_err(|e| e.to_string())?;
            read(&store, move |conn| {
                keys.into_iter()
                    .map(|k| {
                        Ok((
                            k,
                            reads::get_task(conn, k)?
                                .as_ref()
                                .map(TaskSnapshot::of_record),
                        ))
                    })
                    .collect::<Result<Vec<_>, rovim_store::StoreError>>()
            })
            .await
            .map_err(|e| e.to_string())
        };
        ctx.spawn(
            wrap_future::<_, Self>(lookup).map(|res, act, ctx| match res {
                Ok(answers) => {
                    act.ws.resolved(answers);
                    act.pump(ctx);
                }
                Err(e) => act.fail(
                    ctx,
                    ActorExit::Database,
                    format!("cannot look dependencies up: {e}"),
                ),
            }),
        );
    }
}

impl Handler<ForeignSettled> for VimActor {
    type Result = ();

    fn handle(&mut self, msg: ForeignSettled, ctx: &mut Context<Self>) {
        for snap in msg.0 {
            self.ws.foreign_settled(snap);
        }
        self.pump(ctx);
    }
}
