//! Keeping secrets out of error text. A VIM's error body may echo the request that carried the
//! password (seen with an echoing endpoint in front of Keystone); whatever rovim stores, shows or
//! logs of a VIM's answer passes through [`scrub_secret`] with the account's secret, and bodies
//! are cut to [`MAX_VIM_BODY`] characters first.

/// The most of a VIM's answer body quoted in an error.
pub const MAX_VIM_BODY: usize = 300;

const MASK: &str = "***";

/// `text` with every occurrence of `secret` (also JSON-escaped) replaced by `***`. Secrets
/// shorter than 4 characters are not looked for (they would mask ordinary words); such
/// passwords are refused elsewhere.
pub fn scrub_secret(text: &str, secret: &str) -> String {
    if secret.chars().count() < 4 {
        return text.to_owned();
    }
    let mut out = text.replace(secret, MASK);
    if let Ok(quoted) = serde_json::to_string(secret) {
        let escaped = &quoted[1..quoted.len() - 1];
        if escaped != secret {
            out = out.replace(escaped, MASK);
        }
    }
    out
}

/// The first [`MAX_VIM_BODY`] characters of a VIM's answer body.
pub fn quote_body(body: &str) -> String {
    let cut: String = body.chars().take(MAX_VIM_BODY).collect();
    if cut.len() < body.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_masked_wherever_it_appears_even_json_escaped() {
        let body = r#"{"auth": {"password": "pa\"ss-w0rd"}} echoed: pa"ss-w0rd"#;
        let out = scrub_secret(body, "pa\"ss-w0rd");
        assert!(!out.contains("ss-w0rd"), "{out}");
        assert_eq!(out.matches("***").count(), 2);
        assert_eq!(scrub_secret("a b c", "b"), "a b c", "too short to look for");
    }

    #[test]
    fn bodies_are_quoted_up_to_a_bound() {
        assert_eq!(quote_body("short"), "short");
        let long = "x".repeat(5000);
        assert_eq!(quote_body(&long).chars().count(), MAX_VIM_BODY + 1);
    }
}
