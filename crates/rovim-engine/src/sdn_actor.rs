//! The SdnActor: owns one connector per configured SDN controller and serves the VimActors'
//! requests, one message type per operation with its own typed reply ([`SdnCall`] of
//! [`CreateNet`], [`ShowNet`], [`DeleteNetAndPorts`], [`CreatePort`], [`DeletePort`]). It is a
//! thin shell: each request runs as its own future, so a slow controller does not hold up
//! requests to another. VimActors reach it through an [`SdnLink`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix::prelude::*;
use rovim_core::SdnControllerId;
use rovim_sdn::{SdnConnector, SdnError, SdnNetRequest, SdnNetState, SdnPortRequest};

/// What an operation's `run` returns: its reply, later.
pub type SdnFuture<T> = Pin<Box<dyn Future<Output = Result<T, SdnError>> + Send>>;

/// An operation on one SDN controller and what it answers.
pub trait SdnOperation: Send + 'static {
    type Reply: Send + 'static;
    fn run(self, c: Arc<dyn SdnConnector>) -> SdnFuture<Self::Reply>;
}

/// `op` for the controller `controller`.
pub struct SdnCall<Op> {
    pub controller: SdnControllerId,
    pub op: Op,
}

impl<Op: SdnOperation> Message for SdnCall<Op> {
    type Result = Result<Op::Reply, SdnError>;
}

/// Makes the network, or finds the one a crash left (names are unique per element, so a
/// network is made once): its id.
pub struct CreateNet(pub SdnNetRequest);
pub struct ShowNet(pub String);
/// Deletes the network's external ports, then the network (gone already is fine).
pub struct DeleteNetAndPorts(pub String);
/// Makes the port, or finds the one a crash left: its id.
pub struct CreatePort(pub SdnPortRequest);
/// Gone already is fine.
pub struct DeletePort(pub String);

fn gone_ok(r: Result<(), SdnError>) -> Result<(), SdnError> {
    match r {
        Ok(()) | Err(SdnError::NotFound(_)) => Ok(()),
        Err(e) => Err(e),
    }
}

impl SdnOperation for CreateNet {
    type Reply = String;
    fn run(self, c: Arc<dyn SdnConnector>) -> SdnFuture<String> {
        Box::pin(async move {
            match c.find_network(&self.0.name).await? {
                Some(id) => Ok(id),
                None => c.create_network(&self.0).await,
            }
        })
    }
}

impl SdnOperation for ShowNet {
    type Reply = SdnNetState;
    fn run(self, c: Arc<dyn SdnConnector>) -> SdnFuture<SdnNetState> {
        Box::pin(async move { c.show_network(&self.0).await })
    }
}

impl SdnOperation for DeleteNetAndPorts {
    type Reply = ();
    fn run(self, c: Arc<dyn SdnConnector>) -> SdnFuture<()> {
        Box::pin(async move {
            let ports = match c.list_ports(&self.0).await {
                Ok(p) => p,
                Err(SdnError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e),
            };
            for p in ports {
                gone_ok(c.delete_port(&p.id).await)?;
            }
            gone_ok(c.delete_network(&self.0).await)
        })
    }
}

impl SdnOperation for CreatePort {
    type Reply = String;
    fn run(self, c: Arc<dyn SdnConnector>) -> SdnFuture<String> {
        Box::pin(async move {
            match c.find_port(&self.0.net_id, &self.0.name).await? {
                Some(id) => Ok(id),
                None => c.create_port(&self.0).await,
            }
        })
    }
}

impl SdnOperation for DeletePort {
    type Reply = ();
    fn run(self, c: Arc<dyn SdnConnector>) -> SdnFuture<()> {
        Box::pin(async move { gone_ok(c.delete_port(&self.0).await) })
    }
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

impl<Op: SdnOperation> Handler<SdnCall<Op>> for SdnActor {
    type Result = ResponseFuture<Result<Op::Reply, SdnError>>;

    fn handle(&mut self, msg: SdnCall<Op>, _ctx: &mut Context<Self>) -> Self::Result {
        let connector = self.connectors.get(&msg.controller).cloned();
        Box::pin(async move {
            let Some(c) = connector else {
                return Err(SdnError::NotFound(format!(
                    "SDN controller {} is not configured",
                    msg.controller
                )));
            };
            msg.op.run(c).await
        })
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
    pub async fn call<Op: SdnOperation>(&self, op: Op) -> Result<Op::Reply, SdnError> {
        self.actor
            .send(SdnCall {
                controller: self.controller,
                op,
            })
            .await
            .map_err(|e| SdnError::Connection(format!("the SdnActor is gone: {e}")))?
    }
}
