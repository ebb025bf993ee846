//! One request: the secret, the target, the decision, then a tunnel (`CONNECT`) or a
//! forwarded plain-HTTP request (absolute form).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::config::authorized;
use super::io::{Activity, Tracked, race};
use super::log::{Outcome, Record};
use super::server::State;
use super::tunnel;
use crate::hosts::{Host, Verdict, parse_authority};

pub type Body = BoxBody<Bytes, hyper::Error>;

/// A refusal: the status, how it is logged, the rule, and the sentence for people.
struct Refusal {
    status: StatusCode,
    outcome: Outcome,
    rule: String,
    detail: String,
}

impl Refusal {
    fn bad_request(detail: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            outcome: Outcome::Error,
            rule: "request".to_owned(),
            detail: detail.into(),
        }
    }

    fn upstream(rule: &str, detail: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_GATEWAY,
            outcome: Outcome::Error,
            rule: rule.to_owned(),
            detail: detail.into(),
        }
    }

    fn policy(state: &State, host: &Host, port: u16, verdict: &Verdict) -> Refusal {
        Refusal {
            status: StatusCode::FORBIDDEN,
            outcome: Outcome::Deny,
            rule: verdict.rule.id(),
            detail: state.policy.describe(host, port, verdict),
        }
    }
}

pub async fn handle(
    state: Arc<State>,
    request: Request<Incoming>,
    permit: Arc<OwnedSemaphorePermit>,
) -> Response<Body> {
    let mut record = Record {
        method: Some(request.method().as_str().to_owned()),
        host: request.uri().host().map(str::to_owned),
        port: request.uri().port_u16(),
        address: None,
    };
    let credentials = request
        .headers()
        .get(header::PROXY_AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !authorized(credentials, &state.secret_digest) {
        let detail = if credentials.is_some() {
            "the proxy credentials are wrong"
        } else {
            "the request carries no proxy credentials"
        };
        return refuse(
            &state,
            &record,
            Refusal {
                status: StatusCode::PROXY_AUTHENTICATION_REQUIRED,
                outcome: Outcome::Deny,
                rule: "proxy_auth".to_owned(),
                detail: format!("{detail}: use the proxy URL this run was given"),
            },
        );
    }
    let result = if request.method() == Method::CONNECT {
        connect(&state, request, &mut record, permit).await
    } else {
        forward(&state, request, &mut record).await
    };
    result.unwrap_or_else(|refusal| refuse(&state, &record, refusal))
}

/// `CONNECT host:port`: decided, resolved, checked, connected; then 200 and the tunnel.
async fn connect(
    state: &Arc<State>,
    request: Request<Incoming>,
    record: &mut Record,
    permit: Arc<OwnedSemaphorePermit>,
) -> Result<Response<Body>, Refusal> {
    let uri = request.uri();
    let authority = match (uri.scheme(), uri.authority(), uri.path_and_query()) {
        (None, Some(authority), None) => authority.as_str(),
        _ => {
            return Err(Refusal::bad_request(
                "CONNECT takes a host and a port (`CONNECT example.com:443`)",
            ));
        }
    };
    let (host, port) =
        parse_authority(authority, None).map_err(|e| Refusal::bad_request(e.to_string()))?;
    record.host = Some(host.to_string());
    record.port = Some(port);
    let (upstream, address, verdict) = open(state, &host, port, record).await?;
    let idle = state.limits.idle_timeout;
    let splice = state.splice;
    tokio::spawn(async move {
        let _permit = permit;
        let Ok(upgraded) = hyper::upgrade::on(request).await else {
            return;
        };
        let Ok(parts) = upgraded.downcast::<TokioIo<Tracked<TcpStream>>>() else {
            return;
        };
        let client = parts.io.into_inner().into_inner();
        let _ = tunnel::run(client, upstream, parts.read_buf, idle, splice).await;
    });
    state.log.write(
        record,
        Outcome::Allow,
        &verdict.rule.id(),
        Some(200),
        Some(format!("tunnel to {address}")),
    );
    Ok(Response::new(empty()))
}

/// A plain-HTTP request in absolute form (`GET http://host/path`): decided, resolved,
/// checked, connected, then sent on in origin form with the hop-by-hop headers and the
/// proxy credentials removed.
async fn forward(
    state: &Arc<State>,
    request: Request<Incoming>,
    record: &mut Record,
) -> Result<Response<Body>, Refusal> {
    let uri = request.uri().clone();
    match uri.scheme_str() {
        Some("http") => {}
        Some("https") => {
            return Err(Refusal::bad_request(
                "https:// URLs go through a CONNECT tunnel, not a forwarded request",
            ));
        }
        Some(other) => {
            return Err(Refusal::bad_request(format!(
                "the proxy forwards http:// URLs only, not `{other}:`"
            )));
        }
        None => {
            return Err(Refusal::bad_request(
                "not a proxy request: send CONNECT, or a request for an absolute http:// URL",
            ));
        }
    }
    let Some(authority) = uri.authority() else {
        return Err(Refusal::bad_request("the URL names no host"));
    };
    if authority.as_str().contains('@') {
        return Err(Refusal::bad_request("the URL holds user information"));
    }
    let (host, port) = parse_authority(authority.as_str(), Some(80))
        .map_err(|e| Refusal::bad_request(e.to_string()))?;
    record.host = Some(host.to_string());
    record.port = Some(port);
    check_host_header(request.headers(), &host, port)?;

    let (upstream, address, verdict) = open(state, &host, port, record).await?;
    let (mut parts, body) = request.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    let host_value = if port == 80 {
        host.to_string()
    } else {
        format!("{host}:{port}")
    };
    let host_value =
        HeaderValue::from_str(&host_value).map_err(|e| Refusal::bad_request(e.to_string()))?;
    parts.headers.insert(header::HOST, host_value);
    parts.uri = origin_form(&uri)?;
    parts.version = Version::HTTP_11;

    let activity = Activity::new();
    let io = TokioIo::new(Tracked::new(upstream, activity.clone()));
    let (mut sender, connection) = hyper::client::conn::http1::handshake::<_, Incoming>(io)
        .await
        .map_err(|e| Refusal::upstream("upstream", format!("{address}: {e}")))?;
    let idle = state.limits.idle_timeout;
    tokio::spawn(async move {
        let _ = race(connection, activity.idle(idle)).await;
    });
    let response = sender
        .send_request(Request::from_parts(parts, body))
        .await
        .map_err(|e| Refusal::upstream("upstream", format!("{address}: {e}")))?;
    let (mut parts, body) = response.into_parts();
    remove_hop_by_hop(&mut parts.headers);
    state.log.write(
        record,
        Outcome::Allow,
        &verdict.rule.id(),
        Some(parts.status.as_u16()),
        Some(format!("forwarded to {address}")),
    );
    Ok(Response::from_parts(parts, body.boxed()))
}

/// The `Host` header, when there is one, names the URL's host and port (another host
/// would let the request reach a server the policy did not decide on, behind a shared
/// address).
fn check_host_header(headers: &HeaderMap, host: &Host, port: u16) -> Result<(), Refusal> {
    let mut values = headers.get_all(header::HOST).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return if headers.contains_key(header::HOST) {
            Err(host_header_refusal(
                "the request has more than one Host header",
            ))
        } else {
            Ok(())
        };
    };
    let agrees = value
        .to_str()
        .ok()
        .and_then(|v| parse_authority(v, Some(80)).ok())
        .is_some_and(|(h, p)| h == *host && p == port);
    if agrees {
        Ok(())
    } else {
        Err(host_header_refusal(&format!(
            "the Host header `{}` does not name the URL's host `{host}:{port}`",
            String::from_utf8_lossy(value.as_bytes()).escape_debug()
        )))
    }
}

fn host_header_refusal(detail: &str) -> Refusal {
    Refusal {
        status: StatusCode::FORBIDDEN,
        outcome: Outcome::Deny,
        rule: "host_header".to_owned(),
        detail: detail.to_owned(),
    }
}

fn origin_form(uri: &Uri) -> Result<Uri, Refusal> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let path = if path.is_empty() { "/" } else { path };
    path.parse::<Uri>()
        .map_err(|e| Refusal::bad_request(e.to_string()))
}

/// Decides `host:port`; for a name, resolves it and checks every address; connects to a
/// checked address. The socket, the address and the allowing verdict.
async fn open(
    state: &State,
    host: &Host,
    port: u16,
    record: &mut Record,
) -> Result<(TcpStream, SocketAddr, Verdict), Refusal> {
    let verdict = state.policy.decide(host, port);
    if !verdict.is_allowed() {
        record.address = verdict.rule.address().map(|a| SocketAddr::new(a, port));
        return Err(Refusal::policy(state, host, port, &verdict));
    }
    let (addrs, verdict): (Vec<IpAddr>, Verdict) = match host {
        Host::Addr(addr) => (vec![*addr], verdict),
        Host::Name(name) => {
            let addrs = state.upstream.resolve(name).await.map_err(|e| Refusal {
                status: StatusCode::BAD_GATEWAY,
                outcome: Outcome::Error,
                rule: "resolve".to_owned(),
                detail: format!("cannot resolve `{name}`: {e}"),
            })?;
            let verdict = state.policy.decide_addresses(name, port, &addrs);
            if !verdict.is_allowed() {
                record.address = verdict.rule.address().map(|a| SocketAddr::new(a, port));
                return Err(Refusal::policy(state, host, port, &verdict));
            }
            (addrs, verdict)
        }
    };
    let (stream, address) = state.upstream.connect(&addrs, port).await.map_err(|e| {
        Refusal::upstream("connect", format!("cannot connect to `{host}:{port}`: {e}"))
    })?;
    record.address = Some(address);
    Ok((stream, address, verdict))
}

/// Logs the refusal and answers it: the status, `x-nonoc-rule`, and a body naming the
/// rule.
fn refuse(state: &State, record: &Record, refusal: Refusal) -> Response<Body> {
    state.log.write(
        record,
        refusal.outcome,
        &refusal.rule,
        Some(refusal.status.as_u16()),
        Some(refusal.detail.clone()),
    );
    let body = format!(
        "nonoc egress proxy: refused (rule `{}`): {}\n",
        refusal.rule, refusal.detail
    );
    let mut response = Response::new(full(body));
    *response.status_mut() = refusal.status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Ok(rule) = HeaderValue::from_str(&refusal.rule) {
        headers.insert(HeaderName::from_static("x-nonoc-rule"), rule);
    }
    if refusal.status == StatusCode::PROXY_AUTHENTICATION_REQUIRED {
        headers.insert(
            header::PROXY_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"nonoc\""),
        );
    }
    response
}

/// Removes the headers that concern one connection only (RFC 9110, 7.6.1), those the
/// `Connection` header names, and the proxy's own.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        HeaderName::from_static("proxy-connection"),
        HeaderName::from_static("keep-alive"),
        header::PROXY_AUTHENTICATE,
        header::PROXY_AUTHORIZATION,
        header::TE,
        header::TRAILER,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
}

fn empty() -> Body {
    Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed()
}

fn full(text: String) -> Body {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed()
}
