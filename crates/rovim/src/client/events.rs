//! Reading `GET /v1/events` (Server-Sent Events) from the CLI: one event at a time, as
//! `(type, data)`; comments (the keep-alives) are skipped.

use anyhow::Context;
use serde_json::Value;

pub struct EventReader {
    resp: reqwest::Response,
    buf: String,
}

impl EventReader {
    pub fn new(resp: reqwest::Response) -> EventReader {
        EventReader {
            resp,
            buf: String::new(),
        }
    }

    /// The next event; `None` when the server ends the stream.
    pub async fn next(&mut self) -> anyhow::Result<Option<(String, Value)>> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                if let Some(event) = parse(&block)? {
                    return Ok(Some(event));
                }
                continue;
            }
            match self
                .resp
                .chunk()
                .await
                .context("reading the event stream")?
            {
                Some(bytes) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                None => return Ok(None),
            }
        }
    }
}

/// One SSE block: its `event:` and its `data:` as JSON; `None` for a comment.
fn parse(block: &str) -> anyhow::Result<Option<(String, Value)>> {
    let (mut kind, mut data) = (None, String::new());
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event: ") {
            kind = Some(v.to_owned());
        } else if let Some(v) = line.strip_prefix("data: ") {
            data.push_str(v);
        }
    }
    let Some(kind) = kind else { return Ok(None) };
    let data = serde_json::from_str(&data).with_context(|| format!("event {kind}: {data}"))?;
    Ok(Some((kind, data)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_become_events_and_comments_are_skipped() {
        let (kind, data) = parse("id: 3\nevent: action_progress\ndata: {\"number_done\":2}\n\n")
            .unwrap()
            .unwrap();
        assert_eq!(kind, "action_progress");
        assert_eq!(data["number_done"], 2);
        assert!(parse(": keepalive\n\n").unwrap().is_none());
        assert!(parse("event: x\ndata: {not json\n\n").is_err());
    }
}
