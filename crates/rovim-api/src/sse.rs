//! The event stream's wire format (Server-Sent Events): the frames `GET /v1/events` writes, and
//! a reader of them for clients (the CLI's `action watch`, the process-level tests). Each event
//! is one JSON object on one `data` line; a browser's EventSource reads the same frames.

use serde_json::{Value, json};

/// One event as read: its id (none for a `gap`: nothing to resume from), its type, its JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub id: Option<u64>,
    pub kind: String,
    pub data: Value,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SseError {
    #[error("event {kind}: its data is not JSON ({reason}): {data}")]
    Data {
        kind: String,
        data: String,
        reason: String,
    },
    #[error("event id '{0}' is not a number")]
    Id(String),
}

/// One event: its id (for `Last-Event-ID`), its type, its JSON.
pub fn frame(id: u64, kind: &str, data: &Value) -> String {
    format!("id: {id}\nevent: {kind}\ndata: {data}\n\n")
}

/// A `gap` event (no id): events may be missing, and why.
pub fn gap(reason: &str) -> String {
    let data = json!({"type": "gap", "reason": reason});
    format!("event: gap\ndata: {data}\n\n")
}

/// Reads events out of a stream's bytes as they arrive, in chunks cut anywhere (inside a line,
/// inside a UTF-8 character).
#[derive(Debug, Default)]
pub struct SseReader {
    buf: Vec<u8>,
}

impl SseReader {
    /// Adds what arrived. Line ends may be `\n` or `\r\n`.
    pub fn push(&mut self, chunk: &[u8]) {
        self.buf.extend(chunk.iter().filter(|b| **b != b'\r'));
    }

    /// The next whole event of what has arrived, or `None` until more does. Comments (the
    /// keep-alives) are skipped.
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        loop {
            let end = self.buf.windows(2).position(|w| w == b"\n\n")?;
            let block: Vec<u8> = self.buf.drain(..end + 2).collect();
            if let Some(event) = parse(&String::from_utf8_lossy(&block)).transpose() {
                return Some(event);
            }
        }
    }
}

/// One block's fields (`field: value`, the space optional); `None` for a block without data.
fn parse(block: &str) -> Result<Option<SseEvent>, SseError> {
    let (mut id, mut kind, mut data) = (None, None, None::<String>);
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = Some(value.parse().map_err(|_| SseError::Id(value.into()))?),
            "event" => kind = Some(value.to_owned()),
            "data" => match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            },
            // Comments (an empty field) and fields rovim does not send (retry).
            _ => {}
        }
    }
    let Some(data) = data else { return Ok(None) };
    let kind = kind.unwrap_or_else(|| "message".to_owned());
    match serde_json::from_str(&data) {
        Ok(data) => Ok(Some(SseEvent { id, kind, data })),
        Err(e) => Err(SseError::Data {
            kind,
            data,
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(bytes: &[u8], chunk: usize) -> Vec<Result<SseEvent, SseError>> {
        let mut r = SseReader::default();
        let mut out = Vec::new();
        for c in bytes.chunks(chunk) {
            r.push(c);
            out.extend(std::iter::from_fn(|| r.next_event()));
        }
        out
    }

    #[test]
    fn a_frame_is_id_event_and_one_data_line() {
        let f = frame(7, "account", &json!({"a": "x\ny"}));
        assert_eq!(f, "id: 7\nevent: account\ndata: {\"a\":\"x\\ny\"}\n\n");
    }

    #[test]
    fn what_is_written_is_read_back_whatever_the_chunks() {
        let data = json!({"description": "réseau ✓ 网络", "n": 3});
        let stream = [
            frame(1, "task_settled", &data),
            ": keepalive\n\n".to_owned(),
            gap("this stream fell 3 events behind"),
            frame(2, "action_progress", &json!({"status": "DONE"})),
        ]
        .concat();
        let expected = vec![
            Ok(SseEvent {
                id: Some(1),
                kind: "task_settled".into(),
                data: data.clone(),
            }),
            Ok(SseEvent {
                id: None,
                kind: "gap".into(),
                data: json!({"type": "gap", "reason": "this stream fell 3 events behind"}),
            }),
            Ok(SseEvent {
                id: Some(2),
                kind: "action_progress".into(),
                data: json!({"status": "DONE"}),
            }),
        ];
        // Chunks of one byte cut every multi-byte character in two.
        for chunk in [1, 2, 3, 7, stream.len()] {
            assert_eq!(
                read_all(stream.as_bytes(), chunk),
                expected,
                "chunks of {chunk}"
            );
        }
        let crlf = stream.replace('\n', "\r\n");
        assert_eq!(read_all(crlf.as_bytes(), 5), expected);
    }

    #[test]
    fn spec_forms_and_bad_frames() {
        let read = |s: &str| read_all(s.as_bytes(), s.len());
        assert_eq!(
            read("data:{\"a\":1}\n\n"),
            vec![Ok(SseEvent {
                id: None,
                kind: "message".into(),
                data: json!({"a": 1})
            })]
        );
        assert_eq!(
            read("event: x\ndata: [1,\ndata: 2]\n\n")[0]
                .as_ref()
                .unwrap()
                .data,
            json!([1, 2])
        );
        assert!(read("event: x\n\n").is_empty(), "no data, no event");
        assert!(matches!(
            read("event: x\ndata: {not json\n\n")[0],
            Err(SseError::Data { ref kind, .. }) if kind == "x"
        ));
        assert_eq!(
            read("id: yesterday\nevent: x\ndata: 1\n\n"),
            vec![Err(SseError::Id("yesterday".into()))]
        );
        assert!(read("event: x\ndata: 1\n").is_empty(), "not whole yet");
    }
}
