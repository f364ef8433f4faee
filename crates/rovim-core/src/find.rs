//! The outcome of looking a net up on the VIM (spec §1.11 get_net / new_net with `find`).

use crate::params::FindFilter;

/// What a FIND (or the find half of a FIND-then-CREATE) leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FindOutcome {
    /// Exactly one match: the task is DONE with `created = false`.
    Found(String),
    /// No match and the task may create: go on with the CREATE.
    Create,
    /// No match for a plain FIND, or several matches: the task FAILS with this message.
    Failed(String),
}

/// Decides a find from the VIM ids that matched `filter`. Several matches fail even in
/// FIND-then-CREATE: creating a third net would hide the ambiguity (the reference let that
/// error escape and lost the task, BUG-10).
pub fn find_outcome(filter: &FindFilter, matches: &[String], then_create: bool) -> FindOutcome {
    match matches {
        [one] => FindOutcome::Found(one.clone()),
        [] if then_create => FindOutcome::Create,
        [] => FindOutcome::Failed(format!("Network not found with this criteria: '{filter}'")),
        many => FindOutcome::Failed(format!(
            "More than one network found with this criteria: '{filter}' ({} matches: {})",
            many.len(),
            many.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    //! The net FIND cases of the conformance list (spec §6.3, VimInteractionNet.new).
    use super::*;

    fn by_name() -> FindFilter {
        FindFilter {
            name: Some("mgmt".into()),
            ..Default::default()
        }
    }

    #[test]
    fn conformance_17_22_two_nets_found_fails_naming_the_filter() {
        let out = find_outcome(&by_name(), &["a".into(), "b".into()], false);
        let FindOutcome::Failed(msg) = out else {
            panic!("{out:?}")
        };
        assert!(msg.starts_with("More than one network found with this criteria"));
        assert!(
            msg.contains(r#"{"name":"mgmt"}"#),
            "BUG-9: the filter itself is shown: {msg}"
        );
    }

    #[test]
    fn conformance_two_nets_found_fails_even_when_it_could_create() {
        assert!(matches!(
            find_outcome(&by_name(), &["a".into(), "b".into()], true),
            FindOutcome::Failed(_)
        ));
    }

    #[test]
    fn conformance_18_25_none_found_without_create_fails() {
        let FindOutcome::Failed(msg) = find_outcome(&by_name(), &[], false) else {
            panic!()
        };
        assert_eq!(
            msg,
            r#"Network not found with this criteria: '{"name":"mgmt"}'"#
        );
    }

    #[test]
    fn conformance_19_none_found_with_create_creates() {
        assert_eq!(find_outcome(&by_name(), &[], true), FindOutcome::Create);
    }

    #[test]
    fn conformance_27_exactly_one_is_adopted() {
        assert_eq!(
            find_outcome(&by_name(), &["net-1".into()], true),
            FindOutcome::Found("net-1".into())
        );
        assert_eq!(
            find_outcome(&by_name(), &["net-1".into()], false),
            FindOutcome::Found("net-1".into())
        );
    }
}
