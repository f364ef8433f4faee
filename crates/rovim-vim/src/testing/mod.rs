//! Third-party API servers for connector tests (feature `test-support`), started by the tests
//! themselves. `.ci/run` installs them; on a bare machine the tests skip with a message, and
//! under `CI=true` a missing server is a failure.

pub mod aws_inventory;
pub mod fault_proxy;
pub mod libvirt_lab;
pub mod nova_peer;

pub use aws_inventory::aws_inventory;
pub use fault_proxy::{Fault, FaultProxy, Rule};
pub use libvirt_lab::{LibvirtLab, libvirt_lab};
pub use nova_peer::{NovaPeer, nova_peer};

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `moto_server` (AWS API mock), killed on drop.
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `moto_server` is: `ROVIM_MOTO_SERVER`, else the venv `.ci/run` makes.
fn moto_path() -> PathBuf {
    if let Ok(p) = std::env::var("ROVIM_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").unwrap_or_else(|_| "/root".into());
    PathBuf::from(home).join(".cache/rovim/moto-venv/bin/moto_server")
}

/// Starts moto on a free port; `None` (with a message) when it is not installed, except under
/// `CI=true`, where that is a failure.
pub fn moto() -> Option<Moto> {
    let path = moto_path();
    if !path.exists() {
        rovim_core::test_peers::absent(&format!(
            "moto_server not found at {} (set ROVIM_MOTO_SERVER or run .ci/run)",
            path.display()
        ));
        return None;
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = Command::new(&path)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto_server");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    // Ready once it answers HTTP, not merely once it accepts connections (the first requests
    // right after the bind were seen reset).
    while !answers_http(port) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "moto_server did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

fn answers_http(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut head = [0u8; 12];
    s.write_all(b"GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_ok()
        && s.read_exact(&mut head).is_ok()
        && head.starts_with(b"HTTP/1.")
}
