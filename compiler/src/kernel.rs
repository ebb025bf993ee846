//! `nonoc test --kernel`: each test asked of the real kernel. The policy is compiled to an
//! artifact once; for each test a fresh `nonoc __probe` process (`cli/probe.rs`) gets the
//! artifact on stdin, applies the test's ring with `nonoc_runtime` (variables bound to the
//! values `nonoc test` bound) and tries the request on the host's real paths and ports.
//!
//! A request the kernel cannot be asked here is reported "not run by the kernel", with the
//! reason, and never counts as passed by the kernel: a test for another platform, a path that
//! does not exist on this host (the kernel checks a right when a file is opened; probing a
//! scratch copy would test another tree), a directory or a special file, an operation that
//! already fails without the sandbox, a request this build cannot probe.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::data::Arch;
use crate::ir::{self, Ir, PartialBindings, Platform, Request, RingSelector, TestOutcome};
use crate::syntax::Expect;

/// The hidden subcommand the probe runs as (`nonoc __probe ...`).
pub const SUBCOMMAND: &str = "__probe";

/// What the kernel made of one test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelVerdict {
    /// The kernel answered as the test expects.
    Agreed,
    /// It did not (or the ring could not be applied): why, for people.
    Disagreed(String),
    /// The request was not asked of the kernel: why.
    NotRun(String),
}

/// The compiled policy and the program to probe it with.
#[derive(Debug)]
pub struct Prober<'a> {
    /// The `nonoc` binary (it is re-executed as `nonoc __probe`).
    pub exe: &'a Path,
    /// The sealed artifact.
    pub artifact: Vec<u8>,
    /// How long one probe may take before it is killed ([`PROBE_DEADLINE`]).
    pub deadline: Duration,
    /// The isolation tier each applied ring got, as its report says (`ring 2: namespace, 2
    /// masks`), for `nonoc test --kernel` to name.
    pub tiers: std::sync::Mutex<std::collections::BTreeMap<u8, String>>,
}

/// The tier a report names, in words (`namespace, 2 masks`).
fn tier_of(report: &serde_json::Value) -> Option<(u8, String)> {
    let ring = u8::try_from(report.get("ring")?.as_u64()?).ok()?;
    let isolation = report.get("isolation")?;
    let tier = isolation.get("tier")?.as_str()?;
    let masks = isolation
        .get("masks")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len);
    let words = match (tier, isolation.get("unavailable").and_then(|u| u.as_str())) {
        ("namespace", _) => format!(
            "namespace, {masks} mask{}",
            if masks == 1 { "" } else { "s" }
        ),
        (tier, Some(why)) => format!("{tier} ({why})"),
        (tier, None) => tier.to_owned(),
    };
    Some((ring, words))
}

/// How long one probe may take. A probe answers in milliseconds (its TCP connect gives up
/// after 2 s); one that hangs must not hang `nonoc test --kernel` and the pipeline that runs
/// it: it is killed, and its test reported not run by the kernel.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(20);

impl Prober<'_> {
    /// Asks the kernel one test. `unbound`: the message of an unbound variable the test needs.
    pub fn run(
        &self,
        ir: &Ir,
        partial: &PartialBindings,
        outcome: &TestOutcome,
        unbound: Option<&str>,
    ) -> KernelVerdict {
        if let Some(message) = unbound {
            return KernelVerdict::NotRun(message.to_owned());
        }
        let test = &outcome.test;
        let ring = outcome.ring.and_then(|level| ir.rings.get(&level));
        let op = match operation(&test.request, &partial.bindings, ring) {
            Ok(op) => op,
            Err(reason) => return KernelVerdict::NotRun(reason),
        };
        let mut cmd = Command::new(self.exe);
        cmd.arg(SUBCOMMAND);
        match test.selector {
            RingSelector::Ring(level) => {
                cmd.arg("--ring").arg(level.to_string());
            }
            RingSelector::TrustScore(score) => {
                if ir.ring_for_trust_score(score).is_none() {
                    return KernelVerdict::NotRun(
                        "the trust score selects no ring, so there is nothing to apply".to_owned(),
                    );
                }
                cmd.arg("--trust-score").arg(score.to_string());
            }
        }
        for (name, value) in partial.bindings.iter() {
            cmd.arg("--var").arg(format!("{name}={value}"));
        }
        cmd.arg("--").args(&op);
        let expect = test.expect;
        match self.spawn(&mut cmd) {
            Ok(probed) => judge(expect, probed),
            Err(message) => KernelVerdict::Disagreed(message),
        }
    }

    fn spawn(&self, cmd: &mut Command) -> Result<Probed, String> {
        let mut child = cmd
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run `{} __probe`: {e}", self.exe.display()))?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        // The artifact goes in and the output comes out on threads of their own, so a probe
        // that stops reading or writing cannot hold off the deadline; once it is gone its
        // pipes close and the threads end.
        let (status, stdout, stderr) = std::thread::scope(|scope| {
            scope.spawn(move || {
                if let Some(mut stdin) = stdin {
                    // A probe that stopped early closed its stdin: its output says why.
                    let _ = stdin.write_all(&self.artifact);
                }
            });
            let out = scope.spawn(move || read_all(stdout));
            let err = scope.spawn(move || read_all(stderr));
            let status = wait_until(&mut child, self.deadline);
            (
                status,
                out.join().unwrap_or_default(),
                err.join().unwrap_or_default(),
            )
        });
        let Some(status) = status.map_err(|e| format!("the probe failed: {e}"))? else {
            return Ok(Probed {
                not_run: Some(format!(
                    "the probe did not answer within {} s and was killed",
                    self.deadline.as_secs_f64()
                )),
                ..Probed::default()
            });
        };
        let output = std::process::Output {
            status,
            stdout,
            stderr,
        };
        let stdout = String::from_utf8_lossy(&output.stdout);
        let mut probed = Probed::default();
        for line in stdout.lines() {
            let (head, rest) = line.split_once(' ').unwrap_or((line, ""));
            match head {
                "not-run" => probed.not_run = Some(rest.to_owned()),
                "apply-error" => probed.apply_error = Some(rest.to_owned()),
                "report" => {
                    probed.applied = true;
                    if let Some((ring, tier)) =
                        serde_json::from_str(rest).ok().as_ref().and_then(tier_of)
                        && let Ok(mut tiers) = self.tiers.lock()
                    {
                        tiers.insert(ring, tier);
                    }
                }
                "note" => probed.notes.push(rest.to_owned()),
                "trace" => probed.traced = true,
                "allowed" => probed.answer = Some(Answer::Allowed),
                "denied" => probed.answer = Some(Answer::Denied(rest.to_owned())),
                "inconclusive" => probed.answer = Some(Answer::Inconclusive(rest.to_owned())),
                _ => {}
            }
        }
        // (A probe killed by a signal falls through to the seccomp case below.)
        if probed.answer.is_none()
            && probed.applied
            && probed.traced
            && output.status.code().is_some()
        {
            // The program's loader ran in trace mode in place of the probe.
            let after = stdout.split_once("\ntrace\n").map_or("", |(_, rest)| rest);
            probed.answer = Some(match judge_trace(output.status.success(), after) {
                Ok(()) => Answer::Allowed,
                Err(why) => Answer::Denied(why),
            });
        }
        if probed.answer.is_none() && probed.applied {
            // Applied, then gone without an answer: a seccomp kill (or trap) is a denial.
            if let Some(signal) = std::os::unix::process::ExitStatusExt::signal(&output.status) {
                probed.answer = Some(Answer::Denied(format!("killed by signal {signal}")));
            }
        }
        let complete =
            probed.not_run.is_some() || probed.apply_error.is_some() || probed.answer.is_some();
        if !complete {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(format!(
                "the probe gave no answer ({}): {}",
                output.status,
                stderr.trim()
            ));
        }
        Ok(probed)
    }
}

/// Whether the GNU C library's loader, run in trace mode (`LD_TRACE_LOADED_OBJECTS=1`),
/// loaded the program: it exits 0 and lists every shared library, one that it could not open
/// as `NAME => not found`. `Err`: what it could not load.
pub(crate) fn judge_trace(success: bool, output: &str) -> Result<(), String> {
    let missing: Vec<&str> = output
        .lines()
        .filter(|l| l.contains("not found"))
        .map(|l| l.split("=>").next().unwrap_or(l).trim())
        .collect();
    if !missing.is_empty() {
        return Err(format!("the loader could not open {}", missing.join(", ")));
    }
    if !success {
        return Err("the program's loader failed".to_owned());
    }
    Ok(())
}

/// Everything a pipe gives until it closes (what it gave, if reading fails).
fn read_all(pipe: Option<impl std::io::Read>) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.read_to_end(&mut bytes);
    }
    bytes
}

/// Waits for the child until `deadline` has passed, then kills and reaps it (`None`).
fn wait_until(child: &mut Child, deadline: Duration) -> std::io::Result<Option<ExitStatus>> {
    let start = Instant::now();
    let mut pause = Duration::from_micros(100);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if start.elapsed() >= deadline {
            let _ = child.kill();
            child.wait()?;
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

#[derive(Debug, Default)]
struct Probed {
    not_run: Option<String>,
    apply_error: Option<String>,
    applied: bool,
    /// An execute probe handed over to the program's loader in trace mode.
    traced: bool,
    notes: Vec<String>,
    answer: Option<Answer>,
}

#[derive(Debug)]
enum Answer {
    Allowed,
    Denied(String),
    Inconclusive(String),
}

fn judge(expect: Expect, probed: Probed) -> KernelVerdict {
    if let Some(reason) = probed.not_run {
        return KernelVerdict::NotRun(reason);
    }
    if let Some(message) = probed.apply_error {
        return KernelVerdict::Disagreed(format!("the ring cannot be applied here: {message}"));
    }
    let notes = if probed.notes.is_empty() {
        String::new()
    } else {
        format!(" ({})", probed.notes.join("; "))
    };
    match (expect, probed.answer) {
        (Expect::Allow, Some(Answer::Allowed)) => KernelVerdict::Agreed,
        (Expect::Deny, Some(Answer::Denied(_))) => KernelVerdict::Agreed,
        (Expect::Allow, Some(Answer::Denied(errno))) => {
            KernelVerdict::Disagreed(format!("expected allow, the kernel denied it ({errno})"))
        }
        (Expect::Deny, Some(Answer::Allowed)) => {
            KernelVerdict::Disagreed(format!("expected deny, the kernel allowed it{notes}"))
        }
        (_, Some(Answer::Inconclusive(what))) => KernelVerdict::NotRun(format!(
            "the kernel's answer says nothing about the sandbox: {what}"
        )),
        (_, None) => KernelVerdict::Disagreed("the probe gave no answer".to_owned()),
    }
}

/// The probe's operation words for a request, or why it cannot be asked of the kernel here.
fn operation(
    request: &Request,
    bindings: &ir::BoundVariables,
    ring: Option<&ir::Ring>,
) -> Result<Vec<String>, String> {
    let host = Platform::host();
    Ok(match request {
        Request::Path {
            path,
            access,
            platform,
        } => {
            if let Some(p) = platform.filter(|p| *p != host) {
                return Err(format!(
                    "a {} test cannot be asked of the {} kernel",
                    p.name(),
                    host.name()
                ));
            }
            let verb = match access {
                ir::Right::ReadFile => "read",
                ir::Right::WriteFile => "write",
                ir::Right::Execute => "execute",
                other => return Err(format!("`{}` requests cannot be probed", other.name())),
            };
            let Some(path) = path.expand(bindings) else {
                return Err(format!("`{}` uses an unbound variable", path.as_str()));
            };
            vec![verb.to_owned(), path]
        }
        _ if host != Platform::Linux => {
            return Err(format!("probing on {} is not supported", host.name()));
        }
        Request::ConnectTcp { port } => vec!["connect".to_owned(), port.to_string()],
        Request::BindTcp { port } => vec!["bind".to_owned(), port.to_string()],
        Request::Udp => vec!["udp".to_owned()],
        Request::Fork => vec!["fork".to_owned()],
        Request::Signal { scope } => vec!["signal".to_owned(), scope.name().to_owned()],
        Request::Syscall { name, args } => syscall(name, args, ring)?,
        Request::Ptrace => {
            return Err("`ptrace` requests are asked as `syscall: ptrace`".to_owned());
        }
        // The socket is created for real; `listen()` is asked through the probe's filter.
        Request::Listen { family } => {
            let (nr, gate) = gated("listen", 2, ring)?;
            vec![
                "listen".to_owned(),
                family.name().to_owned(),
                nr.to_string(),
                gate.to_string(),
            ]
        }
        Request::UnixConnect { path, platform } => {
            if let Some(p) = platform.filter(|p| *p != host) {
                return Err(format!(
                    "a {} test cannot be asked of the {} kernel",
                    p.name(),
                    host.name()
                ));
            }
            let Some(path) = path.expand(bindings) else {
                return Err(format!("`{}` uses an unbound variable", path.as_str()));
            };
            vec!["unix-connect".to_owned(), path]
        }
        Request::Capability { capability } => {
            vec!["capability".to_owned(), capability.name().to_owned()]
        }
        Request::Host { .. } => {
            return Err(
                "host requests are decided by the egress proxy, not the kernel: run the client under `nonoc exec`"
                    .to_owned(),
            );
        }
    })
}

/// `syscall NR GATE ARGS...`: the call by this arch's number, with an argument the ring's
/// rules for it never examine as the gate of the probe's filter.
fn syscall(name: &str, args: &[u64], ring: Option<&ir::Ring>) -> Result<Vec<String>, String> {
    let (nr, gate) = gated(name, args.len(), ring)?;
    let mut words = vec!["syscall".to_owned(), nr.to_string(), gate.to_string()];
    words.extend(args.iter().map(u64::to_string));
    Ok(words)
}

/// This arch's number of syscall `name`, and an argument from `fixed` on (the arguments
/// before it carry the request) that no rule of the ring examines, for the probe's gate.
fn gated(name: &str, fixed: usize, ring: Option<&ir::Ring>) -> Result<(u32, usize), String> {
    let arch = Arch::host();
    let Some(call) = crate::data::syscall(arch, name) else {
        return Err(format!("`{name}` is not a system call on {}", arch.name()));
    };
    let examined: Vec<u8> = ring
        .iter()
        .flat_map(|r| &r.syscalls.deny)
        .filter(|rule| rule.name == name)
        .flat_map(|rule| rule.args.iter().map(|a| a.index))
        .collect();
    let Some(gate) = (fixed..6)
        .rev()
        .find(|i| u8::try_from(*i).is_ok_and(|i| !examined.contains(&i)))
    else {
        return Err(format!(
            "the ring's rules examine every argument of `{name}` the test leaves free; the probe needs one"
        ));
    };
    Ok((call.number, gate))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loader's trace output: every library mapped and exit 0 is a run; a library listed
    /// `=> not found`, or a failed exit, is not.
    #[test]
    fn a_trace_is_judged_by_its_libraries_and_status() {
        let ok = "\tlinux-vdso.so.1 (0x7ff)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x7f0)\n\t/lib64/ld-linux-x86-64.so.2 (0x7f1)\n";
        assert_eq!(judge_trace(true, ok), Ok(()));
        assert_eq!(
            judge_trace(false, ok),
            Err("the program's loader failed".to_owned())
        );
        let missing = "\tlibm.so.6 => not found\n\tlibz.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n";
        assert_eq!(
            judge_trace(true, missing),
            Err("the loader could not open libm.so.6, libz.so.1".to_owned())
        );
    }

    #[test]
    fn a_probe_that_hangs_is_killed_and_reported_not_run() {
        let prober = Prober {
            exe: Path::new("/bin/sh"),
            // More than a pipe holds: the writer blocks too, as the probe never reads.
            artifact: vec![b'{'; 1 << 20],
            deadline: Duration::from_millis(300),
            tiers: Default::default(),
        };
        let start = Instant::now();
        let probed = prober
            .spawn(Command::new("/bin/sh").args(["-c", "exec sleep 60"]))
            .unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{:?}",
            start.elapsed()
        );
        let reason = probed.not_run.unwrap_or_default();
        assert!(reason.contains("did not answer within 0.3 s"), "{reason}");
        assert!(probed.answer.is_none() && !probed.applied);
    }

    #[test]
    fn a_probe_that_answers_is_read_whole() {
        let prober = Prober {
            exe: Path::new("/bin/sh"),
            artifact: vec![b'{'; 1 << 20],
            deadline: PROBE_DEADLINE,
            tiers: Default::default(),
        };
        // Reads the whole artifact first, as the real probe does, then answers.
        let script = "wc -c >/dev/null; echo report; echo denied EACCES";
        let probed = prober
            .spawn(Command::new("/bin/sh").args(["-c", script]))
            .unwrap();
        assert!(probed.applied);
        assert!(matches!(probed.answer, Some(Answer::Denied(ref e)) if e == "EACCES"));
        assert!(probed.not_run.is_none());
    }
}
