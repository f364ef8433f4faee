//! rovim-core: the domain of rovim and its pure rules.
//!
//! Owns the vocabulary every other crate speaks (ids, task actions and statuses, item statuses,
//! typed VIM parameters) and the rules the engine applies to it. Nothing here does I/O, spawns a
//! thread or knows about actors: every rule is a plain function or a method on a plain struct, so
//! it is unit- and property-tested in isolation, and the actors stay thin shells around it.
//!
//! Modules:
//! - [`ids`]: action, task, item, VIM account and SDN controller identifiers.
//! - [`task`]: `Action`, `ItemKind`, `TaskStatus`, legal transitions and counter deltas.
//! - [`item_status`]: the VIM-facing status vocabulary of nets and VMs (`ACTIVE`, `VIM_ERROR`, …).
//! - [`name`]: what a name may be, and control characters escaped for terminals.
//! - [`params`]: typed parameters of net and VM tasks, net references, find filters.
//! - [`created`]: what rovim created on a VIM for an element (the thing a DELETE must clean).
//! - [`group`]: the tasks of one element: admission, superseding, what runs next, outcomes.
//! - [`dependency`]: whether a task's dependencies let it run, wait, or fail.
//! - [`find`]: the outcome of a FIND (one / none / many) and FIND-then-CREATE.
//! - [`truncate`]: error message truncation that keeps both ends.
//! - [`refresh_policy`]: when an element is polled next.
//! - [`retry`]: what a VIM call does after a failed try.
//! - [`scrub`]: keeping secrets (and unbounded bodies) out of error text.
//! - [`sdn_vlan`]: the VLAN rule of SDN assist.
//! - [`sdn_merge`]: the VIM + SDN status merge of a net.
//! - [`task_shape`]: what each task of a submission may carry.
//! - [`teardown`]: a net is deleted only once no VM rovim knows is left on it.
//! - [`vim_account`]: VIM types and account statuses.
//! - [`vim_url`]: what a VIM account's (or SDN controller's) URL may be.
//! - [`backoff`]: a validated exponential backoff with jitter.
//! - [`lease_plan`]: how the VIM accounts are shared between the instances of one database.
//!
//! `BUG-n` in comments: a defect of the reference implementation that rovim fixes, listed in
//! `docs/reference-bugs.md`.
#![forbid(unsafe_code)]

pub mod backoff;
pub mod created;
pub mod dependency;
pub mod drift;
pub mod find;
pub mod group;
pub mod ids;
pub mod item_status;
pub mod lease_plan;
pub mod name;
pub mod orphan;
pub mod panic_text;
pub mod params;
pub mod refresh_policy;
pub mod retry;
pub mod scrub;
pub mod sdn_merge;
pub mod sdn_vlan;
pub mod task;
pub mod task_shape;
pub mod teardown;
pub mod test_peers;
pub mod truncate;
pub mod vim_account;
pub mod vim_url;
pub mod yaml;

mod string_enum;

pub use backoff::{Backoff, BackoffError};
pub use created::{CreatedItem, CreatedKind, Owned};
pub use dependency::{DepState, DepView, Readiness, readiness};
pub use drift::{Asked, AskedPool, Seen, drift};
pub use find::{FindOutcome, find_outcome};
pub use group::{AdmitError, ElementGroup, GroupTask, Next, Outcome, Start, Transition, VimCall};
pub use ids::{ActionId, ItemId, ParseIdError, SdnControllerId, TaskKey, VimAccountId};
pub use item_status::ItemStatus;
pub use name::{MAX_NAME_LEN, check_name, escape_controls};
pub use orphan::{TokenState, element_age, live_state, orphan_reason, token_time};
pub use panic_text::panic_text;
pub use params::{
    Dhcp, Disk, FindFilter, Interface, InterfaceType, IpProfile, IpVersion, NetParams, NetRef,
    NetType, ParamError, TaskParams, VmParams,
};
pub use refresh_policy::{RefreshPolicy, RefreshPolicyError};
pub use retry::{CallKind, FailureKind, GaveUp, RetryBudget, RetryDecision, retry_decision};
pub use scrub::{MAX_VIM_BODY, quote_body, scrub_secret};
pub use sdn_merge::{SdnNetStatus, merge_sdn_status};
pub use sdn_vlan::{NotVlan, SdnVlan, sdn_vlan};
pub use task::{Action, Counter, CounterDelta, ItemKind, TaskStatus, UnknownValue, counter_delta};
pub use task_shape::{ShapeError, TaskShape, check_task_shape};
pub use teardown::{NetUser, Teardown, net_teardown};
pub use truncate::{MAX_ERROR_LEN, truncate_error};
pub use vim_account::{AccountStatus, VimType};
pub use vim_url::{MAX_URL_LEN, check_sdn_url, check_vim_url};
