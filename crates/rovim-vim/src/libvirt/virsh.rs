//! Calls to libvirt through `virsh`, its own client: each call is one process, so a hung
//! libvirt connection is killed with the call (a C library call in the engine's process could
//! not be cancelled), and rovim links nothing of libvirt (only accounts of this type need it).
//! The documents exchanged are libvirt's XML, the API's own format.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::error::VimError;

#[derive(Debug, Clone)]
pub struct Virsh {
    program: String,
    uri: String,
}

/// What a call printed: commands chained with `;` go on after one fails, so a chained call
/// succeeds with the failures' messages in `stderr`.
#[derive(Debug, Default)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
    pub success: bool,
}

impl Virsh {
    pub fn new(program: &str, uri: &str) -> Virsh {
        Virsh {
            program: program.to_owned(),
            uri: uri.to_owned(),
        }
    }

    /// Runs one virsh command (`args`), with `input` on its standard input (`/dev/stdin` as the
    /// file argument of `define` and `net-define`); a failure is classified from its message.
    pub async fn run(&self, args: &[&str], input: Option<&str>) -> Result<String, VimError> {
        let out = self.call(args, input).await?;
        if out.success {
            Ok(out.stdout)
        } else {
            Err(classify(args.first().copied().unwrap_or(""), &out.stderr))
        }
    }

    /// Runs several commands in one process (`virsh "a; b; c"`): those that fail only leave a
    /// message on stderr. Only a failure to reach libvirt at all is an error.
    pub async fn chain(&self, commands: &[String]) -> Result<Output, VimError> {
        if commands.is_empty() {
            return Ok(Output::default());
        }
        let script = commands.join("; ");
        // virsh's exit status is its last command's: not a failure of the chain.
        let out = self.call(&[script.as_str()], None).await?;
        if is_unreachable(&out.stderr) {
            return Err(classify("connect", &out.stderr));
        }
        Ok(out)
    }

    async fn call(&self, args: &[&str], input: Option<&str>) -> Result<Output, VimError> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("-q")
            .arg("-c")
            .arg(&self.uri)
            .args(args)
            .env("LC_ALL", "C")
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd
            .spawn()
            .map_err(|e| VimError::Connection(format!("cannot run '{}': {e}", self.program)))?;
        if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(|e| VimError::Connection(format!("virsh's input: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| VimError::Connection(format!("virsh: {e}")))?;
        let mut stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if !out.status.success() && stderr.is_empty() {
            stderr = format!("virsh exited with {}", out.status);
        }
        Ok(Output {
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
            success: out.status.success(),
        })
    }
}

fn is_unreachable(stderr: &str) -> bool {
    stderr.contains("failed to connect to the hypervisor")
}

/// A virsh error message as a [`VimError`]. libvirt's messages are stable English
/// (`error: failed to get domain 'x'`, `operation failed: domain 'x' already exists`).
pub fn classify(command: &str, message: &str) -> VimError {
    let text = message
        .lines()
        .map(|l| l.trim().trim_start_matches("error: "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ");
    let text = format!("virsh {command}: {text}");
    let has = |s: &str| text.contains(s);
    if has("authentication failed") || has("authentication unavailable") {
        VimError::Auth(text)
    } else if is_unreachable(message) || has("End of file while reading data") {
        VimError::Connection(text)
    } else if has("failed to get domain")
        || has("failed to get network")
        || has("Domain not found")
        || has("Network not found")
        || has("no domain with matching")
        || has("no network with matching")
    {
        VimError::NotFound(text)
    } else if has("already exists") || has("already in use") {
        VimError::Conflict(text)
    } else if has("XML error")
        || has("XML document")
        || has("unsupported configuration")
        || has("invalid argument")
        || has("Permission denied")
        || has("No such file")
    {
        VimError::BadRequest(text)
    } else {
        VimError::UnexpectedResponse(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libvirt_messages_become_error_classes() {
        let cases = [
            (
                "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory",
                "connection",
            ),
            ("error: failed to get domain 'x'", "not_found"),
            (
                "error: failed to get network 'n'\nerror: Network not found: no network with matching name 'n'",
                "not_found",
            ),
            (
                "error: Failed to define domain from /dev/stdin\nerror: operation failed: domain 'a' already exists with uuid 1",
                "conflict",
            ),
            (
                "error: Failed to start domain 'a'\nerror: internal error: QEMU unexpectedly closed the monitor (vm='a'): qemu: could not open kernel file '/k': Permission denied",
                "bad_request",
            ),
            (
                "error: XML error: Invalid value for attribute 'type'",
                "bad_request",
            ),
            ("error: authentication failed: access denied", "auth"),
            (
                "error: internal error: child reported (status=125)",
                "unexpected_response",
            ),
        ];
        for (message, class) in cases {
            let e = classify("start", message);
            assert_eq!(e.class(), class, "{message} -> {e}");
            assert!(e.to_string().contains("virsh start: "), "{e}");
            assert!(!e.to_string().contains("error: Failed"), "{e}");
        }
    }

    #[tokio::test]
    async fn a_missing_virsh_is_a_connection_error_naming_the_program() {
        let v = Virsh::new("/nonexistent/virsh", "qemu:///system");
        let e = v.run(&["version"], None).await.unwrap_err();
        assert!(
            matches!(&e, VimError::Connection(m) if m.contains("/nonexistent/virsh")),
            "{e}"
        );
    }
}
