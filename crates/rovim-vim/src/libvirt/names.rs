//! How rovim names what it makes on libvirt, and how a FIND or ADOPT filter matches a name.

use rovim_core::FindFilter;

use super::settings::slot_digits;

/// The data-bridge port of a passthrough slot: `rv` and its nine hex digits.
pub fn slot_device(slot: &str) -> String {
    format!("rv{}", slot_digits(slot).unwrap_or_default())
}

/// An element's libvirt name: its name (characters libvirt and shells take) and the token's
/// last twelve hex digits.
pub fn libvirt_name(name: &str, token: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let hex: Vec<char> = token.chars().filter(char::is_ascii_hexdigit).collect();
    let tail: String = hex[hex.len().saturating_sub(12)..].iter().collect();
    format!("{clean}-{tail}")
}

pub(super) fn matches_filter(
    filter: &FindFilter,
    uuid: &str,
    name: &str,
    title: Option<&str>,
) -> bool {
    filter
        .id
        .as_deref()
        .is_none_or(|id| id == uuid || id == name)
        && filter
            .name
            .as_deref()
            .is_none_or(|n| title == Some(n) || name == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_what_libvirt_takes_and_end_with_the_token() {
        let token = "rovim-0193a2b4-c5d6-7e8f-9a0b-1c2d3e4f5a6b";
        assert_eq!(libvirt_name("vm a/b", token), "vm-a-b-1c2d3e4f5a6b");
        assert_eq!(libvirt_name(&"x".repeat(60), token).len(), 40 + 13);
        assert_ne!(
            libvirt_name("n", token),
            libvirt_name("n", "rovim-0193a2b4-c5d6-7e8f-9a0b-1c2d3e4f5a6c")
        );
        assert_eq!(slot_device("0000:81:00.1"), "rv000081001");
    }

    #[test]
    fn a_filter_matches_uuid_name_or_title() {
        let f = |id: Option<&str>, name: Option<&str>| FindFilter {
            id: id.map(Into::into),
            name: name.map(Into::into),
            ..FindFilter::default()
        };
        assert!(matches_filter(&f(Some("u"), None), "u", "n-1", Some("n")));
        assert!(matches_filter(&f(Some("n-1"), None), "u", "n-1", Some("n")));
        assert!(matches_filter(&f(None, Some("n")), "u", "n-1", Some("n")));
        assert!(matches_filter(
            &f(None, Some("default")),
            "u",
            "default",
            None
        ));
        assert!(!matches_filter(&f(None, Some("m")), "u", "n-1", Some("n")));
    }
}
