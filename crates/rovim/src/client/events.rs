//! Reading `GET /v1/events` from the CLI: one event at a time, as `(type, data)`; the frames are
//! read by [`rovim_api::sse::SseReader`], which skips the keep-alives.

use anyhow::Context;
use rovim_api::sse::SseReader;
use serde_json::Value;

pub struct EventReader {
    resp: reqwest::Response,
    sse: SseReader,
}

impl EventReader {
    pub fn new(resp: reqwest::Response) -> EventReader {
        EventReader {
            resp,
            sse: SseReader::default(),
        }
    }

    /// The next event; `None` when the server ends the stream.
    pub async fn next(&mut self) -> anyhow::Result<Option<(String, Value)>> {
        loop {
            if let Some(event) = self.sse.next_event() {
                let event = event?;
                return Ok(Some((event.kind, event.data)));
            }
            match self
                .resp
                .chunk()
                .await
                .context("reading the event stream")?
            {
                Some(bytes) => self.sse.push(&bytes),
                None => return Ok(None),
            }
        }
    }
}
