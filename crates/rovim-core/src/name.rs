//! What a name may be: the names of VIM accounts, SDN controllers, nets and VMs end up in terminal
//! logs, CLI tables and VIM requests, so they are bounded and free of control characters (a
//! newline or an escape sequence in a name would forge log lines or repaint a terminal).

pub const MAX_NAME_LEN: usize = 255;

/// Checks a name; the error is the reason, for the caller to attach to its field.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.trim().is_empty() {
        return Err("must not be empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err("must be at most 255 characters");
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters (newlines, tabs, escapes)");
    }
    Ok(())
}

/// `text` with its control characters written as escapes (`\n`, `\u{1b}`), for a terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_debug().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_bounded_and_printable() {
        assert!(check_name("lab-1 (Paris)").is_ok());
        assert!(check_name("réseau-données").is_ok());
        assert_eq!(check_name(" \t"), Err("must not be empty"));
        assert!(check_name(&"x".repeat(256)).is_err());
        assert!(check_name(&"é".repeat(255)).is_ok());
        assert!(check_name("a\nINFO forged line").is_err());
        assert!(check_name("a\u{1b}[2Jb").is_err());
        assert!(check_name("tab\there").is_err());
    }

    #[test]
    fn controls_are_escaped_for_terminals() {
        assert_eq!(escape_controls("plain"), "plain");
        assert_eq!(escape_controls("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
    }

    proptest! {
        #[test]
        fn escaped_text_has_no_controls(text in any::<String>()) {
            prop_assert!(!escape_controls(&text).chars().any(char::is_control));
        }
    }
}
