//! A fault-injecting HTTP proxy for connector and engine tests: it stands between rovim and a
//! real API server (moto, Keystone, Neutron) and, for the requests a rule matches, breaks the
//! exchange the ways networks and servers do:
//! - [`Fault::ResetBefore`]: the connection is reset before the request reaches the server;
//! - [`Fault::ResetAfter`]: the server got and carried out the request, the answer is lost
//!   (reset): the "it happened but we never heard" case;
//! - [`Fault::Status`]: the proxy answers an error status itself (a 5xx burst, a 429);
//! - [`Fault::Slow`]: the answer comes after a delay (past the caller's timeout);
//! - [`Fault::Truncate`]: the answer is cut in the middle of its body;
//! - [`Fault::Held`]: the request waits at the proxy until the test releases it, so the test
//!   can change what the server holds in between.
//!
//! One request per connection (it answers `Connection: close`), HTTP/1.1 with `Content-Length`
//! bodies: what rovim's clients send.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How one exchange is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    ResetBefore,
    ResetAfter,
    /// Answered by the proxy with this status (and `Retry-After` seconds, if given).
    Status(u16, Option<u64>),
    Slow(Duration),
    Truncate,
    /// Forwarded only once [`FaultProxy::release_held`] lets it go.
    Held,
    /// Answered by the proxy with a 307 to this URL.
    Redirect(String),
    /// Answered by the proxy with this status and the request's own body, as an endpoint that
    /// echoes what it refused.
    Echo(u16),
}

/// Breaks the `nth` (1-based) request whose request line or body contains `matching`, and the
/// `times - 1` matching requests after it.
#[derive(Debug, Clone)]
pub struct Rule {
    pub matching: String,
    pub nth: usize,
    pub times: usize,
    pub fault: Fault,
}

impl Rule {
    pub fn once(matching: &str, fault: Fault) -> Rule {
        Rule {
            matching: matching.into(),
            nth: 1,
            times: 1,
            fault,
        }
    }
}

#[derive(Default)]
struct State {
    rules: Vec<(Rule, usize)>,
    /// Every request seen (its first line and the `Action=` of a query API body) and the fault
    /// applied to it.
    log: Vec<(String, Option<Fault>)>,
}

/// A running proxy; stops when dropped.
pub struct FaultProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    /// One permit per held request let go.
    gate: Arc<tokio::sync::Semaphore>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream` (`http://host:port`).
    pub async fn start(upstream: &str) -> FaultProxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .split('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let state = Arc::new(Mutex::new(State::default()));
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let (st, gt) = (state.clone(), gate.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (st, gt, upstream) = (st.clone(), gt.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = exchange(client, &upstream, &st, &gt).await;
                });
            }
        });
        FaultProxy {
            url,
            state,
            gate,
            task,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds a rule (rules are tried in order; the first that fires wins).
    pub fn add(&self, rule: Rule) {
        self.lock().rules.push((rule, 0));
    }

    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// The requests seen so far, with the fault each got.
    pub fn log(&self) -> Vec<(String, Option<Fault>)> {
        self.lock().log.clone()
    }

    /// Lets one [`Fault::Held`] request (the next to be held, if none is yet) go on.
    pub fn release_held(&self) {
        self.gate.add_permits(1);
    }

    /// How many requests got a fault.
    pub fn faults_injected(&self) -> usize {
        self.lock().log.iter().filter(|(_, f)| f.is_some()).count()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one HTTP message head and its `Content-Length` body (or to EOF without one).
async fn read_message(s: &mut TcpStream, to_eof: bool) -> std::io::Result<(Vec<u8>, usize)> {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match length {
        Some(len) => {
            while buf.len() < head_end + len {
                let n = s.read(&mut chunk).await?;
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
        }
        None if to_eof => loop {
            let n = s.read(&mut chunk).await?;
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        },
        None => {}
    }
    Ok((buf, head_end))
}

/// The request with `Connection: close` in place of any connection header.
fn one_shot(request: &[u8], head_end: usize) -> Vec<u8> {
    let head = String::from_utf8_lossy(&request[..head_end - 4]);
    let mut out = String::new();
    for (i, line) in head.split("\r\n").enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&request[head_end..]);
    bytes
}

fn summary(request: &[u8], head_end: usize) -> String {
    let text = String::from_utf8_lossy(request);
    let first = text.lines().next().unwrap_or_default().to_owned();
    let body = String::from_utf8_lossy(&request[head_end..]);
    match body.split('&').find(|p| p.starts_with("Action=")) {
        Some(action) => format!("{first} {action}"),
        None => first,
    }
}

fn reset(s: TcpStream) {
    // SO_LINGER 0: close with RST instead of FIN. (Deprecated because a non-zero linger blocks
    // the thread on drop; a zero one does not.)
    #[allow(deprecated)]
    let _ = s.set_linger(Some(Duration::ZERO));
    drop(s);
}

async fn exchange(
    mut client: TcpStream,
    upstream: &str,
    state: &Mutex<State>,
    gate: &tokio::sync::Semaphore,
) -> std::io::Result<()> {
    let (request, head_end) = read_message(&mut client, false).await?;
    let text = String::from_utf8_lossy(&request).into_owned();
    let fault = {
        let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
        let mut fault = None;
        for (rule, seen) in st.rules.iter_mut() {
            if text.contains(&rule.matching) {
                *seen += 1;
                if *seen >= rule.nth && *seen < rule.nth + rule.times && fault.is_none() {
                    fault = Some(rule.fault.clone());
                }
            }
        }
        st.log.push((summary(&request, head_end), fault.clone()));
        fault
    };
    match &fault {
        Some(Fault::ResetBefore) => {
            reset(client);
            return Ok(());
        }
        Some(Fault::Echo(code)) => {
            let body = &request[head_end..];
            let head = format!(
                "HTTP/1.1 {code} Echo\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            client.write_all(head.as_bytes()).await?;
            client.write_all(body).await?;
            return client.shutdown().await;
        }
        Some(Fault::Redirect(to)) => {
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            client.write_all(answer.as_bytes()).await?;
            return client.shutdown().await;
        }
        Some(Fault::Status(code, retry_after)) => {
            let body = format!("fault proxy: status {code}");
            let retry = retry_after.map_or_else(String::new, |s| format!("Retry-After: {s}\r\n"));
            let answer = format!(
                "HTTP/1.1 {code} Injected\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n{retry}Connection: close\r\n\r\n{body}",
                body.len()
            );
            client.write_all(answer.as_bytes()).await?;
            return client.shutdown().await;
        }
        _ => {}
    }
    if fault == Some(Fault::Held) {
        gate.acquire()
            .await
            .map_err(std::io::Error::other)?
            .forget();
    }
    let mut server = TcpStream::connect(upstream).await?;
    server.write_all(&one_shot(&request, head_end)).await?;
    let (response, resp_head_end) = read_message(&mut server, true).await?;
    match fault {
        Some(Fault::ResetAfter) => {
            reset(client);
            Ok(())
        }
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            client.write_all(&response).await?;
            client.shutdown().await
        }
        Some(Fault::Truncate) => {
            let body = response.len() - resp_head_end;
            let cut = resp_head_end + body / 2;
            client.write_all(&response[..cut]).await?;
            client.flush().await?;
            reset(client);
            Ok(())
        }
        _ => {
            client.write_all(&response).await?;
            client.shutdown().await
        }
    }
}
