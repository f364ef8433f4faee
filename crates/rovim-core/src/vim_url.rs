//! What a VIM account's URL may be. It is where rovim sends the account's credentials, so it is
//! parsed and limited: http(s) for the real VIMs (`sim://name` too for the simulator), a host,
//! no credentials of its own (they go in `user`/`password`), no query or fragment (the
//! connectors build their paths on it), at most 2,048 characters, and no link-local host (the
//! cloud metadata addresses, 169.254.0.0/16 and fe80::/10) unless allowed.

use std::net::IpAddr;

use crate::vim_account::VimType;

pub const MAX_URL_LEN: usize = 2048;

/// Checks `url` for an account of `vim_type`; the error says what is wrong (for the `url` field).
pub fn check_vim_url(vim_type: VimType, url: &str, allow_link_local: bool) -> Result<(), String> {
    if vim_type == VimType::Libvirt {
        return check_libvirt_uri(url);
    }
    let sim = (vim_type == VimType::Sim).then_some("sim");
    check_url(url, sim, allow_link_local)
}

/// A libvirt URI of the QEMU driver: `qemu:///system`, `qemu+ssh://user@host/system`… No
/// password and no query: libvirt's URI parameters include the command its ssh transport runs.
fn check_libvirt_uri(uri: &str) -> Result<(), String> {
    if uri.chars().count() > MAX_URL_LEN {
        return Err(format!("longer than {MAX_URL_LEN} characters"));
    }
    let parsed = url::Url::parse(uri).map_err(|e| format!("not a libvirt URI: {e}"))?;
    let transport = parsed.scheme().strip_prefix("qemu");
    if !matches!(
        transport,
        Some("" | "+ssh" | "+libssh" | "+libssh2" | "+tcp" | "+tls" | "+unix")
    ) {
        return Err(format!(
            "scheme '{}' is not a libvirt QEMU URI (qemu:///system, qemu+ssh://host/system)",
            parsed.scheme()
        ));
    }
    if !matches!(parsed.path(), "/system" | "/session") {
        return Err(format!(
            "path '{}' is not /system or /session",
            parsed.path()
        ));
    }
    if parsed.password().is_some() {
        return Err("a password goes in password, not in the URI".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("a query or fragment is not allowed".into());
    }
    Ok(())
}

/// The same rules for an SDN controller of `sdn_type` (the simulated one is `sim-sdn://name`).
pub fn check_sdn_url(sdn_type: &str, url: &str, allow_link_local: bool) -> Result<(), String> {
    let sim = (sdn_type == "sim").then_some("sim-sdn");
    check_url(url, sim, allow_link_local)
}

/// `sim_scheme`: the scheme of an in-process simulator, if the type has one.
fn check_url(url: &str, sim_scheme: Option<&str>, allow_link_local: bool) -> Result<(), String> {
    if url.chars().count() > MAX_URL_LEN {
        return Err(format!("longer than {MAX_URL_LEN} characters"));
    }
    if let Some(scheme) = sim_scheme
        && let Some(name) = url.strip_prefix(scheme).and_then(|r| r.strip_prefix("://"))
    {
        let ok = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        return if ok {
            Ok(())
        } else {
            Err(format!(
                "a {scheme}:// name is letters, digits, '-', '_' and '.'"
            ))
        };
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "scheme '{}' is not http or https{}",
            parsed.scheme(),
            sim_scheme.map_or(String::new(), |s| format!(" (or {s}://name)"))
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("credentials go in user and password, not in the URL".into());
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err("a query or fragment is not allowed".into());
    }
    let host = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(url::Host::Domain(_)) => None,
        None => return Err("no host".into()),
    };
    let link_local = match host {
        Some(IpAddr::V4(ip)) => ip.is_link_local(),
        Some(IpAddr::V6(ip)) => (ip.segments()[0] & 0xffc0) == 0xfe80,
        None => false,
    };
    if link_local && !allow_link_local {
        return Err(
            "a link-local address (cloud metadata services live there); set engine.allow_link_local_urls to allow it"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdn_urls_follow_the_same_rules() {
        assert!(check_sdn_url("sim", "sim-sdn://fabric", false).is_ok());
        assert!(check_sdn_url("sim", "http://127.0.0.1:8080", false).is_ok());
        assert!(check_sdn_url("sim", "sim://fabric", false).is_err());
        assert!(check_sdn_url("sim", "sim-sdn://a/b", false).is_err());
        assert!(check_sdn_url("onos", "sim-sdn://fabric", false).is_err());
        assert!(check_sdn_url("sim", "http://169.254.169.254", false).is_err());
        assert!(check_sdn_url("sim", &format!("http://h/{}", "a".repeat(3000)), false).is_err());
    }

    #[test]
    fn real_vim_urls_pass() {
        for (t, u) in [
            (VimType::OpenStack, "https://keystone.example:5000/v3"),
            (VimType::Aws, "https://ec2.eu-west-1.amazonaws.com"),
            (VimType::Aws, "http://127.0.0.1:5000"),
            (VimType::Sim, "sim://lab-1"),
            (VimType::Sim, "http://127.0.0.1:8080"),
            (VimType::OpenStack, "http://[::1]:5000/v3"),
            (VimType::Libvirt, "qemu:///system"),
            (VimType::Libvirt, "qemu+ssh://root@kvm-1.lab/system"),
        ] {
            assert_eq!(check_vim_url(t, u, false), Ok(()), "{u}");
        }
    }

    /// Issue 11: `file://…`, "not a url at all", a 1 MB URL, a `?` choosing the path, link-local
    /// metadata addresses were all accepted.
    #[test]
    fn everything_else_is_refused_saying_why() {
        let long = format!("https://h/{}", "a".repeat(3000));
        for (t, u, why) in [
            (VimType::OpenStack, "file:///etc/passwd", "scheme 'file'"),
            (VimType::Aws, "not a url at all", "not a URL"),
            (VimType::Aws, long.as_str(), "longer than"),
            (VimType::OpenStack, "https://k:5000/v3?x=/admin", "query"),
            (
                VimType::OpenStack,
                "https://admin:pw@k:5000/v3",
                "credentials",
            ),
            (VimType::Aws, "http://169.254.169.254/latest", "link-local"),
            (VimType::Aws, "http://[fe80::1]:80", "link-local"),
            (VimType::OpenStack, "sim://lab", "scheme 'sim'"),
            (
                VimType::Libvirt,
                "http://kvm:16509",
                "not a libvirt QEMU URI",
            ),
            (VimType::Libvirt, "qemu:///root", "path '/root'"),
            (
                VimType::Libvirt,
                "qemu+ssh://h/system?command=/bin/sh",
                "query",
            ),
            (VimType::Libvirt, "qemu+ssh://u:pw@h/system", "password"),
            (VimType::Sim, "sim://../x y", "sim:// name"),
        ] {
            let e = check_vim_url(t, u, false).unwrap_err();
            assert!(e.contains(why), "{u}: {e}");
        }
        assert_eq!(
            check_vim_url(VimType::Aws, "http://169.254.169.254", true),
            Ok(()),
            "allowed when the operator says so"
        );
    }
}
