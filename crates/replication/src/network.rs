//! Raft RPCs as bytes. openraft's messages are encoded here and carried by a [`Transport`] the
//! caller provides (TCP on the cluster bus in the server, a simulated network in the simulator),
//! so neither needs to know openraft's types.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use openraft::errors::{
    NetworkError, RPCError, RaftError, ReplicationClosed, StreamingError, Unreachable,
};
use openraft::network::{RPCOption, RaftNetworkFactory, RaftNetworkV2, stream_append_sequential};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, StreamAppendResult,
    TransferLeaderRequest, TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::{BasicNode, Raft};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::state_machine::{SnapshotData, StateMachine};
use crate::{LogId, NodeId, Proposal, ProposeError, Snapshot, SnapshotMeta, TypeConfig, Vote};

/// A boxed future, as the transport returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Carries one request to a peer and brings back its response. Implementations put their own
/// limit on message size and fail (never hang) when the peer is unreachable.
pub trait Transport: Send + Sync + 'static {
    fn call(&self, target: NodeId, addr: &str, request: Bytes) -> BoxFuture<'_, io::Result<Bytes>>;

    /// Opens a [`Pipe`] to a peer, whose other end the peer hands to
    /// [`Group::serve_pipe`](crate::Group::serve_pipe). A leader streams its appends to each
    /// follower through one, many in flight at a time. `Ok(None)`: this transport has no pipes,
    /// and appends go one at a time through [`Transport::call`].
    fn open_pipe(&self, target: NodeId, addr: &str) -> BoxFuture<'_, io::Result<Option<Pipe>>> {
        let _ = (target, addr);
        Box::pin(async { Ok(None) })
    }
}

/// An ordered two-way channel to one peer (a TCP connection on the cluster bus): messages sent
/// reach the peer in order, and its replies come back in the same order. Dropping `send` closes
/// it; an error on `recv` ends it.
pub struct Pipe {
    pub send: mpsc::Sender<Bytes>,
    pub recv: mpsc::Receiver<io::Result<Bytes>>,
}

/// Appends a leader keeps in flight on one pipe. Past this it waits for a reply before sending
/// more; the entries that arrive meanwhile go out together in the next append. openraft's
/// follower side queues 64.
const PIPE_APPENDS_IN_FLIGHT_MAX: usize = 32;

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
    /// Proposals a node that does not lead forwards to the leader (served by the group, not
    /// by openraft: see [`Group::forward`](crate::Group::forward)).
    ProposeBatch(Vec<Proposal>),
    /// A read barrier a node that does not lead asks of the leader.
    ReadIndex {
        lease: bool,
    },
}

type Reply<T> = Result<T, String>;

/// A proposal's reply and the index of the entry that carried it, or why it was not applied.
pub(crate) type ProposeResult = Result<(Bytes, u64), ProposeError>;

#[derive(Serialize, Deserialize)]
pub(crate) enum Response {
    Append(Reply<AppendEntriesResponse<TypeConfig>>),
    Vote(Reply<VoteResponse<TypeConfig>>),
    Snapshot(Reply<SnapshotResponse<TypeConfig>>),
    TransferLeader(Reply<TransferLeaderResponse<TypeConfig>>),
    /// Each forwarded proposal's reply and the index of its entry (or why it was not put
    /// through); all refused if the node does not lead.
    ProposeBatch(Result<Vec<ProposeResult>, ProposeError>),
    /// The index the leader had applied once its read barrier passed.
    ReadIndex(Result<u64, ProposeError>),
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Bytes {
    Bytes::from(postcard::to_stdvec(value).expect("raft messages always encode"))
}

fn flatten<T, E: std::error::Error>(result: Result<T, RaftError<TypeConfig, E>>) -> Reply<T> {
    result.map_err(|e| e.to_string())
}

/// Decodes a request from a peer, or the response that says why it could not be.
pub(crate) fn decode_request(request: &[u8]) -> Result<Request, Bytes> {
    postcard::from_bytes(request)
        .map_err(|e| encode(&Response::Append(Err(format!("bad request: {e}")))))
}

/// Serves one Raft request from a peer (the server side of [`Transport::call`]); the group
/// serves [`Request::Propose`] itself.
pub(crate) async fn serve(raft: &Raft<TypeConfig, StateMachine>, request: Request) -> Bytes {
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
        Request::ProposeBatch(_) | Request::ReadIndex { .. } => {
            Response::Append(Err("a request for the group reached the raft layer".into()))
        }
    };
    encode(&response)
}

/// Serves a leader's pipe of appends (the follower side of [`Peer`]'s `stream_append`): each
/// message an encoded `AppendEntriesRequest`, each reply its [`PipeReply`], in order. openraft
/// takes the next append while the last is still being written and synced. Returns when
/// `requests` ends, `replies` closes, a message does not decode or an append is refused.
pub(crate) async fn serve_pipe(
    raft: Raft<TypeConfig, StateMachine>,
    requests: mpsc::Receiver<Bytes>,
    replies: mpsc::Sender<Bytes>,
) {
    let appends = futures_util::stream::unfold(requests, |mut requests| async move {
        let bytes = requests.recv().await?;
        match postcard::from_bytes::<AppendEntriesRequest<TypeConfig>>(&bytes) {
            Ok(append) => Some((append, requests)),
            Err(e) => {
                tracing::warn!("bad append on a pipe: {e}");
                None
            }
        }
    });
    let results = raft.stream_append(appends);
    let mut results = std::pin::pin!(results);
    while let Some(result) = results.next().await {
        let reply: PipeReply = result.map_err(|fatal| fatal.to_string());
        if replies.send(encode(&reply)).await.is_err() {
            return;
        }
    }
}

/// A follower's reply to one append on a pipe.
type PipeReply = Result<StreamAppendResult<TypeConfig>, String>;

/// Makes a client per peer; openraft asks for one per replication stream.
#[derive(Clone)]
pub struct Network {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) reachable: Reachability,
}

/// Whether each peer answered the last time it was asked, shared by all of a node's clients of
/// it, so that a peer going down or coming back is logged once, not once per heartbeat
/// (openraft's own warnings about it are filtered out by the server's log settings).
#[derive(Clone, Default)]
pub(crate) struct Reachability(Arc<Mutex<HashMap<NodeId, bool>>>);

impl Reachability {
    /// Records an attempt's outcome; logs, and returns, a change (`Some(true)`: back).
    fn note(&self, target: NodeId, addr: &str, outcome: Result<(), &io::Error>) -> Option<bool> {
        let reachable = outcome.is_ok();
        let before = self
            .0
            .lock()
            .expect("reachability lock")
            .insert(target, reachable);
        match (before, outcome) {
            (Some(false), Ok(())) => {
                tracing::info!("raft peer {target} at {addr} is reachable again");
                Some(true)
            }
            (Some(true) | None, Err(e)) => {
                tracing::warn!("raft peer {target} at {addr} is unreachable ({e}); retrying");
                Some(false)
            }
            _ => None,
        }
    }
}

pub struct Peer {
    transport: Arc<dyn Transport>,
    target: NodeId,
    addr: String,
    /// The pipe the last stream of appends left clean, for the next one.
    pipe: Option<Pipe>,
    reachable: Reachability,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Peer;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Peer {
        Peer {
            transport: self.transport.clone(),
            target,
            addr: node.addr.clone(),
            pipe: None,
            reachable: self.reachable.clone(),
        }
    }
}

impl Peer {
    async fn call(&self, request: Request, ttl: Duration) -> Result<Response, io::Error> {
        let bytes = encode(&request);
        let call = self.transport.call(self.target, &self.addr, bytes);
        let bytes = tokio::time::timeout(ttl, call)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "raft rpc timed out"))
            .and_then(|called| called);
        self.note(bytes.as_ref().map(|_| ()));
        postcard::from_bytes(&bytes?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    fn note(&self, outcome: Result<(), &io::Error>) {
        self.reachable.note(self.target, &self.addr, outcome);
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

/// One append sent on a pipe and not yet answered.
struct InFlight {
    last: Option<LogId>,
    sent: tokio::time::Instant,
}

/// The leader's side of a pipe for one stream of appends: they go out as openraft makes them, up
/// to [`PIPE_APPENDS_IN_FLIGHT_MAX`] unanswered; replies come back in order. A stream that ends
/// with every append taken whole gives the pipe back to its [`Peer`] for the next stream (the
/// heartbeat worker makes a stream of one append per heartbeat); any other end closes it.
struct Pipeline<'s, S> {
    input: S,
    input_done: bool,
    pipe: Option<Pipe>,
    slot: &'s mut Option<Pipe>,
    in_flight: VecDeque<InFlight>,
    ttl: Duration,
}

type AppendReply = Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>;

impl<S: Stream<Item = AppendEntriesRequest<TypeConfig>> + Unpin> Pipeline<'_, S> {
    /// The next reply, sending appends while waiting for it; `None` when the input is done and
    /// every append answered, or after an error or a refusal.
    async fn next_reply(&mut self) -> Option<AppendReply> {
        let reply = self.next_reply_on_pipe().await;
        match &reply {
            None => *self.slot = self.pipe.take(),
            Some(Ok(Ok(_))) => {}
            Some(_) => {
                self.pipe = None;
                self.in_flight.clear();
            }
        }
        reply
    }

    async fn next_reply_on_pipe(&mut self) -> Option<AppendReply> {
        let pipe = self.pipe.as_mut()?;
        loop {
            if self.input_done && self.in_flight.is_empty() {
                return None;
            }
            let can_send = !self.input_done && self.in_flight.len() < PIPE_APPENDS_IN_FLIGHT_MAX;
            let deadline = self.in_flight.front().map(|f| f.sent + self.ttl);
            tokio::select! {
                biased;
                reply = pipe.recv.recv(), if !self.in_flight.is_empty() => {
                    let sent = self.in_flight.pop_front().expect("a reply answers an append");
                    let bytes = match reply {
                        Some(Ok(bytes)) => bytes,
                        Some(Err(e)) => return Some(Err(unreachable(e))),
                        None => return Some(Err(unreachable(pipe_closed()))),
                    };
                    let reply = match postcard::from_bytes::<PipeReply>(&bytes) {
                        Ok(Ok(result)) => result,
                        Ok(Err(e)) => return Some(Err(remote(e))),
                        Err(e) => {
                            let e = io::Error::new(io::ErrorKind::InvalidData, e);
                            return Some(Err(unreachable(e)));
                        }
                    };
                    // An append taken only in part ends the stream as a refusal does (the
                    // follower's side stops at a refusal; openraft starts another stream from
                    // what the follower has).
                    return Some(Ok(match reply {
                        Ok(matched) if matched != sent.last => {
                            self.input_done = true;
                            self.pipe = None;
                            self.in_flight.clear();
                            Ok(matched)
                        }
                        other => other,
                    }));
                }
                () = sleep_until_some(deadline) => {
                    let e = io::Error::new(io::ErrorKind::TimedOut, "raft rpc timed out");
                    return Some(Err(unreachable(e)));
                }
                append = self.input.next(), if can_send => {
                    let Some(append) = append else {
                        self.input_done = true;
                        continue;
                    };
                    let last = append.entries.last().map(|e| e.log_id).or(append.prev_log_id);
                    if pipe.send.send(encode(&append)).await.is_err() {
                        return Some(Err(unreachable(pipe_closed())));
                    }
                    self.in_flight.push_back(InFlight {
                        last,
                        sent: tokio::time::Instant::now(),
                    });
                }
            }
        }
    }
}

fn pipe_closed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "pipe closed")
}

async fn sleep_until_some(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

impl RaftNetworkV2<TypeConfig> for Peer {
    type SnapshotData = SnapshotData;

    fn stream_append<'s, S>(
        &'s mut self,
        input: S,
        option: RPCOption,
    ) -> openraft::base::BoxFuture<
        's,
        Result<
            openraft::base::BoxStream<
                's,
                Result<StreamAppendResult<TypeConfig>, RPCError<TypeConfig>>,
            >,
            RPCError<TypeConfig>,
        >,
    >
    where
        S: Stream<Item = AppendEntriesRequest<TypeConfig>> + Send + Unpin + 'static,
    {
        Box::pin(async move {
            let mut input = input;
            let mut first = None;
            let pipe = match self.pipe.take() {
                Some(pipe) => pipe,
                None => {
                    // The first append is taken before a pipe is opened: taking it is where
                    // openraft waits out its backoff after failures. Opening first spun at a
                    // peer that was down (a new leader retried its dead predecessor thousands
                    // of times a second, at 60% of a CPU).
                    let Some(request) = input.next().await else {
                        let done: openraft::base::BoxStream<'s, _> =
                            Box::pin(futures_util::stream::empty());
                        return Ok(done);
                    };
                    let open = self.transport.open_pipe(self.target, &self.addr);
                    let opened = tokio::time::timeout(option.hard_ttl(), open)
                        .await
                        .unwrap_or_else(|_| {
                            Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                "raft rpc timed out",
                            ))
                        });
                    self.note(opened.as_ref().map(|_| ()));
                    match opened {
                        Ok(Some(pipe)) => {
                            first = Some(request);
                            pipe
                        }
                        Ok(None) => {
                            let input = futures_util::stream::iter(Some(request)).chain(input);
                            return stream_append_sequential(self, input, option).await;
                        }
                        Err(e) => return Err(unreachable(e)),
                    }
                }
            };
            let pipeline = Pipeline {
                input: futures_util::stream::iter(first).chain(input),
                input_done: false,
                pipe: Some(pipe),
                slot: &mut self.pipe,
                in_flight: VecDeque::new(),
                ttl: option.hard_ttl(),
            };
            let replies = futures_util::stream::unfold(pipeline, |mut p| async move {
                let reply = p.next_reply().await?;
                Some((reply, p))
            });
            let replies: openraft::base::BoxStream<'s, _> = Box::pin(replies);
            Ok(replies)
        })
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_going_down_and_coming_back_is_noted_once_each_way() {
        let r = Reachability::default();
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            r.note(2, "a", Ok(())),
            None,
            "first success: nothing to say"
        );
        assert_eq!(r.note(2, "a", Err(&refused)), Some(false));
        for _ in 0..100 {
            assert_eq!(
                r.note(2, "a", Err(&refused)),
                None,
                "said once, not per retry"
            );
        }
        assert_eq!(
            r.note(3, "b", Err(&refused)),
            Some(false),
            "each peer on its own"
        );
        assert_eq!(r.note(2, "a", Ok(())), Some(true));
        assert_eq!(r.note(2, "a", Ok(())), None);
    }
}
