//! The text of a caught panic: what the actors report when a connector or a write panicked
//! (a panic's payload is a `&str` or a `String` unless someone panicked with another value).

use std::any::Any;

pub fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn str_and_string_payloads_give_their_text_others_a_placeholder() {
        let caught = |f: fn()| std::panic::catch_unwind(f).unwrap_err();
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        assert_eq!(panic_text(&*caught(|| panic!("plain"))), "plain");
        assert_eq!(
            panic_text(&*caught(|| panic!("formatted {}", 7))),
            "formatted 7"
        );
        assert_eq!(
            panic_text(&*caught(|| std::panic::panic_any(42_u8))),
            "unknown panic"
        );
        std::panic::set_hook(prev);
    }
}
