//! Raft RPCs as bytes. openraft's messages are encoded here and carried by a [`Transport`] the
//! caller provides (TCP on the cluster bus in the server, a simulated network in the simulator),
//! so neither needs to know openraft's types.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use openraft::errors::{
    NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft};
use serde::{Deserialize, Serialize};

use crate::state_machine::{SnapshotData, StateMachine};
use crate::{NodeId, Snapshot, SnapshotMeta, TypeConfig, Vote};

/// A boxed future, as the transport returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries one request to a peer and brings back its response. Implementations put their own
/// limit on message size and fail (never hang) when the peer is unreachable.
pub trait Transport: Send + Sync + 'static {
    fn call(&self, target: NodeId, addr: &str, request: Bytes) -> BoxFuture<'_, io::Result<Bytes>>;
}

#[derive(Serialize, Deserialize)]
pub(crate) enum Request {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<TypeConfig>),
    PreVote(VoteRequest<TypeConfig>),
    Snapshot {
        vote: Vote,
        meta: SnapshotMeta,
        data: Bytes,
    },
    TransferLeader(TransferLeaderRequest<TypeConfig>),
}

type Reply<T> = Result<T, String>;

#[derive(Serialize, Deserialize)]
pub(crate) enum Response {
    Append(Reply<AppendEntriesResponse<TypeConfig>>),
    Vote(Reply<VoteResponse<TypeConfig>>),
    Snapshot(Reply<SnapshotResponse<TypeConfig>>),
    TransferLeader(Reply<TransferLeaderResponse<TypeConfig>>),
}

fn encode<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(postcard::to_stdvec(value).expect("raft messages always encode"))
}

fn flatten<T, E: std::error::Error>(result: Result<T, RaftError<TypeConfig, E>>) -> Reply<T> {
    result.map_err(|e| e.to_string())
}

/// Serves one encoded request from a peer (the server side of [`Transport::call`]).
pub(crate) async fn serve(raft: &Raft<TypeConfig, StateMachine>, request: &[u8]) -> Bytes {
    let request: Request = match postcard::from_bytes(request) {
        Ok(r) => r,
        Err(e) => return encode(&Response::Append(Err(format!("bad request: {e}")))),
    };
    let response = match request {
        Request::Append(rpc) => Response::Append(flatten(raft.append_entries(rpc).await)),
        Request::Vote(rpc) => Response::Vote(flatten(raft.vote(rpc).await)),
        Request::PreVote(rpc) => Response::Vote(flatten(raft.pre_vote(rpc).await)),
        Request::Snapshot { vote, meta, data } => {
            let snapshot = Snapshot {
                meta,
                snapshot: data,
            };
            Response::Snapshot(
                raft.install_full_snapshot(vote, snapshot)
                    .await
                    .map_err(|e| e.to_string()),
            )
        }
        Request::TransferLeader(rpc) => Response::TransferLeader(
            raft.handle_transfer_leader(rpc)
                .await
                .map_err(|e| e.to_string()),
        ),
    };
    encode(&response)
}

/// Makes a client per peer; openraft asks for one per replication stream.
#[derive(Clone)]
pub struct Network {
    pub(crate) transport: Arc<dyn Transport>,
}

pub struct Peer {
    transport: Arc<dyn Transport>,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            transport: self.transport.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

impl Peer {
    async fn call(&self, request: Request, ttl: Duration) -> Result<Response, io::Error> {
        let bytes = encode(&request);
        let call = self.transport.call(self.target, &self.addr, bytes);
        let bytes = tokio::time::timeout(ttl, call)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "raft rpc timed out"))??;
        postcard::from_bytes(&bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

fn unreachable(e: io::Error) -> RPCError<TypeConfig> {
    match e.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::InvalidData => {
            RPCError::Network(NetworkError::new(&e))
        }
        _ => RPCError::Unreachable(Unreachable::new(&e)),
    }
}

fn remote(message: String) -> RPCError<TypeConfig> {
    RPCError::Network(NetworkError::new(&io::Error::other(message)))
}

fn mismatched() -> RPCError<TypeConfig> {
    remote("mismatched raft response".into())
}

impl RaftNetworkV2<TypeConfig> for Peer {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(Request::Append(rpc), option.hard_ttl()).await {
            Ok(Response::Append(Ok(r))) => Ok(r),
            Ok(Response::Append(Err(e))) => Err(remote(e)),
            Ok(_) => Err(mismatched()),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(Request::Vote(rpc), option.hard_ttl()).await {
            Ok(Response::Vote(Ok(r))) => Ok(r),
            Ok(Response::Vote(Err(e))) => Err(remote(e)),
            Ok(_) => Err(mismatched()),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self.call(Request::PreVote(rpc), option.hard_ttl()).await {
            Ok(Response::Vote(Ok(r))) => Ok(r),
            Ok(Response::Vote(Err(e))) => Err(remote(e)),
            Ok(_) => Err(mismatched()),
            Err(e) => Err(unreachable(e)),
        }
    }

    async fn full_snapshot(
        &mut self,
        vote: Vote,
        snapshot: Snapshot,
        cancel: impl Future<Output = ReplicationClosed> + Send + 'static,
        option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let request = Request::Snapshot {
            vote,
            meta: snapshot.meta,
            data: snapshot.snapshot,
        };
        // A snapshot may be large: allow it a minute, and give up if replication stops.
        let call = self.call(request, option.hard_ttl().max(Duration::from_secs(60)));
        tokio::select! {
            closed = cancel => Err(StreamingError::Closed(closed)),
            response = call => match response {
                Ok(Response::Snapshot(Ok(r))) => Ok(r),
                Ok(Response::Snapshot(Err(e))) => Err(StreamingError::Network(NetworkError::new(&io::Error::other(e)))),
                Ok(_) => Err(StreamingError::Network(NetworkError::new(&io::Error::other("mismatched raft response")))),
                Err(e) => Err(StreamingError::Unreachable(Unreachable::new(&e))),
            },
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        match self
            .call(Request::TransferLeader(req), option.hard_ttl())
            .await
        {
            Ok(Response::TransferLeader(Ok(r))) => Ok(r),
            Ok(Response::TransferLeader(Err(e))) => Err(remote(e)),
            Ok(_) => Err(mismatched()),
            Err(e) => Err(unreachable(e)),
        }
    }
}
