//! `nonoc inspect ARTIFACT [--matrix]`: verify an artifact and summarize it for people (or,
//! with `--format json`, for machines); `--matrix` adds the ring-against-capability table.
//! With `--policy`, ARTIFACT is a policy and the matrix is built from its IR, with the process
//! and syscall rows an artifact does not carry as rules.

use std::path::PathBuf;

use nonoc_runtime::artifact::ScopeName;
use nonoc_runtime::{Artifact, ErrorKind};

use super::common::{CliError, Context, Exit, Format, Outcome, load_ir, policy_not_artifact};
use crate::diagnostic::{count, terminal_safe};
use crate::inspect::{Matrix, Summary, matrix_of_ir, ports_cell, summarize};

/// Arguments of `nonoc inspect`.
#[derive(Debug, Clone, clap::Args)]
pub struct InspectArgs {
    pub artifact: PathBuf,
    /// Add a table of rings against capabilities.
    #[arg(long)]
    pub matrix: bool,
    /// Treat ARTIFACT as a policy and print its full matrix (process and syscall rows too).
    #[arg(long, requires = "matrix")]
    pub policy: bool,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `nonoc inspect`: 0 on a valid artifact, 1 on a tampered or malformed one, 2 when it cannot
/// be read. With `--policy`: 0, 1 when the policy has errors (rendered as `check` does), 2
/// when it cannot be read.
pub fn run(args: &InspectArgs, ctx: &mut Context<'_>) -> Outcome {
    if args.policy {
        let (_, ir) = load_ir(&args.artifact, ctx)?;
        let table = matrix_of_ir(&ir);
        write(ctx, args.format, &table, render_matrix);
        return Ok(Exit::Ok);
    }
    let loaded = match Artifact::load(&args.artifact) {
        Ok(a) => a,
        Err(e) if e.kind() == ErrorKind::Io => return Err(CliError::usage(e.to_string())),
        Err(e) => {
            if let Some(message) = policy_not_artifact(&args.artifact, "inspect") {
                return Err(CliError::failed(format!(
                    "{message} (or `nonoc inspect --matrix --policy {}`)",
                    args.artifact.display()
                )));
            }
            return Err(CliError::failed(format!(
                "`{}` is not a valid artifact: {e}",
                args.artifact.display()
            )));
        }
    };
    let summary = summarize(&loaded, args.matrix);
    write(ctx, args.format, &summary, render);
    Ok(Exit::Ok)
}

/// JSON for machines; anything else (`sarif` is for `check`) for people, escaped: the
/// artifact's descriptions and paths may come from anywhere.
fn write<T: serde::Serialize>(
    ctx: &mut Context<'_>,
    format: Format,
    value: &T,
    human: fn(&T) -> String,
) {
    if format == Format::Json {
        let _ = serde_json::to_writer_pretty(&mut *ctx.out, value);
        let _ = writeln!(ctx.out);
    } else {
        let _ = ctx.out.write_all(terminal_safe(&human(value)).as_bytes());
    }
}

/// A matrix as a plain-text table: capabilities down, rings across, then its notes.
fn render_matrix(matrix: &Matrix) -> String {
    let mut header = vec!["capability".to_owned()];
    header.extend(matrix.rings.iter().map(|r| format!("ring {r}")));
    let mut lines = vec![header];
    for row in &matrix.rows {
        let mut line = vec![row.capability.clone()];
        line.extend(row.cells.iter().cloned());
        lines.push(line);
    }
    let columns = lines.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut text = String::new();
    for line in &lines {
        let mut row = String::new();
        for (cell, width) in line.iter().zip(&widths) {
            row.push_str(&format!("{cell:<width$}  "));
        }
        text.push_str(row.trim_end());
        text.push('\n');
    }
    // The table has no markers of its own: the notes (`key: ...`, `note: ...`) follow it.
    for note in &matrix.notes {
        text.push_str(note);
        text.push('\n');
    }
    text
}

fn render(summary: &Summary) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "format: {}", summary.format);
    let _ = writeln!(s, "compiler: {}", summary.compiler);
    let _ = writeln!(
        s,
        "policy: {} (source sha256 {})",
        summary.policy, summary.source_sha256
    );
    let _ = writeln!(s, "digest: {} (verified)", summary.digest);
    let _ = writeln!(
        s,
        "landlock: {}, min ABI {}",
        summary.landlock_compatibility, summary.landlock_min_abi
    );
    if !summary.variables.is_empty() {
        let names: Vec<String> = summary
            .variables
            .iter()
            .map(|name| match &summary.private_tmp {
                Some(tmp) if tmp == name => {
                    format!("{name} (a private temporary directory, created for each run)")
                }
                _ => name.clone(),
            })
            .collect();
        let _ = writeln!(s, "variables: {}", names.join(", "));
    }
    if summary.trust_tiers.is_empty() {
        let _ = writeln!(s, "trust tiers: none");
    } else {
        let _ = writeln!(s, "trust tiers:");
        let width = summary
            .trust_tiers
            .iter()
            .map(|t| t.name.len())
            .max()
            .unwrap_or(0);
        for t in &summary.trust_tiers {
            let range = format!("{}..={}", t.min_score, t.max_score);
            let _ = writeln!(s, "  {:<width$}  {range:<11}  -> ring {}", t.name, t.ring);
        }
    }
    for ring in &summary.rings {
        match &ring.description {
            Some(d) => {
                let _ = writeln!(s, "ring {}: {d}", ring.ring);
            }
            None => {
                let _ = writeln!(s, "ring {}:", ring.ring);
            }
        }
        if ring.unconfined {
            let _ = writeln!(
                s,
                "  unconfined: no sandbox is applied (the runtime needs an explicit opt-in)"
            );
            continue;
        }
        let _ = writeln!(
            s,
            "  targets: landlock {}; seccomp {}; seatbelt {}",
            ring.targets.landlock, ring.targets.seccomp, ring.targets.seatbelt
        );
        for bpf in &ring.seccomp {
            let st = &bpf.stats;
            let _ = writeln!(
                s,
                "  seccomp {}: {} instructions, worst case {} executed, mean {:.2}; {} of {} syscalls cached as allowed",
                bpf.arch, st.length, st.worst_case, st.mean, st.cache_allowed, st.syscalls
            );
        }
        if let Some(sb) = &ring.seatbelt {
            let _ = writeln!(
                s,
                "  seatbelt: {} bytes of SBPL ({}), {}; not enforced on macOS: {}",
                sb.bytes,
                count(sb.lines, "line", "lines"),
                count(sb.params, "parameter", "parameters"),
                count(sb.not_enforced, "part", "parts")
            );
        }
        if let Some(c) = ring.rules {
            let _ = writeln!(
                s,
                "  filesystem: {} allow, {} deny ({} globs, {} excepts)",
                c.allow, c.deny, c.globs, c.excepts
            );
        }
        if let Some(tcp) = &ring.tcp {
            if tcp.mode == "blocked" {
                let _ = writeln!(s, "  network: blocked (no TCP or UDP socket)");
            } else if tcp.restricted {
                let _ = writeln!(
                    s,
                    "  network: restricted; tcp connect to {}; bind to {}",
                    ports_cell(&tcp.connect).replace(',', ", "),
                    ports_cell(&tcp.bind).replace(',', ", ")
                );
            } else {
                let _ = writeln!(s, "  network: allowed (tcp not restricted)");
            }
        }
        if let Some(egress) = &ring.egress {
            let list = |rules: &[nonoc_runtime::hosts::HostRule]| {
                rules
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let _ = writeln!(
                s,
                "  egress proxy: hosts {}{}; private {}",
                terminal_safe(&list(&egress.hosts)),
                if egress.deny_hosts.is_empty() {
                    String::new()
                } else {
                    format!("; deny_hosts {}", terminal_safe(&list(&egress.deny_hosts)))
                },
                match egress.private {
                    nonoc_runtime::hosts::Private::Deny => "deny",
                    nonoc_runtime::hosts::Private::Allow => "allow",
                }
            );
        }
        if ring.scopes.is_empty() {
            let _ = writeln!(s, "  scopes: none");
        } else {
            let names: Vec<&str> = ring
                .scopes
                .iter()
                .map(|sc| match sc {
                    ScopeName::Signal => "signal",
                    ScopeName::AbstractUnixSocket => "abstract_unix_socket",
                })
                .collect();
            let _ = writeln!(s, "  scopes: {}", names.join(", "));
        }
        if !ring.carve_outs.is_empty() {
            // Grouped by deny: `${home}/.ssh in /, ${home}`.
            let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
            for c in &ring.carve_outs {
                match grouped.iter_mut().find(|(d, _)| *d == c.deny) {
                    Some((_, inside)) => inside.push(&c.inside),
                    None => grouped.push((&c.deny, vec![&c.inside])),
                }
            }
            let list: Vec<String> = grouped
                .iter()
                .map(|(deny, inside)| format!("{deny} in {}", inside.join(", ")))
                .collect();
            let _ = writeln!(
                s,
                "  carve-outs (decided at apply time): {}",
                list.join("; ")
            );
        }
    }
    if let Some(m) = &summary.matrix {
        let _ = writeln!(s);
        s.push_str(&render_matrix(m));
    }
    s
}
