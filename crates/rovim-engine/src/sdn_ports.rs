//! Carries out the SDN port changes a [`crate::live_set::LiveSet`] decided: for each, delete
//! the old port (gone already is fine; a failure leaves it to the net's deletion), then create
//! the new one on the interface's SDN network.

use rovim_sdn::{SdnPortRequest, port_name};

use crate::live_set::{PortDone, PortWork};
use crate::sdn_actor::{SdnLink, SdnOp, SdnReply};

pub async fn carry_out(link: SdnLink, work: Vec<PortWork>) -> Vec<PortDone> {
    let mut done = Vec::with_capacity(work.len());
    for w in work {
        if let Some(old) = &w.job.old {
            let _ = link.call(SdnOp::DeletePort(old.clone())).await;
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
                match link.call(SdnOp::CreatePort(request)).await {
                    Ok(SdnReply::Id(id)) => Ok(Some(id)),
                    Ok(other) => Err(format!("unexpected SDN reply {other:?}")),
                    Err(e) => Err(e.to_string()),
                }
            }
            _ => Ok(None),
        };
        done.push((w, made));
    }
    done
}
