//! The orphan sweeper: lists the elements a VIM account holds with this installation's tag,
//! asks the database which tokens a live item still owns, and deletes (or only reports) the
//! rest once they are older than the grace period.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use rovim_core::VimAccountId;
use rovim_core::{
    CreatedItem, CreatedKind, Owned, TokenState, element_age, live_state, orphan_reason,
};
use rovim_store::{Store, leases, reconcile};
use rovim_vim::{ElementKind, TaggedElement, VimConnector, VimError};
use serde::Serialize;

use crate::config::SweepPolicy;
use crate::engine::stored_account;
use crate::error::EngineError;
use crate::shared::{Shared, read};
use crate::supervisor::Supervisor;

/// An element rovim made and no live item owns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Orphan {
    pub kind: ElementKind,
    pub vim_id: String,
    pub name: String,
    pub token: Option<String>,
    pub age_secs: u64,
    pub why: String,
}

/// What a sweep did: the orphans deleted, and those whose delete failed (with why).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SweepReport {
    pub dry_run: bool,
    pub deleted: Vec<Orphan>,
    pub failed: Vec<FailedDelete>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedDelete {
    pub orphan: Orphan,
    pub error: String,
}

/// The orphans among the elements `connector` lists with this installation's tag.
pub async fn find_orphans(
    store: &Store,
    connector: &Arc<dyn VimConnector>,
    grace: Duration,
) -> Result<Vec<Orphan>, EngineError> {
    let tagged = connector.list_tagged().await?;
    let tokens: Vec<String> = tagged
        .iter()
        .filter_map(|e| e.token.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let states = read(store, move |c| reconcile::token_states(c, &tokens)).await?;
    let now = Utc::now();
    Ok(tagged
        .into_iter()
        .filter_map(|e: TaggedElement| {
            let age = element_age(e.created_at, e.token.as_deref(), now);
            let state = e.token.as_ref().map(|t| match states.get(t) {
                None => TokenState::Unknown,
                Some(o) if o.state == TokenState::Live => live_state(
                    matches!(e.kind, ElementKind::Net | ElementKind::Vm),
                    &e.vim_id,
                    o.item_vim_id.as_deref(),
                ),
                Some(o) => o.state,
            });
            let why = orphan_reason(state, age, grace)?;
            Some(Orphan {
                kind: e.kind,
                vim_id: e.vim_id,
                name: e.name,
                token: e.token,
                age_secs: age.unwrap_or_default().as_secs(),
                why: why.to_owned(),
            })
        })
        .collect())
}

/// One delete call of a sweep: a net with its orphan subnets, a VM with its orphan ports, or
/// a subnet or port whose net or VM is gone already.
#[derive(Debug, PartialEq)]
enum Removal {
    Net(Owned),
    Vm(Owned),
}

/// Groups orphans into delete calls: a subnet or port goes with the orphan net or VM of the
/// same token, alone when there is none.
fn removals(orphans: &[Orphan]) -> Vec<(Removal, Vec<usize>)> {
    let mut out: Vec<(Removal, Vec<usize>)> = Vec::new();
    let mut parent: HashMap<(&str, ElementKind), usize> = HashMap::new();
    for (i, o) in orphans.iter().enumerate() {
        let owned = Owned {
            vim_id: Some(o.vim_id.clone()),
            created_items: Vec::new(),
        };
        match o.kind {
            ElementKind::Net => out.push((Removal::Net(owned), vec![i])),
            ElementKind::Vm => out.push((Removal::Vm(owned), vec![i])),
            ElementKind::Subnet | ElementKind::Port => continue,
        }
        if let Some(t) = &o.token {
            parent.insert((t.as_str(), o.kind), out.len() - 1);
        }
    }
    for (i, o) in orphans.iter().enumerate() {
        let (parent_kind, kind) = match o.kind {
            ElementKind::Subnet => (ElementKind::Net, CreatedKind::Subnet),
            ElementKind::Port => (ElementKind::Vm, CreatedKind::Port),
            ElementKind::Net | ElementKind::Vm => continue,
        };
        let item = CreatedItem {
            kind,
            id: o.vim_id.clone(),
        };
        let at = o
            .token
            .as_deref()
            .and_then(|t| parent.get(&(t, parent_kind)));
        match at {
            Some(&at) => {
                let (Removal::Net(owned) | Removal::Vm(owned)) = &mut out[at].0;
                owned.created_items.push(item);
                out[at].1.push(i);
            }
            None => {
                let owned = Owned {
                    vim_id: None,
                    created_items: vec![item],
                };
                let r = match parent_kind {
                    ElementKind::Net => Removal::Net(owned),
                    _ => Removal::Vm(owned),
                };
                out.push((r, vec![i]));
            }
        }
    }
    out
}

/// Deletes `orphans` (VMs first: a net cannot go while ports use it). Already gone counts as
/// deleted.
pub async fn delete_orphans(
    connector: &Arc<dyn VimConnector>,
    orphans: Vec<Orphan>,
) -> SweepReport {
    let mut plan = removals(&orphans);
    plan.sort_by_key(|(r, _)| matches!(r, Removal::Net(_)));
    let mut report = SweepReport::default();
    for (removal, members) in plan {
        let result = match &removal {
            Removal::Vm(owned) => connector.delete_vm(owned).await,
            Removal::Net(owned) => connector.delete_net(owned).await,
        };
        for i in members {
            let orphan = orphans[i].clone();
            match &result {
                Ok(()) | Err(VimError::NotFound(_)) => report.deleted.push(orphan),
                Err(e) => report.failed.push(FailedDelete {
                    orphan,
                    error: e.to_string(),
                }),
            }
        }
    }
    report
}

/// The orphans of account `id`, listed on its VIM now (sets `rovim_orphans{vim}`), with the
/// connector that listed them.
async fn listed(
    shared: &Shared,
    id: VimAccountId,
) -> Result<(Arc<dyn VimConnector>, Vec<Orphan>), EngineError> {
    let account = stored_account(&shared.store, id).await?;
    let connector = shared.connectors.connect(&account)?;
    let orphans = find_orphans(&shared.store, &connector, shared.config.sweep.grace()).await?;
    shared
        .metrics
        .orphans
        .with_label_values(&[&id.to_string()])
        .set(orphans.len() as i64);
    Ok((connector, orphans))
}

/// The orphans of account `id`, listed on its VIM now.
pub(crate) async fn account_orphans(
    shared: &Shared,
    id: VimAccountId,
) -> Result<Vec<Orphan>, EngineError> {
    Ok(listed(shared, id).await?.1)
}

/// Lists the orphans of account `id` and, unless `dry_run`, deletes them.
pub(crate) async fn sweep_account(
    shared: &Shared,
    id: VimAccountId,
    dry_run: bool,
) -> Result<SweepReport, EngineError> {
    let (connector, orphans) = listed(shared, id).await?;
    if dry_run {
        return Ok(SweepReport {
            dry_run,
            deleted: orphans,
            failed: Vec::new(),
        });
    }
    let vim = id.to_string();
    let report = delete_orphans(&connector, orphans).await;
    for o in &report.deleted {
        slog::info!(shared.log, "orphan deleted"; "vim" => &vim, "kind" => o.kind.as_str(),
            "vim_id" => &o.vim_id, "name" => &o.name, "why" => &o.why);
    }
    for f in &report.failed {
        slog::warn!(shared.log, "orphan not deleted"; "vim" => &vim, "kind" => f.orphan.kind.as_str(),
            "vim_id" => &f.orphan.vim_id, "error" => &f.error);
    }
    let m = &shared.metrics;
    m.orphans_deleted
        .with_label_values(&[&vim])
        .inc_by(report.deleted.len() as u64);
    m.orphans
        .with_label_values(&[&vim])
        .set(report.failed.len() as i64);
    Ok(report)
}

/// Sweeps every account this instance runs, every `sweep.interval_secs`, by the policy, for as
/// long as the engine's Supervisor lives.
pub(crate) fn start_scheduled(shared: Shared, supervisor: actix::WeakAddr<Supervisor>) {
    let config = shared.config.sweep.clone();
    if config.interval_secs <= 0.0 {
        return;
    }
    let every = Duration::from_secs_f64(config.interval_secs);
    actix::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            if supervisor.upgrade().is_none() {
                return;
            }
            let owners = match read(&shared.store, leases::account_owners).await {
                Ok(o) => o,
                Err(e) => {
                    slog::warn!(shared.log, "orphan sweep skipped"; "error" => e.to_string());
                    continue;
                }
            };
            let mine = owners
                .into_iter()
                .filter(|(_, owner)| *owner == *shared.keeper.id)
                .map(|(vim, _)| vim);
            for vim in mine {
                let done = match config.policy {
                    SweepPolicy::Report => account_orphans(&shared, vim).await.map(|o| o.len()),
                    SweepPolicy::Delete => sweep_account(&shared, vim, false)
                        .await
                        .map(|r| r.deleted.len()),
                };
                match done {
                    Ok(n) => slog::info!(shared.log, "orphan sweep";
                        "vim" => vim.to_string(), "policy" => format!("{:?}", config.policy), "orphans" => n),
                    Err(e) => slog::warn!(shared.log, "orphan sweep failed";
                        "vim" => vim.to_string(), "error" => e.to_string()),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orphan(kind: ElementKind, id: &str, token: &str) -> Orphan {
        Orphan {
            kind,
            vim_id: id.into(),
            name: String::new(),
            token: Some(token.into()),
            age_secs: 7200,
            why: String::new(),
        }
    }

    #[test]
    fn parts_go_with_their_orphan_parent_or_alone() {
        let orphans = vec![
            orphan(ElementKind::Port, "p1", "t-vm"),
            orphan(ElementKind::Vm, "vm", "t-vm"),
            orphan(ElementKind::Net, "net", "t-net"),
            orphan(ElementKind::Subnet, "s1", "t-net"),
            orphan(ElementKind::Port, "p-lone", "t-other"),
            orphan(ElementKind::Subnet, "s-lone", "t-vm"),
        ];
        let plan = removals(&orphans);
        let port = |id: &str| CreatedItem {
            kind: CreatedKind::Port,
            id: id.into(),
        };
        let subnet = |id: &str| CreatedItem {
            kind: CreatedKind::Subnet,
            id: id.into(),
        };
        assert_eq!(
            plan,
            vec![
                (
                    Removal::Vm(Owned {
                        vim_id: Some("vm".into()),
                        created_items: vec![port("p1")]
                    }),
                    vec![1, 0]
                ),
                (
                    Removal::Net(Owned {
                        vim_id: Some("net".into()),
                        created_items: vec![subnet("s1")]
                    }),
                    vec![2, 3]
                ),
                (
                    Removal::Vm(Owned {
                        vim_id: None,
                        created_items: vec![port("p-lone")]
                    }),
                    vec![4]
                ),
                (
                    Removal::Net(Owned {
                        vim_id: None,
                        created_items: vec![subnet("s-lone")]
                    }),
                    vec![5]
                ),
            ]
        );
    }
}
