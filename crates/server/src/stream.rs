//! What a client connection runs over: a TCP socket, or an in-memory pipe (the simulator's
//! clients speak RESP to the real connection code through one).

use std::future::Future;
use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, DuplexStream, Interest};
use tokio::net::TcpStream;

/// A client connection's byte stream.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {
    /// Waits until bytes arrive, then appends what is there to `buf`; 0 at the end of the
    /// stream. Cancel-safe: dropped before it completes, it has read nothing.
    fn read_some<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a;

    /// The last read did not fill the buffer, so the stream is drained: a hint that saves a
    /// socket one failing read per request.
    fn drained(&self) {}

    /// The file descriptor CLIENT LIST shows (-1 when there is none).
    fn fd(&self) -> i64 {
        -1
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

impl ClientStream for TcpStream {
    async fn read_some(&mut self, buf: &mut BytesMut) -> io::Result<usize> {
        // Readiness, then a non-blocking read: nothing is read unless the read completes, so
        // the future may be dropped at its only await point.
        loop {
            self.readable().await?;
            match self.try_read_buf(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                result => return result,
            }
        }
    }

    fn drained(&self) {
        // Mark the socket not ready now instead of learning it from one more read() failing
        // with EAGAIN: at pipeline 1 that is one system call saved per request. Safe with
        // tokio's edge-triggered readiness: data arriving later raises a new edge.
        let _ = self.try_io(Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }

    fn fd(&self) -> i64 {
        #[cfg(unix)]
        return std::os::fd::AsRawFd::as_raw_fd(self) as i64;
        #[cfg(not(unix))]
        return -1;
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        TcpStream::local_addr(self).ok()
    }
}

impl ClientStream for DuplexStream {
    fn read_some<'a>(
        &'a mut self,
        buf: &'a mut BytesMut,
    ) -> impl Future<Output = io::Result<usize>> + Send + 'a {
        // `read_buf` is cancel-safe.
        self.read_buf(buf)
    }
}
