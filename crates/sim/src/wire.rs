//! Client connections in the simulator: RESP over in-memory pipes into the server's real
//! connection code (`server::conn::serve`), so parsing, pipelined write batching, read barriers,
//! MULTI/EXEC and a follower's forwarding to the leader all run under the seed.
//!
//! The node's end of a pipe is a [`SimStream`]: it moves no bytes while its node is stalled.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::BytesMut;
use replication::NodeId;
use resp::Frame;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::cluster::Net;

/// Bytes a pipe buffers each way before the writer waits.
pub const PIPE_BYTES: usize = 64 << 10;

/// A node's end of a client connection.
pub struct SimStream {
    inner: DuplexStream,
    net: Arc<Net>,
    node: NodeId,
    wait: Option<Pin<Box<Sleep>>>,
}

impl SimStream {
    pub(crate) fn new(inner: DuplexStream, net: Arc<Net>, node: NodeId) -> Self {
        SimStream {
            inner,
            net,
            node,
            wait: None,
        }
    }

    /// Ready once bytes may move (the node is not stalled).
    fn poll_open(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Some(until) = self.net.held_until(self.node) else {
                self.wait = None;
                return Poll::Ready(());
            };
            let sleep = self
                .wait
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(until)));
            if sleep.deadline() != until {
                sleep.as_mut().reset(until);
            }
            ready!(sleep.as_mut().poll(cx));
        }
    }
}

impl AsyncRead for SimStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_open(cx));
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SimStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_open(cx));
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

impl server::stream::ClientStream for SimStream {
    fn read_some<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        // Cancel-safe: `poll_read` reads nothing when it returns Pending.
        self.read_buf(buf)
    }
}

/// A simulated client's connection to one node.
pub struct RespConn {
    pub node: NodeId,
    stream: DuplexStream,
    input: BytesMut,
}

/// Why a request got no replies.
#[derive(Debug, PartialEq, Eq)]
pub enum Failed {
    /// The request was never sent: nothing happened.
    NotSent,
    /// Sent, but the connection dropped or the replies did not come in time: it may have
    /// been applied.
    NoReply,
}

impl RespConn {
    pub fn new(node: NodeId, stream: DuplexStream) -> RespConn {
        RespConn {
            node,
            stream,
            input: BytesMut::new(),
        }
    }

    /// Sends `commands` pipelined and waits, until `timeout`, for one reply to each.
    pub async fn request(
        &mut self,
        commands: &[Vec<Vec<u8>>],
        timeout: Duration,
    ) -> Result<Vec<Frame>, Failed> {
        // A command is an array of bulk strings: the reply encoder writes exactly that.
        let mut request = resp::ReplyWriter::new(resp::Protocol::Resp2);
        for command in commands {
            request.array(command.len());
            for arg in command {
                request.bulk(arg);
            }
        }
        let request = request.buf;
        let deadline = Instant::now() + timeout;
        // The pipe takes the whole request at once unless the node stopped reading.
        match tokio::time::timeout_at(deadline, self.stream.write_all(&request)).await {
            Ok(Ok(())) => {}
            _ => return Err(Failed::NoReply),
        }
        let mut replies = Vec::with_capacity(commands.len());
        while replies.len() < commands.len() {
            match resp::decode_frame(&self.input) {
                Ok(Some((frame, len))) => {
                    let _ = self.input.split_to(len);
                    replies.push(frame);
                    continue;
                }
                Ok(None) => {}
                Err(_) => return Err(Failed::NoReply),
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.input)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return Err(Failed::NoReply),
            }
        }
        Ok(replies)
    }
}

/// The node an address `sim-node-<id>:<port>` names.
pub fn node_of(addr: &str) -> Option<NodeId> {
    addr.strip_prefix("sim-node-")?
        .split(':')
        .next()?
        .parse()
        .ok()
}
