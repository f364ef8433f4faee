//! The SdnActor: owns one connector per configured SDN controller and serves the VimActors'
//! typed requests. It is a thin shell: each request runs as its own future, so a slow controller
//! does not hold up requests to another.

use std::collections::HashMap;
use std::sync::Arc;

use actix::prelude::*;
use rovim_core::SdnControllerId;
use rovim_sdn::{SdnConnector, SdnError, SdnNetRequest, SdnNetState, SdnPortRequest};

#[derive(Debug, Clone)]
pub enum SdnOp {
    CreateNet(SdnNetRequest),
    ShowNet(String),
    /// Deletes the network's external ports, then the network (both gone already is fine).
    DeleteNetAndPorts(String),
    CreatePort(SdnPortRequest),
    /// Gone already is fine.
    DeletePort(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdnReply {
    Id(String),
    Net(SdnNetState),
    Done,
}

#[derive(Message)]
#[rtype(result = "Result<SdnReply, SdnError>")]
pub struct SdnRequest {
    pub controller: SdnControllerId,
    pub op: SdnOp,
}

#[derive(Message)]
#[rtype(result = "()")]
pub struct AddController(pub SdnControllerId, pub Arc<dyn SdnConnector>);

#[derive(Default)]
pub struct SdnActor {
    connectors: HashMap<SdnControllerId, Arc<dyn SdnConnector>>,
}

impl SdnActor {
    pub fn new(connectors: HashMap<SdnControllerId, Arc<dyn SdnConnector>>) -> SdnActor {
        SdnActor { connectors }
    }
}

impl Actor for SdnActor {
    type Context = Context<Self>;
}

impl Handler<AddController> for SdnActor {
    type Result = ();

    fn handle(&mut self, msg: AddController, _ctx: &mut Context<Self>) {
        self.connectors.insert(msg.0, msg.1);
    }
}

impl Handler<SdnRequest> for SdnActor {
    type Result = ResponseFuture<Result<SdnReply, SdnError>>;

    fn handle(&mut self, msg: SdnRequest, _ctx: &mut Context<Self>) -> Self::Result {
        let connector = self.connectors.get(&msg.controller).cloned();
        Box::pin(async move {
            let Some(c) = connector else {
                return Err(SdnError::NotFound(format!(
                    "SDN controller {} is not configured",
                    msg.controller
                )));
            };
            run(c.as_ref(), msg.op).await
        })
    }
}

async fn run(c: &dyn SdnConnector, op: SdnOp) -> Result<SdnReply, SdnError> {
    let gone_ok = |r: Result<(), SdnError>| match r {
        Ok(()) | Err(SdnError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    };
    match op {
        // Names are unique per element: what a crash left on the controller is found again, so
        // a network or port is made once.
        SdnOp::CreateNet(r) => match c.find_network(&r.name).await? {
            Some(id) => Ok(SdnReply::Id(id)),
            None => c.create_network(&r).await.map(SdnReply::Id),
        },
        SdnOp::ShowNet(id) => c.show_network(&id).await.map(SdnReply::Net),
        SdnOp::DeleteNetAndPorts(id) => {
            let ports = match c.list_ports(&id).await {
                Ok(p) => p,
                Err(SdnError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
            for p in ports {
                gone_ok(c.delete_port(&p.id).await)?;
            }
            gone_ok(c.delete_network(&id).await).map(|()| SdnReply::Done)
        }
        SdnOp::CreatePort(r) => match c.find_port(&r.net_id, &r.name).await? {
            Some(id) => Ok(SdnReply::Id(id)),
            None => c.create_port(&r).await.map(SdnReply::Id),
        },
        SdnOp::DeletePort(id) => gone_ok(c.delete_port(&id).await).map(|()| SdnReply::Done),
    }
}

/// How a VimActor reaches its account's SDN controller.
#[derive(Clone)]
pub struct SdnLink {
    pub actor: Addr<SdnActor>,
    pub controller: SdnControllerId,
    /// Passed with networks and ports (the reference's `datacenter_id`).
    pub region: String,
}

impl SdnLink {
    pub async fn call(&self, op: SdnOp) -> Result<SdnReply, SdnError> {
        self.actor
            .send(SdnRequest {
                controller: self.controller,
                op,
            })
            .await
            .map_err(|e| SdnError::Connection(format!("the SdnActor is gone: {e}")))?
    }
}
