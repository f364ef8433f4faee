//! Error message truncation (spec §1.10): long VIM errors keep their head (what failed) and their
//! tail (usually the root cause) around `" ... "`.

use std::borrow::Cow;

/// The size of every error message column.
pub const MAX_ERROR_LEN: usize = 1024;

const ELLIPSIS: &str = " ... ";

/// Cuts `text` to fewer than `max` characters when it has `max` or more, keeping
/// `max / 2 - 3` characters of each end (1024 → 509 + 5 + 509 = 1023, as the reference).
/// Counts characters, not bytes, so a multi-byte character is never split.
pub fn truncate_error(text: &str, max: usize) -> Cow<'_, str> {
    let len = text.chars().count();
    if len < max {
        return Cow::Borrowed(text);
    }
    let keep = (max / 2).saturating_sub(3);
    if keep == 0 {
        // Too small for the head/tail form: keep what fits.
        return Cow::Owned(text.chars().take(max.saturating_sub(1)).collect());
    }
    let head: String = text.chars().take(keep).collect();
    let tail: String = text.chars().skip(len - keep).collect();
    Cow::Owned(format!("{head}{ELLIPSIS}{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_text_is_untouched() {
        assert!(matches!(
            truncate_error("boom", 1024),
            Cow::Borrowed("boom")
        ));
    }

    #[test]
    fn long_text_keeps_509_characters_of_each_end() {
        let text = format!("{}{}", "a".repeat(600), "z".repeat(600));
        let cut = truncate_error(&text, MAX_ERROR_LEN);
        assert_eq!(cut.chars().count(), 1023);
        assert!(cut.starts_with(&"a".repeat(509)));
        assert!(cut.ends_with(&"z".repeat(509)));
        assert_eq!(&cut[509..514], " ... ");
    }

    #[test]
    fn the_reference_cuts_at_exactly_max_too() {
        let text = "x".repeat(1024);
        assert_eq!(truncate_error(&text, 1024).chars().count(), 1023);
    }

    #[test]
    fn multibyte_characters_are_not_split() {
        let text = "é".repeat(2000);
        let cut = truncate_error(&text, 100);
        assert_eq!(cut.chars().count(), 99);
    }

    proptest! {
        #[test]
        fn never_exceeds_max_and_keeps_both_ends(text in "\\PC{0,3000}", max in 8usize..2048) {
            let cut = truncate_error(&text, max);
            let n = cut.chars().count();
            prop_assert!(n <= max);
            if text.chars().count() < max {
                prop_assert_eq!(cut.as_ref(), text.as_str());
            } else {
                let keep = max / 2 - 3;
                let head: String = text.chars().take(keep).collect();
                let tail: String = text.chars().rev().take(keep).collect::<Vec<_>>().into_iter().rev().collect();
                prop_assert!(cut.starts_with(&head));
                prop_assert!(cut.ends_with(&tail));
            }
        }

        #[test]
        fn the_1024_column_always_fits(text in "\\PC{1000,1100}") {
            prop_assert!(truncate_error(&text, MAX_ERROR_LEN).chars().count() < MAX_ERROR_LEN);
        }
    }
}
