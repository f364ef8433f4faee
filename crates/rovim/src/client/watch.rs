//! `rovim action watch`: an action's progress, live from the event stream, until it ends. A
//! stream that ends or breaks (the service restarted, or a balancer moved the connection to
//! another instance) is opened again, and a service that cannot be reached for a while (a
//! restart) is waited for, up to [`PATIENCE`]: what happened meanwhile is read from the action
//! itself, so nothing is missed.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::Value;

use super::Client;
use super::events::EventReader;

/// How long the service may stay out of reach before `watch` gives up.
pub const PATIENCE: Duration = Duration::from_secs(60);
/// The pause before trying again, so a stream that keeps ending at once is not a busy loop.
const AGAIN: Duration = Duration::from_millis(250);

/// Follows action `id` until it is no longer BUILD, drawing its progress on stderr.
pub(super) async fn follow(c: &Client, id: &str) -> anyhow::Result<()> {
    // The first read fails at once: a wrong URL or token is not an outage to wait out.
    let mut v = read(c, id).await?;
    let mut out_of_reach: Option<Instant> = None;
    while v["status"] == "BUILD" {
        progress(&v);
        let (mut events, now) = match subscribe(c, id).await {
            Ok(subscribed) => subscribed,
            Err(e) if unreachable(&e) => {
                let since = *out_of_reach.get_or_insert_with(|| {
                    eprintln!("\n{e:#}: waiting up to {} s", PATIENCE.as_secs());
                    Instant::now()
                });
                if since.elapsed() >= PATIENCE {
                    return Err(e.context(format!("out of reach for {} s", PATIENCE.as_secs())));
                }
                tokio::time::sleep(AGAIN).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        if out_of_reach.take().is_some() {
            eprintln!("\nreached the rovim API again");
        }
        v = now;
        while v["status"] == "BUILD" {
            progress(&v);
            match events.next().await {
                Ok(Some((kind, data))) if kind == "action_progress" => v = data,
                Ok(Some(_)) => {}
                // Ended or broken: subscribe again (and read the action again).
                Ok(None) | Err(_) => {
                    tokio::time::sleep(AGAIN).await;
                    break;
                }
            }
        }
    }
    progress(&v);
    Ok(())
}

/// Subscribed to the action's events, then its state read: what settles after the read comes
/// as an event, so nothing falls between the two.
async fn subscribe(c: &Client, id: &str) -> anyhow::Result<(EventReader, Value)> {
    let stream = c
        .req(reqwest::Method::GET, &format!("/v1/events?action={id}"))
        .send()
        .await
        .with_context(|| format!("cannot reach the rovim API at {}", c.api.base()))?;
    if !stream.status().is_success() {
        bail!("{}: the event stream was refused", stream.status());
    }
    let events = EventReader::new(stream);
    Ok((events, read(c, id).await?))
}

async fn read(c: &Client, id: &str) -> anyhow::Result<Value> {
    c.send(c.req(
        reqwest::Method::GET,
        &format!("/v1/actions/{id}?tasks=false"),
    ))
    .await
}

/// Whether `e` is the service out of reach (nothing listening, no answer) rather than an
/// answer: only that is waited out.
fn unreachable(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|cause| cause.downcast_ref::<reqwest::Error>())
        .any(|r| r.is_connect() || r.is_timeout())
}

/// One line on stderr, redrawn: `[#######-------] 7/14 done, 0 failed  BUILD`.
fn progress(v: &Value) {
    let total = v["number_tasks"].as_u64().unwrap_or(0).max(1);
    let done = v["number_done"].as_u64().unwrap_or(0) + v["number_failed"].as_u64().unwrap_or(0);
    let width = 30;
    let filled = (done * width / total) as usize;
    let bar = format!(
        "{}{}",
        "#".repeat(filled),
        "-".repeat(width as usize - filled)
    );
    eprint!(
        "\r[{bar}] {done}/{total} done, {} failed  {}   ",
        v["number_failed"],
        v["status"].as_str().unwrap_or("")
    );
    let _ = std::io::stderr().flush();
}
