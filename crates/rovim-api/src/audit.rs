//! Audit records: every change of a VIM account or an SDN controller leaves one log record with
//! `audit` naming the change, the target, which fields changed (names only, never values: a
//! password is a field), and the request id and peer that tie it to its access-log line.

use actix_web::HttpRequest;

use crate::access_log::RequestId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    VimAccountCreated,
    VimAccountEdited,
    VimAccountDeleted,
    SdnControllerCreated,
    SdnControllerDeleted,
    OrphansSwept,
}

impl Change {
    pub const fn as_str(self) -> &'static str {
        match self {
            Change::VimAccountCreated => "vim_account.created",
            Change::VimAccountEdited => "vim_account.edited",
            Change::VimAccountDeleted => "vim_account.deleted",
            Change::SdnControllerCreated => "sdn_controller.created",
            Change::SdnControllerDeleted => "sdn_controller.deleted",
            Change::OrphansSwept => "vim_account.orphans_swept",
        }
    }
}

/// Logs the record of a change that was made (refusals change nothing and are in the access log).
pub fn record(
    log: &slog::Logger,
    req: &HttpRequest,
    change: Change,
    target: &str,
    fields: &[&str],
) {
    let peer = req
        .peer_addr()
        .map_or_else(|| "-".to_owned(), |a| a.to_string());
    slog::info!(log, "audit";
        "audit" => change.as_str(), "target" => target, "fields" => fields.join(","),
        "request_id" => RequestId::of(req), "peer" => peer);
}
