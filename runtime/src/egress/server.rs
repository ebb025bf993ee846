//! The accept loop and one client connection: limits, the HTTP/1 server, the log of what
//! the server itself refuses.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::{Limits, LogSink, ProxyConfig};
use super::handler;
use super::io::{Activity, First, Tracked, race};
use super::log::{Log, Outcome, Record};
use super::upstream::Upstream;
use crate::hosts::HostPolicy;

/// What every connection of one proxy shares.
#[derive(Debug)]
pub struct State {
    pub policy: HostPolicy,
    pub secret_digest: [u8; 32],
    pub upstream: Upstream,
    pub limits: Limits,
    pub log: Log,
    pub connections: Arc<Semaphore>,
    /// Tunnels move bytes with `splice` (`SIGPIPE` is ignored in this process).
    pub splice: bool,
}

impl State {
    pub fn new(config: ProxyConfig, splice: bool) -> State {
        let sink = config.log.map(|sink| match sink {
            LogSink::File(file) => Box::new(file) as Box<dyn std::io::Write + Send>,
            LogSink::Writer(writer) => writer,
        });
        State {
            secret_digest: config.secret.digest(),
            upstream: Upstream::new(
                config.resolve,
                config.lookup,
                config.limits.max_lookups,
                config.limits.resolve_timeout,
                config.limits.connect_timeout,
            ),
            connections: Arc::new(Semaphore::new(config.limits.max_connections)),
            log: Log::new(config.ring, sink),
            policy: config.policy,
            limits: config.limits,
            splice,
        }
    }
}

/// Accepts connections on `listener` until `stop` finishes; each is served in a task of
/// its own. When `stop` finishes, the tasks are dropped with the runtime.
pub async fn serve(state: Arc<State>, listener: TcpListener, stop: impl Future<Output = ()>) {
    let mut stop = std::pin::pin!(stop);
    loop {
        match race(listener.accept(), stop.as_mut()).await {
            First::Right(()) => return,
            First::Left(Ok((stream, _peer))) => {
                let state = state.clone();
                tokio::spawn(async move { connection(state, stream).await });
            }
            First::Left(Err(e)) => {
                // Out of descriptors or memory: log, wait a little rather than spin.
                state.log.write(
                    &Record::default(),
                    Outcome::Error,
                    "accept",
                    None,
                    Some(e.to_string()),
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves one client connection: a permit of `max_connections`, then HTTP/1 with the
/// header size and time limits, an idle limit on the whole connection, and upgrades
/// (`CONNECT`) handed to the tunnel.
async fn connection(state: Arc<State>, mut stream: TcpStream) {
    let Ok(permit) = state.connections.clone().try_acquire_owned() else {
        refuse_over_limit(&state, &mut stream).await;
        return;
    };
    let _ = stream.set_nodelay(true);
    let permit: Arc<OwnedSemaphorePermit> = Arc::new(permit);
    let activity = Activity::new();
    let io = TokioIo::new(Tracked::new(stream, activity.clone()));
    let service = {
        let state = state.clone();
        service_fn(move |request| {
            let state = state.clone();
            let permit = permit.clone();
            async move {
                Ok::<_, std::convert::Infallible>(handler::handle(state, request, permit).await)
            }
        })
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(state.limits.header_timeout)
        .max_buf_size(state.limits.max_header_bytes)
        .max_header_size(state.limits.max_header_bytes)
        .keep_alive(true);
    let served = builder.serve_connection(io, service).with_upgrades();
    match race(served, activity.idle(state.limits.idle_timeout)).await {
        First::Left(Ok(())) => {}
        First::Left(Err(e)) => log_server_error(&state, &e),
        First::Right(()) => state.log.write(
            &Record::default(),
            Outcome::Error,
            "idle_timeout",
            None,
            Some(format!(
                "nothing moved for {} s",
                state.limits.idle_timeout.as_secs_f32()
            )),
        ),
    }
}

/// What the HTTP server refused before a request reached the handler (it answered 400,
/// 431 or nothing itself).
fn log_server_error(state: &State, e: &hyper::Error) {
    let (outcome, rule, status) = if e.is_parse_too_large() {
        (Outcome::Deny, "max_header_bytes", Some(431))
    } else if e.is_timeout() {
        (Outcome::Error, "header_timeout", None)
    } else if e.is_parse() {
        (Outcome::Error, "request", Some(400))
    } else if e.is_incomplete_message() {
        (Outcome::Error, "request", None)
    } else {
        (Outcome::Error, "connection", None)
    };
    state.log.write(
        &Record::default(),
        outcome,
        rule,
        status,
        Some(e.to_string()),
    );
}

/// Over `max_connections`: a fixed 503 answer, written without reading the request, and
/// the connection closed.
async fn refuse_over_limit(state: &State, stream: &mut TcpStream) {
    let body = format!(
        "nonoc egress proxy: refused (rule `max_connections`): {} connections are open already\n",
        state.limits.max_connections
    );
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\nx-nonoc-rule: max_connections\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(answer.as_bytes())).await;
    state.log.write(
        &Record::default(),
        Outcome::Deny,
        "max_connections",
        Some(503),
        None,
    );
}
