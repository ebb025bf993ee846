//! A `CONNECT` tunnel: bytes both ways until both sides are done or nothing moves for the
//! idle time. TLS stays end to end: the proxy never reads what it moves.
//!
//! The bytes move with `splice` through a pipe per direction, never through the proxy's
//! memory, where `SIGPIPE` is ignored (always in a proxy process; in a proxy thread, as
//! Rust programs and Python set it); else they are copied in 64 KiB reads and writes.

use std::future::Future;
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use hyper::body::Bytes;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use super::io::{Activity, First, Tracked, race};
use crate::sys::egress as sys;

/// Bytes moved per `splice` and the size asked for each pipe.
const CHUNK: usize = 256 * 1024;
/// Buffer of each direction when copying.
const COPY_BUFFER: usize = 64 * 1024;

/// Runs the tunnel between the client and the upstream connection; `early` holds the bytes
/// the client sent after its `CONNECT` head (a TLS ClientHello sent without waiting).
/// Returns how it ended: `Ok` when both sides finished, the error or a timeout otherwise.
pub async fn run(
    client: TcpStream,
    mut upstream: TcpStream,
    early: Bytes,
    idle: Duration,
    splice: bool,
) -> io::Result<()> {
    if !early.is_empty() {
        upstream.write_all(&early).await?;
    }
    let activity = Activity::new();
    let moved = async {
        if splice && let Some(pipes) = pipes() {
            return splice_both(&client, &upstream, pipes, &activity).await;
        }
        copy_both(client, upstream, activity.clone()).await
    };
    match race(moved, activity.idle(idle)).await {
        First::Left(result) => result,
        First::Right(()) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("nothing moved for {} s", idle.as_secs_f32()),
        )),
    }
}

/// Two pipes (read end, write end), or `None` when the system will not give them (too many
/// descriptors): the tunnel then copies.
fn pipes() -> Option<[(OwnedFd, OwnedFd); 2]> {
    Some([sys::splice_pipe(CHUNK).ok()?, sys::splice_pipe(CHUNK).ok()?])
}

async fn copy_both(
    client: TcpStream,
    upstream: TcpStream,
    activity: Arc<Activity>,
) -> io::Result<()> {
    let mut a = Tracked::new(client, activity.clone());
    let mut b = Tracked::new(upstream, activity);
    tokio::io::copy_bidirectional_with_sizes(&mut a, &mut b, COPY_BUFFER, COPY_BUFFER)
        .await
        .map(|_| ())
}

async fn splice_both(
    client: &TcpStream,
    upstream: &TcpStream,
    [up, down]: [(OwnedFd, OwnedFd); 2],
    activity: &Activity,
) -> io::Result<()> {
    let a = pin!(pump(client, upstream, up, activity));
    let b = pin!(pump(upstream, client, down, activity));
    both(a, b).await
}

/// Runs both futures to their end; the first error ends both.
async fn both<A, B>(a: A, b: B) -> io::Result<()>
where
    A: Future<Output = io::Result<()>>,
    B: Future<Output = io::Result<()>>,
{
    let mut a = pin!(a);
    let mut b = pin!(b);
    let (mut a_done, mut b_done) = (false, false);
    std::future::poll_fn(|cx| {
        if !a_done && let Poll::Ready(r) = a.as_mut().poll(cx) {
            r?;
            a_done = true;
        }
        if !b_done && let Poll::Ready(r) = b.as_mut().poll(cx) {
            r?;
            b_done = true;
        }
        if a_done && b_done {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Moves everything `from` sends to `to` through the pipe, then shuts `to`'s sending side
/// (the half-close a TLS or HTTP peer may wait for).
async fn pump(
    from: &TcpStream,
    to: &TcpStream,
    (pipe_read, pipe_write): (OwnedFd, OwnedFd),
    activity: &Activity,
) -> io::Result<()> {
    let mut in_pipe = 0_usize;
    loop {
        if in_pipe == 0 {
            from.readable().await?;
            match from.try_io(Interest::READABLE, || {
                sys::splice(from.as_fd(), pipe_write.as_fd(), CHUNK)
            }) {
                Ok(0) => break,
                Ok(n) => {
                    in_pipe = n;
                    activity.touch();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Err(e),
            }
        }
        to.writable().await?;
        match to.try_io(Interest::WRITABLE, || {
            sys::splice(pipe_read.as_fd(), to.as_fd(), in_pipe)
        }) {
            Ok(n) => {
                in_pipe -= n.min(in_pipe);
                activity.touch();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
    match sys::shutdown_write(to.as_fd()) {
        Err(e) if e.kind() != io::ErrorKind::NotConnected => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Shutdown, TcpListener, TcpStream as StdStream};
    use std::thread;

    use super::*;

    /// Two connected sockets.
    fn pair() -> (StdStream, StdStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let a = StdStream::connect(listener.local_addr().unwrap()).unwrap();
        let (b, _) = listener.accept().unwrap();
        (a, b)
    }

    /// `client` <-> [tunnel] <-> `server`, moving `n` bytes each way at once, with early
    /// bytes, half-closes, and the idle limit ending a tunnel where nothing moves.
    fn round_trip(splice: bool, n: usize) {
        let (mut client, tunnel_client) = pair();
        let (tunnel_upstream, mut server) = pair();
        let tunnel = thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                tunnel_client.set_nonblocking(true).unwrap();
                tunnel_upstream.set_nonblocking(true).unwrap();
                run(
                    TcpStream::from_std(tunnel_client).unwrap(),
                    TcpStream::from_std(tunnel_upstream).unwrap(),
                    Bytes::from_static(b"early:"),
                    Duration::from_secs(10),
                    splice,
                )
                .await
            })
        });
        let up: Vec<u8> = (0..n).map(|i| (i % 253) as u8).collect();
        let down: Vec<u8> = (0..n).map(|i| (i % 241) as u8).collect();
        let (up2, down2) = (up.clone(), down.clone());
        let mut client_writer = client.try_clone().unwrap();
        let mut server_writer = server.try_clone().unwrap();
        let w1 = thread::spawn(move || {
            client_writer.write_all(&up2).unwrap();
            client_writer.shutdown(Shutdown::Write).unwrap();
        });
        let w2 = thread::spawn(move || {
            server_writer.write_all(&down2).unwrap();
            server_writer.shutdown(Shutdown::Write).unwrap();
        });
        let mut at_server = Vec::new();
        server.read_to_end(&mut at_server).unwrap();
        let mut at_client = Vec::new();
        client.read_to_end(&mut at_client).unwrap();
        w1.join().unwrap();
        w2.join().unwrap();
        assert_eq!(&at_server[..6], b"early:");
        assert!(
            at_server[6..] == up[..],
            "splice {splice}: upstream bytes differ"
        );
        assert!(
            at_client == down,
            "splice {splice}: downstream bytes differ"
        );
        tunnel.join().unwrap().unwrap();
    }

    #[test]
    fn a_tunnel_moves_every_byte_both_ways_by_splice() {
        round_trip(true, 3_000_000);
    }

    #[test]
    fn a_tunnel_moves_every_byte_both_ways_by_copy() {
        round_trip(false, 3_000_000);
    }

    #[test]
    fn an_idle_tunnel_ends_with_a_timeout() {
        for splice in [true, false] {
            let (_client, tunnel_client) = pair();
            let (tunnel_upstream, _server) = pair();
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let result = runtime.block_on(async move {
                tunnel_client.set_nonblocking(true).unwrap();
                tunnel_upstream.set_nonblocking(true).unwrap();
                run(
                    TcpStream::from_std(tunnel_client).unwrap(),
                    TcpStream::from_std(tunnel_upstream).unwrap(),
                    Bytes::new(),
                    Duration::from_millis(200),
                    splice,
                )
                .await
            });
            assert_eq!(result.unwrap_err().kind(), io::ErrorKind::TimedOut);
        }
    }
}
