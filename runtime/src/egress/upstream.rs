//! Resolving a name (the `--resolve` map, else the system's resolver on a blocking thread)
//! and connecting to an address that was checked.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::hosts::HostName;

/// A resolver in place of `getaddrinfo` (run on a blocking thread like it).
pub type Lookup = Arc<dyn Fn(&str) -> std::io::Result<Vec<IpAddr>> + Send + Sync>;

pub struct Upstream {
    resolve: BTreeMap<HostName, Vec<IpAddr>>,
    lookup: Option<Lookup>,
    lookups: Arc<Semaphore>,
    resolve_timeout: Duration,
    connect_timeout: Duration,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("resolve", &self.resolve)
            .field("lookup", &self.lookup.is_some())
            .finish_non_exhaustive()
    }
}

impl Upstream {
    pub fn new(
        resolve: BTreeMap<HostName, Vec<IpAddr>>,
        lookup: Option<Lookup>,
        max_lookups: usize,
        resolve_timeout: Duration,
        connect_timeout: Duration,
    ) -> Upstream {
        Upstream {
            resolve,
            lookup,
            lookups: Arc::new(Semaphore::new(max_lookups)),
            resolve_timeout,
            connect_timeout,
        }
    }

    /// The addresses of `name`, in the resolver's order, without duplicates: the
    /// `--resolve` map's when it has the name (no DNS then), else `getaddrinfo`'s, on a
    /// blocking thread (at most `max_lookups` at once; a look-up that outlives the timeout
    /// keeps its thread and its slot until the resolver gives up).
    pub async fn resolve(&self, name: &HostName) -> Result<Vec<IpAddr>, String> {
        if let Some(addrs) = self.resolve.get(name) {
            return Ok(addrs.clone());
        }
        let work = async {
            let permit = self
                .lookups
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| e.to_string())?;
            let text = name.as_str().to_owned();
            let replacement = self.lookup.clone();
            let lookup = tokio::task::spawn_blocking(move || {
                let _permit = permit;
                match replacement {
                    Some(lookup) => lookup(&text),
                    None => (text.as_str(), 0_u16)
                        .to_socket_addrs()
                        .map(|it| it.map(|a| a.ip()).collect::<Vec<IpAddr>>()),
                }
            });
            match lookup.await {
                Ok(Ok(addrs)) => Ok(addrs),
                Ok(Err(e)) => Err(e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        };
        let mut addrs = match tokio::time::timeout(self.resolve_timeout, work).await {
            Ok(result) => result?,
            Err(_) => {
                return Err(format!(
                    "no answer from the resolver within {} s",
                    self.resolve_timeout.as_secs_f32()
                ));
            }
        };
        let mut seen = Vec::with_capacity(addrs.len());
        addrs.retain(|a| {
            let new = !seen.contains(a);
            seen.push(*a);
            new
        });
        Ok(addrs)
    }

    /// Connects to the first of `addrs` (already checked) that answers at `port`.
    pub async fn connect(
        &self,
        addrs: &[IpAddr],
        port: u16,
    ) -> Result<(TcpStream, SocketAddr), String> {
        let mut failures = Vec::new();
        for addr in addrs {
            let target = SocketAddr::new(*addr, port);
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(target)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok((stream, target));
                }
                Ok(Err(e)) => failures.push(format!("{target}: {e}")),
                Err(_) => failures.push(format!(
                    "{target}: no answer within {} s",
                    self.connect_timeout.as_secs_f32()
                )),
            }
        }
        Err(failures.join("; "))
    }
}
