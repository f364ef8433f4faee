//! Reading `GET /v1/events` as a browser's EventSource reads it.

use std::time::{Duration, Instant};

use rovim_api::sse::SseReader;
use serde_json::Value;

use super::Proc;

/// A stream of SSE events: `(id, event type, data)` (id 0 for a `gap`).
pub struct Events {
    resp: reqwest::Response,
    sse: SseReader,
}

impl Events {
    pub async fn open(
        http: &reqwest::Client,
        rovim: &Proc,
        query: &str,
        last: Option<u64>,
    ) -> Events {
        let mut req = http.get(format!("{}/v1/events{query}", rovim.url));
        if let Some(id) = last {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            resp.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Events {
            resp,
            sse: SseReader::default(),
        }
    }

    /// The next event (comments skipped), or `None` if none comes within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<(u64, String, Value)> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(event) = self.sse.next_event() {
                let e = event.unwrap();
                return Some((e.id.unwrap_or(0), e.kind, e.data));
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.sse.push(&bytes),
                _ => return None,
            }
        }
    }

    /// Events until `done` says so (at most 30 s).
    pub async fn until(
        &mut self,
        mut done: impl FnMut(&str, &Value) -> bool,
    ) -> Vec<(u64, String, Value)> {
        let mut seen = Vec::new();
        while let Some(e) = self.next(Duration::from_secs(30)).await {
            let stop = done(&e.1, &e.2);
            seen.push(e);
            if stop {
                return seen;
            }
        }
        panic!("the stream ended or went quiet; so far: {seen:#?}");
    }
}
