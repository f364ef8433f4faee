//! The SDN lab of `.ci/sdn.sh` as tests see it (feature `test-support`): Ryu's URL, rovim's
//! rules on its switch, and real packets between the two namespaced switch ports.

use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

/// The MACs of the two namespaced ports (switch ports 1 and 2 of `br-data`).
pub const LAB_MAC_A: &str = "02:00:00:00:0a:01";
pub const LAB_MAC_B: &str = "02:00:00:00:0b:01";

/// Ryu's REST URL from `eval "$(bash .ci/sdn.sh)"`; `None` (with a message) without the lab,
/// except under `CI=true`, where that is a failure.
pub fn ryu_url() -> Option<String> {
    match std::env::var("ROVIM_TEST_RYU_URL") {
        Ok(u) if !u.is_empty() => Some(u),
        _ => {
            rovim_core::test_peers::absent(
                "ROVIM_TEST_RYU_URL is not set (eval \"$(bash .ci/sdn.sh)\" starts Open vSwitch and Ryu)",
            );
            None
        }
    }
}

/// Whether UDP datagrams from namespace a (10.99.0.1) reach namespace b (10.99.0.2) within 3 s.
pub fn a_reaches_b() -> bool {
    let recv = Command::new("ip")
        .args(["netns", "exec", "rovim-sdn-b", "python3", "-c"])
        .arg(
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); \
             s.bind(('10.99.0.2', 9999)); s.settimeout(3); s.recvfrom(64)",
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ip netns exec");
    std::thread::sleep(Duration::from_millis(300));
    let send = Command::new("ip")
        .args(["netns", "exec", "rovim-sdn-a", "python3", "-c"])
        .arg(
            "import socket, time\n\
             s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
             for _ in range(10):\n    s.sendto(b'rovim', ('10.99.0.2', 9999)); time.sleep(0.2)",
        )
        .status()
        .expect("ip netns exec");
    assert!(send.success(), "the sender in namespace a failed");
    recv.wait_with_output().expect("receiver").status.success()
}

/// rovim's rules on switch 1 (cookies starting with "rv"), straight from Ryu.
pub async fn rovim_rules(url: &str) -> Vec<Value> {
    let body = json!({"cookie": 0x7276u64 << 48, "cookie_mask": 0xffffu64 << 48});
    let v: Value = reqwest::Client::new()
        .post(format!("{url}/stats/flow/1"))
        .json(&body)
        .send()
        .await
        .expect("Ryu answers")
        .json()
        .await
        .expect("Ryu answers JSON");
    v["1"].as_array().cloned().unwrap_or_default()
}
