//! The calls a [`crate::live_set::LiveSet`]'s decisions lead to, as plain async functions: a
//! refresh (the VIM's answer for one batch, with the SDN state of the nets that have an SDN
//! network) and the SDN port changes (delete the old port, gone already is fine and a failure
//! leaves it to the net's deletion; then create the new one).

use std::collections::HashMap;
use std::sync::Arc;

use rovim_sdn::{SdnNetState, SdnPortRequest, port_name};
use rovim_vim::VimError;

use crate::live_set::{PortDone, PortWork, RefreshCall};
use crate::sdn_actor::{CreatePort, DeletePort, SdnLink, ShowNet};
use crate::task_entry::ElementKey;
use crate::vim_call::{self, CallEnv, RefreshAnswer};

/// Why a refresh has no answer: the words stored on every element of its batch.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error(transparent)]
    Vim(#[from] VimError),
    /// The connector panicked (in its own task, so the actor goes on).
    #[error("internal error: the refresh call failed: {0}")]
    Panicked(String),
}

/// The VIM's answer to `call`, and the SDN state of its SDN nets.
pub async fn refresh(
    env: Arc<CallEnv>,
    call: &RefreshCall,
) -> (
    Result<RefreshAnswer, RefreshError>,
    HashMap<ElementKey, SdnNetState>,
) {
    let request = tokio::spawn(vim_call::refresh(env.clone(), call.kind, call.ids.clone()));
    let answer = match request.await {
        Ok(r) => r.map_err(RefreshError::from),
        Err(e) => Err(RefreshError::Panicked(e.to_string())),
    };
    let mut sdn = HashMap::new();
    if let Some(link) = &env.sdn {
        for (element, id) in &call.sdn_nets {
            if let Ok(state) = link.call(ShowNet(id.clone())).await {
                sdn.insert(*element, state);
            }
        }
    }
    (answer, sdn)
}

pub async fn carry_out_ports(link: SdnLink, work: Vec<PortWork>) -> Vec<PortDone> {
    let mut done = Vec::with_capacity(work.len());
    for w in work {
        if let Some(old) = &w.job.old {
            let _ = link.call(DeletePort(old.clone())).await;
        }
        let made = match (&w.job.new, &w.sdn_net) {
            (Some(key), Some(net)) => {
                let request = SdnPortRequest {
                    name: port_name(net, &w.vm_vim_id),
                    net_id: net.clone(),
                    compute_node: key.compute_node.clone(),
                    pci: key.pci.clone(),
                    vlan: key.vlan.and_then(|v| u16::try_from(v).ok()),
                    mac: key.mac.clone(),
                    region: link.region.clone(),
                };
                link.call(CreatePort(request)).await.map(Some)
            }
            _ => Ok(None),
        };
        done.push((w, made));
    }
    done
}
