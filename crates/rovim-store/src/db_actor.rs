//! The DbActor: the one writer. Every write of the engine goes through [`DbWriter::write`]; the
//! actor (an actix `SyncArbiter` thread) commits whatever is queued when it gets to run, in one
//! transaction (group commit), so a burst of task outcomes costs one commit instead of one each.
//!
//! It never dies: a handler panic is caught and becomes an error reply for the writes it held
//! (actix does not restart a panicked sync actor, and its address would be dead for good). A
//! semaphore bounds the writes in flight, since the SyncArbiter's queue itself is unbounded.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use diesel::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::accounts::{
    NewSdnController, NewVimAccount, VimAccountChanges, delete_sdn_controller, delete_vim_account,
    insert_sdn_controller, insert_vim_account, update_vim_account,
};
use crate::connection::AnyConnection;
use crate::error::StoreError;
use crate::leases::{Fence, stale_fences};
use crate::new_action::{NewAction, insert_action};
use crate::notify;
use crate::store::Store;
use crate::write_batch::{Applied, WriteBatch, apply_batches};
use rovim_core::{SdnControllerId, VimAccountId};

/// One unit of writing; each is committed entirely or not at all.
#[derive(Debug, Clone)]
pub enum DbWrite {
    Batch(WriteBatch),
    InsertAction(NewAction),
    InsertVimAccount(NewVimAccount),
    InsertSdnController(NewSdnController),
    UpdateVimAccount(VimAccountId, VimAccountChanges),
    DeleteVimAccount(VimAccountId),
    DeleteSdnController(SdnControllerId),
    /// A failpoint: panics inside the writer (tests of its panic path).
    #[cfg(feature = "test-support")]
    Panic,
}

impl DbWrite {
    fn fence(&self) -> Option<&Fence> {
        match self {
            DbWrite::Batch(b) => b.fence.as_ref(),
            _ => None,
        }
    }

    fn apply(&self, conn: &mut AnyConnection) -> Result<Applied, StoreError> {
        match self {
            DbWrite::Batch(b) => return Ok(apply_batches(conn, &[b])?.remove(0)),
            DbWrite::InsertAction(a) => {
                insert_action(conn, a)?;
                return Ok(Applied {
                    rows: a.row_count(),
                    ..Applied::default()
                });
            }
            DbWrite::InsertVimAccount(a) => insert_vim_account(conn, a),
            DbWrite::InsertSdnController(c) => insert_sdn_controller(conn, c),
            DbWrite::UpdateVimAccount(id, c) => update_vim_account(conn, *id, c),
            DbWrite::DeleteVimAccount(id) => delete_vim_account(conn, *id),
            DbWrite::DeleteSdnController(id) => delete_sdn_controller(conn, *id),
            #[cfg(feature = "test-support")]
            DbWrite::Panic => panic!("failpoint: DbWrite::Panic"),
        }?;
        Ok(Applied {
            rows: 1,
            ..Applied::default()
        })
    }
}

type Reply = oneshot::Sender<Result<Applied, StoreError>>;

struct Pending {
    write: DbWrite,
    reply: Reply,
    _permit: OwnedSemaphorePermit,
}

#[derive(Default)]
struct Queue {
    items: Vec<Pending>,
    /// A `Flush` message is on its way to the actor: no need to send another.
    flush_scheduled: bool,
}

/// Counters of the writer's work, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct DbStats {
    pub commits: AtomicU64,
    pub writes: AtomicU64,
    /// Rows inserted or changed by committed writes.
    pub rows: AtomicU64,
    pub failed_writes: AtomicU64,
    /// Writes refused because their lease had moved to another instance (see
    /// [`crate::leases`]): what an old owner tried after a takeover.
    pub fenced_writes: AtomicU64,
    pub largest_group: AtomicU64,
    pub commit_micros: AtomicU64,
}

/// The actor behind [`DbWriter`]. Public only so that its address type can be named.
pub struct DbActor {
    store: Store,
    queue: Arc<Mutex<Queue>>,
    stats: Arc<DbStats>,
    log: slog::Logger,
}

impl Actor for DbActor {
    type Context = SyncContext<Self>;
}

#[derive(Message)]
#[rtype(result = "()")]
struct Flush;

#[derive(Message)]
#[rtype(result = "Result<(), StoreError>")]
struct Ping;

impl DbActor {
    /// Commits all writes in one transaction; if that fails, each write alone, so one bad write
    /// fails by itself and the others still land.
    fn commit(&self, items: &[Pending]) -> Vec<Result<Applied, StoreError>> {
        let started = std::time::Instant::now();
        let mut conn = match self.store.conn() {
            Ok(c) => c,
            Err(e) => {
                let msg = e.to_string();
                return items
                    .iter()
                    .map(|_| Err(StoreError::Writer(msg.clone())))
                    .collect();
            }
        };
        let instance = self.store.instance().cloned();
        let all = conn.transaction::<_, StoreError, _>(|c| {
            let results = apply_all(c, items)?;
            notify::after(
                c,
                instance.as_deref(),
                items.iter().map(|p| &p.write),
                &results,
            )?;
            Ok(results)
        });
        let results = match all {
            Ok(results) => {
                self.stats.commits.fetch_add(1, Ordering::Relaxed);
                results
            }
            Err(e) if items.len() == 1 => vec![Err(e)],
            Err(e) => {
                slog::debug!(self.log, "group commit failed, committing writes one by one"; "writes" => items.len(), "error" => %e);
                items
                    .iter()
                    .map(|p| {
                        self.stats.commits.fetch_add(1, Ordering::Relaxed);
                        conn.transaction::<_, StoreError, _>(|c| {
                            let mut results = apply_all(c, std::slice::from_ref(p))?;
                            notify::after(c, instance.as_deref(), [&p.write], &results)?;
                            results.remove(0)
                        })
                    })
                    .collect()
            }
        };
        self.stats
            .commit_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        results
    }
}

/// Applies the writes in order; each run of consecutive batches as one (a statement per table
/// and shape of change for the whole run, see [`apply_batches`]). On PostgreSQL a write whose
/// fence no longer holds is refused ([`StoreError::Fenced`]) and the others still apply.
fn apply_all(
    conn: &mut AnyConnection,
    items: &[Pending],
) -> Result<Vec<Result<Applied, StoreError>>, StoreError> {
    // SQLite serves one instance (the file lock): no other owner to fence off, and a read at
    // the start of the transaction would make its first write fail at once ("database is
    // locked") whenever the keeper's connection committed in between.
    let stale = match conn {
        AnyConnection::Postgresql(c) => {
            let fences: Vec<&Fence> = items.iter().filter_map(|p| p.write.fence()).collect();
            stale_fences(c, &fences)?
        }
        AnyConnection::Sqlite(_) => Vec::new(),
    };
    let mut out: Vec<Result<Applied, StoreError>> = Vec::with_capacity(items.len());
    let mut run: Vec<&WriteBatch> = Vec::new();
    let mut run_at: Vec<usize> = Vec::new();
    for p in items {
        if let Some(f) = p.write.fence()
            && stale.contains(&f)
        {
            out.push(Err(StoreError::Fenced { vim: f.vim }));
            continue;
        }
        if let DbWrite::Batch(b) = &p.write {
            run.push(b);
            run_at.push(out.len());
            out.push(Ok(Applied::default()));
            continue;
        }
        flush_run(conn, &mut run, &mut run_at, &mut out)?;
        out.push(Ok(p.write.apply(conn)?));
    }
    flush_run(conn, &mut run, &mut run_at, &mut out)?;
    Ok(out)
}

fn flush_run(
    conn: &mut AnyConnection,
    run: &mut Vec<&WriteBatch>,
    run_at: &mut Vec<usize>,
    out: &mut [Result<Applied, StoreError>],
) -> Result<(), StoreError> {
    if run.is_empty() {
        return Ok(());
    }
    for (at, applied) in run_at.drain(..).zip(apply_batches(conn, run)?) {
        out[at] = Ok(applied);
    }
    run.clear();
    Ok(())
}

impl Handler<Flush> for DbActor {
    type Result = ();

    fn handle(&mut self, _: Flush, _: &mut Self::Context) {
        let items = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.flush_scheduled = false;
            std::mem::take(&mut q.items)
        };
        if items.is_empty() {
            return;
        }
        let n = items.len() as u64;
        self.stats.writes.fetch_add(n, Ordering::Relaxed);
        self.stats.largest_group.fetch_max(n, Ordering::Relaxed);
        let results = catch_unwind(AssertUnwindSafe(|| self.commit(&items))).unwrap_or_else(|panic| {
            let msg = rovim_core::panic_text(&*panic);
            slog::error!(self.log, "database write panicked; its writes are reported failed"; "error" => &msg);
            items.iter().map(|_| Err(StoreError::Writer(format!("panic: {msg}")))).collect()
        });
        for (p, r) in items.into_iter().zip(results) {
            match &r {
                Ok(applied) => self.stats.rows.fetch_add(applied.rows, Ordering::Relaxed),
                Err(StoreError::Fenced { .. }) => {
                    self.stats.fenced_writes.fetch_add(1, Ordering::Relaxed)
                }
                Err(_) => self.stats.failed_writes.fetch_add(1, Ordering::Relaxed),
            };
            // The writer may have given up waiting; its write is committed all the same.
            let _ = p.reply.send(r);
        }
    }
}

impl Handler<Ping> for DbActor {
    type Result = Result<(), StoreError>;

    fn handle(&mut self, _: Ping, _: &mut Self::Context) -> Self::Result {
        catch_unwind(AssertUnwindSafe(|| {
            use diesel::RunQueryDsl;
            let mut conn = self.store.conn()?;
            diesel::sql_query("SELECT 1").execute(&mut *conn)?;
            Ok(())
        }))
        .unwrap_or_else(|p| {
            Err(StoreError::Writer(format!(
                "panic: {}",
                rovim_core::panic_text(&*p)
            )))
        })
    }
}

/// The handle every writer holds (cheap to clone).
#[derive(Clone)]
pub struct DbWriter {
    addr: Addr<DbActor>,
    queue: Arc<Mutex<Queue>>,
    permits: Arc<Semaphore>,
    stats: Arc<DbStats>,
}

impl DbWriter {
    /// Starts the DbActor on its own thread; call from inside an actix `System`.
    /// `max_in_flight` bounds the writes queued or being committed.
    pub fn start(store: Store, max_in_flight: usize, log: slog::Logger) -> DbWriter {
        let queue = Arc::new(Mutex::new(Queue::default()));
        let stats = Arc::new(DbStats::default());
        let (q, s) = (queue.clone(), stats.clone());
        // One thread: SQLite has a single writer anyway, and one writer keeps the order of
        // writes the order in which they were queued.
        let addr = SyncArbiter::start(1, move || DbActor {
            store: store.clone(),
            queue: q.clone(),
            stats: s.clone(),
            log: log.new(slog::o!("actor" => "db")),
        });
        DbWriter {
            addr,
            queue,
            permits: Arc::new(Semaphore::new(max_in_flight.max(1))),
            stats,
        }
    }

    /// Queues a write and waits until it is committed (or failed); says which settlements it
    /// committed.
    pub async fn write(&self, write: DbWrite) -> Result<Applied, StoreError> {
        let rx = self.enqueue(write).await?;
        rx.await
            .map_err(|_| StoreError::Writer("the database writer stopped".into()))?
    }

    /// Queues a write; the returned receiver resolves when it is committed. Waits only for room
    /// in flight, so a caller can queue several writes before waiting on any.
    pub async fn enqueue(
        &self,
        write: DbWrite,
    ) -> Result<oneshot::Receiver<Result<Applied, StoreError>>, StoreError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Writer("the database writer is closed".into()))?;
        let (tx, rx) = oneshot::channel();
        let send_flush = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.items.push(Pending {
                write,
                reply: tx,
                _permit: permit,
            });
            !std::mem::replace(&mut q.flush_scheduled, true)
        };
        if send_flush {
            self.addr.do_send(Flush);
        }
        Ok(rx)
    }

    /// Checks that the writer thread is alive and the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.addr
            .send(Ping)
            .await
            .map_err(|e| StoreError::Writer(e.to_string()))?
    }

    pub fn stats(&self) -> &DbStats {
        &self.stats
    }

    /// This writer, with every batch fenced by `fence` (all of a VimActor's writes are).
    pub fn fenced(&self, fence: Fence) -> FencedWriter {
        FencedWriter {
            writer: self.clone(),
            fence,
        }
    }
}

/// A writer whose batches carry one lease's [`Fence`]: committed only while the lease still
/// reads so (see [`crate::leases`]).
#[derive(Clone)]
pub struct FencedWriter {
    writer: DbWriter,
    fence: Fence,
}

impl FencedWriter {
    /// [`DbWriter::write`] of the batch, fenced.
    pub async fn write(&self, mut batch: WriteBatch) -> Result<Applied, StoreError> {
        batch.fence = Some(self.fence.clone());
        self.writer.write(DbWrite::Batch(batch)).await
    }
}
