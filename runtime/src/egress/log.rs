//! The decision log: one JSON object per line (NDJSON), one line per decision.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// What the proxy decided about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The policy allowed it and the connection was made.
    Allow,
    /// The policy, the secret or a limit refused it.
    Deny,
    /// It could not be served: a malformed request, a resolver or upstream failure, a
    /// timeout. Nothing was connected.
    Error,
}

/// One line of the log.
#[derive(Debug, Serialize)]
pub struct Entry {
    /// RFC 3339, UTC, milliseconds.
    pub time: String,
    /// The ring the proxy serves.
    pub ring: u8,
    /// `CONNECT`, `GET`, ...; `null` when no request could be read.
    pub method: Option<String>,
    /// The host the request named, normalized where it could be; `null` when none.
    pub host: Option<String>,
    /// The port it named; `null` when none.
    pub port: Option<u16>,
    /// The decision.
    pub decision: Outcome,
    /// The rule that made it (`hosts[0]`, `deny_hosts[1]`, `private`, `proxy_auth`, ...).
    pub rule: String,
    /// The status the proxy answered; `null` when it could not answer.
    pub status: Option<u16>,
    /// The address connected to (allowed) or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// What happened, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Where the lines go.
pub struct Log {
    ring: u8,
    sink: Option<Mutex<Box<dyn Write + Send>>>,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("ring", &self.ring)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// The fields of an entry that vary, filled in as the request is handled.
#[derive(Debug, Default, Clone)]
pub struct Record {
    pub method: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub address: Option<SocketAddr>,
}

impl Log {
    pub fn new(ring: u8, sink: Option<Box<dyn Write + Send>>) -> Log {
        Log {
            ring,
            sink: sink.map(Mutex::new),
        }
    }

    /// Writes one line. A failing sink does not stop the proxy: the line is lost.
    pub fn write(
        &self,
        record: &Record,
        decision: Outcome,
        rule: &str,
        status: Option<u16>,
        detail: Option<String>,
    ) {
        let Some(sink) = &self.sink else {
            return;
        };
        let entry = Entry {
            time: rfc3339(SystemTime::now()),
            ring: self.ring,
            method: record.method.clone(),
            host: record.host.clone(),
            port: record.port,
            decision,
            rule: rule.to_owned(),
            status,
            address: record.address.map(|a| a.to_string()),
            detail,
        };
        let Ok(mut line) = serde_json::to_vec(&entry) else {
            return;
        };
        line.push(b'\n');
        // One write of the whole line: with O_APPEND, lines of concurrent writers do not
        // interleave.
        if let Ok(mut sink) = sink.lock() {
            let _ = sink.write_all(&line).and_then(|()| sink.flush());
        }
    }
}

/// `2025-06-01T12:00:00.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_are_rfc3339_utc() {
        let at = |s: u64, ms: u64| {
            rfc3339(UNIX_EPOCH + Duration::from_secs(s) + Duration::from_millis(ms))
        };
        assert_eq!(at(0, 0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400, 5), "2000-02-29T00:00:00.005Z");
        assert_eq!(at(1_709_251_199, 999), "2024-02-29T23:59:59.999Z");
        assert_eq!(at(4_102_444_800, 0), "2100-01-01T00:00:00.000Z");
    }
}
