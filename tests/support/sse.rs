//! Reading `GET /v1/events` as a browser's EventSource reads it.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::Proc;

/// A stream of SSE events: `(id, event type, data)`.
pub struct Events {
    resp: reqwest::Response,
    buf: String,
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
            buf: String::new(),
        }
    }

    /// The next event (comments skipped), or `None` if none comes within `within`.
    pub async fn next(&mut self, within: Duration) -> Option<(u64, String, Value)> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut id, mut kind, mut data) = (0, String::new(), Value::Null);
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id: ") {
                        id = v.parse().unwrap();
                    } else if let Some(v) = line.strip_prefix("event: ") {
                        kind = v.to_owned();
                    } else if let Some(v) = line.strip_prefix("data: ") {
                        data = serde_json::from_str(v).unwrap();
                    }
                }
                if !kind.is_empty() {
                    return Some((id, kind, data));
                }
                continue;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.resp.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
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
