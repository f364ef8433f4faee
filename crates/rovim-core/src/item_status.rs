//! The status vocabulary of nets and VMs as the orchestrator reads it (spec §2.4), plus the two
//! SDN merge statuses. A VIM may answer anything: what rovim does not understand becomes `OTHER`,
//! never an error, so an odd VIM state cannot crash an actor.

use crate::string_enum::string_enum;

string_enum! {
    /// The status of a net or VM row.
    pub enum ItemStatus: "item status" {
        Active => "ACTIVE",
        /// Active, but some interface has no IP address yet.
        ActiveNoMgmtIp => "ACTIVE:NoMgmtIP",
        Inactive => "INACTIVE",
        /// A net that is administratively down.
        Down => "DOWN",
        Build => "BUILD",
        /// The VIM reports the element in error.
        Error => "ERROR",
        /// rovim could not talk to the VIM, or the VIM refused the request.
        VimError => "VIM_ERROR",
        /// The VIM answered a status rovim does not understand.
        Other => "OTHER",
        Paused => "PAUSED",
        Suspended => "SUSPENDED",
        /// Gone from the VIM.
        Deleted => "DELETED",
        ScheduledCreation => "SCHEDULED_CREATION",
        ScheduledDeletion => "SCHEDULED_DELETION",
        /// The VIM is fine but the SDN controller reports the net in error.
        SdnError => "SDN_ERROR",
        /// Both the VIM and the SDN controller report errors.
        VimSdnError => "VIM_SDN_ERROR",
    }
}

impl ItemStatus {
    /// A status reported by a connector; unknown text becomes `OTHER` (not an error).
    pub fn from_vim(text: &str) -> ItemStatus {
        text.parse().unwrap_or(ItemStatus::Other)
    }

    /// Statuses that mean "something is wrong with this element".
    pub fn is_error(self) -> bool {
        matches!(
            self,
            ItemStatus::Error
                | ItemStatus::VimError
                | ItemStatus::Other
                | ItemStatus::SdnError
                | ItemStatus::VimSdnError
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_vim_statuses_become_other() {
        assert_eq!(
            ItemStatus::from_vim("ACTIVE:NoMgmtIP"),
            ItemStatus::ActiveNoMgmtIp
        );
        assert_eq!(ItemStatus::from_vim("MIGRATING"), ItemStatus::Other);
        assert_eq!(ItemStatus::from_vim(""), ItemStatus::Other);
    }

    #[test]
    fn error_statuses_are_classified() {
        assert!(ItemStatus::VimSdnError.is_error());
        assert!(!ItemStatus::Build.is_error());
        assert!(!ItemStatus::Deleted.is_error());
    }
}
