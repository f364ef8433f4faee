//! The status of a data-plane net is the VIM's status merged with its SDN network's (spec §1.12,
//! with reference 9f2900c's "an SDN net still building keeps the net in BUILD").

use std::borrow::Cow;

use crate::item_status::ItemStatus;
use crate::string_enum::string_enum;
use crate::truncate::{MAX_ERROR_LEN, truncate_error};

string_enum! {
    /// What an SDN controller says of one of its networks.
    pub enum SdnNetStatus: "SDN network status" {
        Active => "ACTIVE",
        Build => "BUILD",
        Down => "DOWN",
        Error => "ERROR",
    }
}

/// Each half of a combined message gets `1024 / 2 - 14` characters.
const HALF: usize = MAX_ERROR_LEN / 2 - 14;

/// Merges the VIM's view of a net with its SDN network's. `sdn` is `None` when the net has no
/// SDN network. Both messages are kept when both sides are in error, within 1024 characters.
pub fn merge_sdn_status(
    vim_status: ItemStatus,
    vim_error: Option<&str>,
    sdn: Option<(SdnNetStatus, Option<&str>)>,
) -> (ItemStatus, Option<String>) {
    let vim_error_owned = || vim_error.map(|e| truncate_error(e, MAX_ERROR_LEN).into_owned());
    let Some((sdn_status, sdn_error)) = sdn else {
        return (vim_status, vim_error_owned());
    };
    match sdn_status {
        SdnNetStatus::Error => {
            let vim_failed = matches!(vim_status, ItemStatus::VimError | ItemStatus::Error);
            let status = if vim_failed {
                ItemStatus::VimSdnError
            } else {
                ItemStatus::SdnError
            };
            let sdn_error = sdn_error.unwrap_or("SDN network in error");
            let message: Cow<'_, str> = match vim_error {
                Some(vim_error) => Cow::Owned(format!(
                    "VIM_ERROR: {} && SDN_ERROR: {}",
                    truncate_error(vim_error, HALF),
                    truncate_error(sdn_error, HALF)
                )),
                None => Cow::Borrowed(sdn_error),
            };
            (
                status,
                Some(truncate_error(&message, MAX_ERROR_LEN).into_owned()),
            )
        }
        SdnNetStatus::Build if vim_status == ItemStatus::Active => {
            (ItemStatus::Build, vim_error_owned())
        }
        _ => (vim_status, vim_error_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn no_sdn_network_keeps_the_vim_view() {
        assert_eq!(
            merge_sdn_status(ItemStatus::Active, None, None),
            (ItemStatus::Active, None)
        );
        assert_eq!(
            merge_sdn_status(ItemStatus::Active, None, Some((SdnNetStatus::Active, None))),
            (ItemStatus::Active, None)
        );
    }

    #[test]
    fn sdn_error_alone_is_sdn_error_with_its_message() {
        let (s, m) = merge_sdn_status(
            ItemStatus::Active,
            None,
            Some((SdnNetStatus::Error, Some("switch down"))),
        );
        assert_eq!(s, ItemStatus::SdnError);
        assert_eq!(m.as_deref(), Some("switch down"));
    }

    #[test]
    fn both_in_error_is_vim_sdn_error_with_both_messages() {
        let (s, m) = merge_sdn_status(
            ItemStatus::VimError,
            Some("neutron unreachable"),
            Some((SdnNetStatus::Error, Some("switch down"))),
        );
        assert_eq!(s, ItemStatus::VimSdnError);
        assert_eq!(
            m.as_deref(),
            Some("VIM_ERROR: neutron unreachable && SDN_ERROR: switch down")
        );
    }

    #[test]
    fn an_sdn_network_still_building_keeps_the_net_building() {
        let (s, _) = merge_sdn_status(ItemStatus::Active, None, Some((SdnNetStatus::Build, None)));
        assert_eq!(s, ItemStatus::Build);
    }

    proptest! {
        #[test]
        fn merged_messages_fit_and_keep_both_sides(vim in "\\PC{0,3000}", sdn in "\\PC{1,3000}") {
            let (_, m) = merge_sdn_status(ItemStatus::VimError, Some(&vim), Some((SdnNetStatus::Error, Some(&sdn))));
            let m = m.unwrap();
            prop_assert!(m.chars().count() < MAX_ERROR_LEN);
            prop_assert!(m.starts_with("VIM_ERROR: "));
            prop_assert!(m.contains(" && SDN_ERROR: "));
        }
    }
}
