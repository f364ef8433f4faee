//! `GET /v1/events`: the engine's events as Server-Sent Events, as they happen (tasks settled,
//! items' status changes, VIM accounts up, down and restarted), with the progress of an action
//! after its tasks settle (after the last of a burst the stream holds). `?action=` and
//! `?vim_account=` filter them; a client that reconnects with `Last-Event-ID` (or
//! `?last_event_id=`) gets what it missed in the last few minutes first. A comment line every 15 s keeps proxies from closing a quiet stream.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use rovim_core::{ActionId, VimAccountId};
use rovim_engine::events::{Event, Stamped, Subscription};
use rovim_store::reads;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::read;
use crate::ApiState;
use crate::error::ApiError;
use crate::sse::{self, frame};

const KEEPALIVE: Duration = Duration::from_secs(15);

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::get().to(events));
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Only this action's events (its tasks, its progress).
    #[param(value_type = Option<String>)]
    action: Option<ActionId>,
    /// Only this VIM account's events.
    #[param(value_type = Option<String>)]
    vim_account: Option<VimAccountId>,
    /// Resume after this event (as the `Last-Event-ID` header).
    last_event_id: Option<u64>,
}

/// Which events a subscriber asked for.
#[derive(Debug, Clone, Copy)]
struct Filter {
    action: Option<ActionId>,
    vim_account: Option<VimAccountId>,
}

impl Filter {
    fn wants(&self, e: &Event) -> bool {
        self.action.is_none_or(|a| e.action() == Some(a))
            && self.vim_account.is_none_or(|v| e.vim_account() == v)
    }
}

#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(EventQuery),
    responses((status = 200, description = "text/event-stream: `task_settled`, `action_progress`, `item_status`, `account` events, each `data` a JSON object with its `id`, `at` and `type`")))]
pub async fn events(
    state: web::Data<ApiState>,
    req: HttpRequest,
    q: web::Query<EventQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.into_inner();
    let header = req
        .headers()
        .get("Last-Event-ID")
        .map(|v| {
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or_else(|| ApiError::bad_request("Last-Event-ID", "must be an event number"))
        })
        .transpose()?;
    let filter = Filter {
        action: q.action,
        vim_account: q.vim_account,
    };
    let sub = state.engine.subscribe_events(header.or(q.last_event_id));
    let stream = EventStream::new(state.into_inner(), sub, filter);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures_util::stream::unfold(stream, |mut s| async move {
            let chunk = s.next().await?;
            Some((Ok::<_, actix_web::Error>(chunk), s))
        })))
}

struct EventStream {
    state: Arc<ApiState>,
    filter: Filter,
    /// Events taken from the subscription that the filter wants, not sent yet.
    pending: VecDeque<Arc<Stamped>>,
    /// How many of `pending` settle a task of each action: the action's progress goes after
    /// the last of them, so a burst of settlements costs one read of its counters, not one
    /// per task.
    settling: HashMap<ActionId, usize>,
    sub: Subscription,
    /// Said once: events after the one asked to resume after may be missing.
    gap: bool,
    /// The stream fell this many events behind while taking what had arrived.
    lagged: Option<u64>,
}

impl EventStream {
    fn new(state: Arc<ApiState>, sub: Subscription, filter: Filter) -> EventStream {
        let mut stream = EventStream {
            state,
            filter,
            pending: VecDeque::new(),
            settling: HashMap::new(),
            gap: sub.gap,
            lagged: None,
            sub,
        };
        for e in std::mem::take(&mut stream.sub.missed) {
            stream.queue(e);
        }
        stream
    }

    fn queue(&mut self, e: Arc<Stamped>) {
        if !self.filter.wants(&e.event) {
            return;
        }
        if let Event::TaskSettled { action, .. } = e.event {
            *self.settling.entry(action).or_default() += 1;
        }
        self.pending.push_back(e);
    }

    /// Queues what the subscription already holds, without waiting.
    fn take_arrived(&mut self) {
        loop {
            match self.sub.live.try_recv() {
                Ok(e) => self.queue(e),
                Err(TryRecvError::Lagged(n)) => {
                    self.lagged = Some(n);
                    return;
                }
                Err(_) => return,
            }
        }
    }

    /// The next chunk of the stream; `None` ends it (the engine went away).
    async fn next(&mut self) -> Option<Bytes> {
        if std::mem::take(&mut self.gap) {
            return Some(gap(
                "events after the one asked for may be missing: no longer kept, or from before \
                 this rovim started",
            ));
        }
        if let Some(n) = self.lagged.take() {
            return Some(behind(n));
        }
        loop {
            let event = match self.pending.pop_front() {
                Some(e) => e,
                None => match tokio::time::timeout(KEEPALIVE, self.sub.live.recv()).await {
                    Err(_) => return Some(Bytes::from_static(b": keepalive\n\n")),
                    Ok(Ok(e)) => {
                        self.queue(e);
                        continue;
                    }
                    Ok(Err(RecvError::Lagged(n))) => return Some(behind(n)),
                    Ok(Err(RecvError::Closed)) => return None,
                },
            };
            self.take_arrived();
            let mut out = frame(event.id, event.event.kind(), &json!(&*event));
            if let Event::TaskSettled { action, .. } = event.event {
                let left = self.settling.get_mut(&action).map_or(0, |n| {
                    *n -= 1;
                    *n
                });
                if left == 0 {
                    self.settling.remove(&action);
                    if let Some(progress) = self.progress(&event, action).await {
                        out.push_str(&progress);
                    }
                }
            }
            return Some(Bytes::from(out));
        }
    }

    /// An `action_progress` event after `e`, a task of `action` settled: its counters as
    /// stored.
    async fn progress(&self, e: &Stamped, action: ActionId) -> Option<String> {
        let row = read(&self.state, move |c| reads::get_action_row(c, action))
            .await
            .ok()?;
        let data = json!({
            "id": e.id, "at": e.at, "type": "action_progress", "action": action,
            "status": row.overall_status(), "number_tasks": row.number_tasks,
            "number_done": row.number_done, "number_failed": row.number_failed,
        });
        Some(frame(e.id, "action_progress", &data))
    }
}

/// Said when the stream fell `n` events behind the engine (they are lost to it).
fn behind(n: u64) -> Bytes {
    gap(&format!("this stream fell {n} events behind"))
}

/// A `gap` event: events may be missing, and why.
fn gap(reason: &str) -> Bytes {
    Bytes::from(sse::gap(reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_has_no_id_and_says_why_in_its_json() {
        let b = behind(3);
        let text = std::str::from_utf8(&b).unwrap();
        let data = text
            .strip_prefix("event: gap\ndata: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("{text:?}"));
        let v: serde_json::Value = serde_json::from_str(data).unwrap();
        assert_eq!(
            v,
            json!({"type": "gap", "reason": "this stream fell 3 events behind"})
        );
    }
}
