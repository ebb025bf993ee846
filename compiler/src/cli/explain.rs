//! `nonoc explain POLICY --ring N (--read P | --write P | --execute P | --connect-tcp PORT |
//! --bind-tcp PORT | --syscall NAME | --listen tcp|unix | --unix-connect PATH |
//! --capability NAME | --host NAME[:PORT]) [--var NAME=VALUE]...`: `allow` or `deny` on the first line, the rules
//! (or the default) that decided it, notes where the verdict promises less than it seems to,
//! then what each backend does with the request. `--format json` gives the same as one
//! object.

use std::path::PathBuf;

use super::common::{CliError, Context, Exit, Format, Outcome, VarArgs, load_ir};
use crate::diagnostic::terminal_safe;
use crate::explain::{ExplainRequest, Explanation};
use crate::ir::{ListenFamily, bind_partial, verdict_name};

/// The request flags of `nonoc explain`: exactly one.
#[derive(Debug, Clone, clap::Args)]
#[group(required = true, multiple = false)]
pub struct RequestArgs {
    /// Reading a file.
    #[arg(long, value_name = "PATH")]
    pub read: Option<String>,
    /// Writing a file.
    #[arg(long, value_name = "PATH")]
    pub write: Option<String>,
    /// Executing a file.
    #[arg(long, value_name = "PATH")]
    pub execute: Option<String>,
    /// Connecting to a TCP port.
    #[arg(long, value_name = "PORT")]
    pub connect_tcp: Option<String>,
    /// Binding a TCP port.
    #[arg(long, value_name = "PORT")]
    pub bind_tcp: Option<String>,
    /// Calling a syscall (arguments zero).
    #[arg(long, value_name = "NAME")]
    pub syscall: Option<String>,
    /// Accepting connections with listen() on a socket of this family not bound to a
    /// granted port.
    #[arg(long, value_name = "FAMILY", value_enum)]
    pub listen: Option<ListenArg>,
    /// Connecting to the unix socket at a path.
    #[arg(long, value_name = "PATH")]
    pub unix_connect: Option<String>,
    /// Keeping a Linux capability (`net_bind_service`, ...).
    #[arg(long, value_name = "NAME")]
    pub capability: Option<String>,
    /// Reaching a host through the egress proxy (`api.example.com`, `api.example.com:8443`,
    /// `192.0.2.7:80`, `[2001:db8::1]:443`); port 443 when not given.
    #[arg(long, value_name = "NAME[:PORT]")]
    pub host: Option<String>,
}

/// The socket families of `--listen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ListenArg {
    Tcp,
    Unix,
}

impl RequestArgs {
    /// The one request given (clap's group makes it exactly one).
    pub fn request(&self) -> Option<ExplainRequest> {
        let RequestArgs {
            read,
            write,
            execute,
            connect_tcp,
            bind_tcp,
            syscall,
            listen,
            unix_connect,
            capability,
            host,
        } = self.clone();
        read.map(ExplainRequest::Read)
            .or(write.map(ExplainRequest::Write))
            .or(execute.map(ExplainRequest::Execute))
            .or(connect_tcp.map(ExplainRequest::ConnectTcp))
            .or(bind_tcp.map(ExplainRequest::BindTcp))
            .or(syscall.map(ExplainRequest::Syscall))
            .or(listen.map(|l| {
                ExplainRequest::Listen(match l {
                    ListenArg::Tcp => ListenFamily::Tcp,
                    ListenArg::Unix => ListenFamily::Unix,
                })
            }))
            .or(unix_connect.map(ExplainRequest::UnixConnect))
            .or(capability.map(ExplainRequest::Capability))
            .or(host.map(ExplainRequest::Host))
    }
}

/// Arguments of `nonoc explain`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExplainArgs {
    /// The policy to ask.
    pub policy: PathBuf,
    /// The ring to ask about.
    #[arg(long)]
    pub ring: u8,
    #[command(flatten)]
    pub request: RequestArgs,
    #[command(flatten)]
    pub vars: VarArgs,
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

/// `nonoc explain`: 0 (the answer is on stdout), 1 when the policy has errors, 2 on a usage
/// or I/O problem.
pub fn run(args: &ExplainArgs, ctx: &mut Context<'_>) -> Outcome {
    let Some(request) = args.request.request() else {
        return Err(CliError::usage(
            "give one request: --read, --write, --execute, --connect-tcp, --bind-tcp, --syscall, --listen, --unix-connect or --capability",
        ));
    };
    if args.format == Format::Sarif {
        return Err(CliError::usage(
            "`--format sarif` is for `nonoc check`; `explain` prints `human` or `json`",
        ));
    }
    let (analysis, ir) = load_ir(&args.policy, ctx)?;
    let ring = crate::explain::ring(&ir, args.ring).map_err(CliError::usage)?;
    let given = args.vars.bindings()?;
    let partial = bind_partial(&ir, &given, ctx.env).map_err(CliError::usage)?;
    let explanation = crate::explain::explain(&ir, &analysis, ring, &request, &partial)
        .map_err(CliError::usage)?;
    if args.format == Format::Json {
        let text = serde_json::to_string_pretty(&explanation).map_err(|e| {
            CliError::failed(format!("the explanation could not be serialized: {e}"))
        })?;
        let _ = writeln!(ctx.out, "{text}");
    } else {
        // The rule's source line is the policy's text: nothing in it reaches the terminal as a
        // control.
        let _ = ctx
            .out
            .write_all(terminal_safe(&human(&explanation)).as_bytes());
    }
    Ok(Exit::Ok)
}

fn human(e: &Explanation) -> String {
    let mut text = format!("{}\n", verdict_name(e.verdict));
    for r in &e.because {
        text.push_str(&format!("because: {}\n", r.detail));
        if let (Some(file), Some(line), Some(column)) = (&r.file, r.line, r.column) {
            let scope = r.scope.as_deref().unwrap_or("");
            let source = r.text.as_deref().unwrap_or("");
            text.push_str(&format!(
                "  at {file}:{line}:{column} ({scope}): {source}\n"
            ));
        }
    }
    for note in &e.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    text.push_str(&format!("Landlock: {}\n", e.backends.landlock));
    text.push_str(&format!("seccomp: {}\n", e.backends.seccomp));
    if let Some(seatbelt) = &e.backends.seatbelt {
        text.push_str(&format!("Seatbelt: {seatbelt}\n"));
    }
    if let Some(host) = &e.host {
        text.push_str(&format!("on this host: {host}\n"));
    }
    text
}
