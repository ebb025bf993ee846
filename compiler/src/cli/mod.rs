//! The `nonoc` command line: one file per command, each with its arguments (`XArgs`) and a
//! `run` that renders what the library computes; what they share is in [`common`]. This file
//! parses and dispatches, one line per command; errors are written by
//! [`CliError::report`], nowhere else. Command files import the library and `common`, never
//! each other or this file. `main.rs` only calls [`main`].

pub mod check;
pub mod common;
pub mod compile;
pub mod completions;
pub mod diff;
pub mod doctor;
pub mod exec;
pub mod explain;
pub mod inspect;
pub mod man;
#[cfg(target_os = "linux")]
pub mod probe;
pub mod schema;
pub mod test;

use std::ffi::OsString;
use std::io::Write;

use clap::{CommandFactory, Parser, Subcommand};

pub use common::{CliError, Context, Exit, Format, Outcome, Style, VarArgs};

#[derive(Debug, Parser)]
#[command(
    name = "nonoc",
    version,
    about = "Compile ring policies into OS sandbox artifacts (Landlock, seccomp, Seatbelt)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse, resolve, validate and lint policies; print every diagnostic.
    Check(check::CheckArgs),
    /// Compile a policy into an artifact (or, with --emit, one stage's output).
    Compile(compile::CompileArgs),
    /// Apply a ring of an artifact to this process, then run CMD in it.
    Exec(exec::ExecArgs),
    /// Run the policy's `tests:` against `decide` (and, with --kernel, against the kernel).
    Test(test::TestArgs),
    /// Explain why a ring allows or denies one request.
    Explain(explain::ExplainArgs),
    /// Verify an artifact and summarize its rings, targets and trust tiers.
    Inspect(inspect::InspectArgs),
    /// The rights each ring gains and loses between two policies.
    Diff(diff::DiffArgs),
    /// Show what this host supports and, with an artifact, what each ring would get here.
    Doctor(doctor::DoctorArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff).
    Man(man::ManArgs),
    /// Print the JSON Schema of the policy language.
    Schema(schema::SchemaArgs),
}

/// `nonoc __probe` (the child of `nonoc test --kernel`, Linux): parsed on its own, outside
/// [`Cli`], so that help, the man page and the shell completions never offer it.
#[cfg(target_os = "linux")]
#[derive(Debug, Parser)]
#[command(
    name = "nonoc __probe",
    about = "Internal (`nonoc test --kernel`): apply a ring of the artifact on stdin, try one operation, print the kernel's answer"
)]
struct ProbeCli {
    #[command(flatten)]
    args: probe::ProbeArgs,
}

/// Runs one command; its error, if any, is written on `ctx.err`.
pub fn dispatch(command: &Command, ctx: &mut Context<'_>) -> Exit {
    let outcome = match command {
        Command::Check(args) => check::run(args, ctx),
        Command::Compile(args) => compile::run(args, ctx),
        Command::Exec(args) => exec::run(args, ctx),
        Command::Test(args) => test::run(args, ctx),
        Command::Explain(args) => explain::run(args, ctx),
        Command::Inspect(args) => inspect::run(args, ctx),
        Command::Diff(args) => diff::run(args, ctx),
        Command::Doctor(args) => doctor::run(args, ctx),
        Command::Completions(args) => completions::run(args, Cli::command(), ctx),
        Command::Man(args) => man::run(args, Cli::command(), ctx),
        Command::Schema(args) => schema::run(args, ctx),
    };
    finish(outcome, ctx.err)
}

/// The exit code of an outcome, its error written on `err`.
pub fn finish(outcome: Outcome, err: &mut dyn Write) -> Exit {
    outcome.unwrap_or_else(|e| e.report(err))
}

/// `nonoc` with these arguments (the program name first), on the process's stdout, stderr and
/// environment.
pub fn main(args: Vec<OsString>) -> Exit {
    let env = nonoc_runtime::bind::process_env;
    // `nonoc exec` starts agents: its plain form skips clap (see `exec::parse_plain`), and
    // renders no diagnostics, so it reads nothing of the terminal either.
    if let Some(args) = exec::parse_plain(&args) {
        let (mut out, mut err) = (std::io::stdout(), std::io::stderr().lock());
        let mut ctx = Context {
            out: &mut out,
            err: &mut err,
            style: Style::PLAIN,
            env: &env,
        };
        return finish(exec::run(&args, &mut ctx), ctx.err);
    }
    let command = match parse(args) {
        Ok(command) => command,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Ok
            };
        }
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    let mut ctx = Context {
        out: &mut out,
        err: &mut err,
        style: Style::from_env(),
        env: &env,
    };
    let exit = match command {
        Parsed::Command(command) => dispatch(&command, &mut ctx),
        #[cfg(target_os = "linux")]
        Parsed::Probe(probe) => finish(probe::run(&probe, &mut ctx), ctx.err),
    };
    let _ = ctx.out.flush();
    exit
}

/// What the arguments ask for: a command of [`Cli`], or the hidden probe.
enum Parsed {
    Command(Box<Command>),
    #[cfg(target_os = "linux")]
    Probe(probe::ProbeArgs),
}

/// Parses the arguments; `nonoc __probe` only where the probe exists (Linux): elsewhere clap
/// refuses it as any unknown subcommand.
fn parse(args: Vec<OsString>) -> Result<Parsed, clap::Error> {
    #[cfg(target_os = "linux")]
    if args.get(1).is_some_and(|a| a == crate::kernel::SUBCOMMAND) {
        let mut args = args;
        args.remove(1);
        return ProbeCli::try_parse_from(args).map(|p| Parsed::Probe(p.args));
    }
    Cli::try_parse_from(args).map(|cli| Parsed::Command(Box::new(cli.command)))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::exec::{ExecArgs, parse_plain};
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        std::iter::once("nonoc")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// What clap makes of the arguments, when it parses them as `exec`.
    fn clap(args: &[OsString]) -> Option<ExecArgs> {
        match Cli::try_parse_from(args).ok()?.command {
            Command::Exec(args) => Some(args),
            _ => None,
        }
    }

    #[test]
    fn the_plain_form_parses_as_clap_does() {
        let plain = [
            &["exec", "a.json", "--ring", "3", "--", "/bin/true"][..],
            &["exec", "--ring=3", "a.json", "--", "/bin/sh", "-c", "x"],
            &[
                "exec",
                "--trust-score",
                "720",
                "a.json",
                "--",
                "cmd",
                "--ring",
            ],
            &[
                "exec",
                "a.json",
                "--var",
                "workspace=/w",
                "--var=home=/h",
                "--ring",
                "255",
                "--report",
                "--allow-unconfined",
                "--",
                "cmd",
            ],
            &[
                "exec",
                "a.json",
                "--ring",
                "2",
                "--pass-fd",
                "5",
                "--pass-fd=7",
                "--",
                "cmd",
            ],
            &[
                "exec",
                "a.json",
                "--ring",
                "2",
                "--resolve",
                "api.test=127.0.0.1",
                "--resolve=b.test=::1",
                "--egress-log",
                "/x/log",
                "--",
                "cmd",
            ],
        ];
        for args in plain {
            let args = os(args);
            let fast = parse_plain(&args);
            assert!(fast.is_some(), "{args:?}");
            assert_eq!(fast, clap(&args), "{args:?}");
        }
    }

    #[test]
    fn anything_else_is_left_to_clap() {
        let others = [
            &["exec", "--help"][..],
            &["exec", "a.json", "--ring", "3"],
            &["exec", "a.json", "--ring", "3", "--"],
            &["exec", "a.json", "--ring", "3", "--ring", "3", "--", "x"],
            &[
                "exec",
                "a.json",
                "--ring",
                "3",
                "--trust-score",
                "5",
                "--",
                "x",
            ],
            &["exec", "a.json", "b.json", "--ring", "3", "--", "x"],
            &["exec", "a.json", "--ring", "256", "--", "x"],
            &["exec", "a.json", "--ring", "+3", "--", "x"],
            &["exec", "a.json", "--ring", "-3", "--", "x"],
            &["exec", "a.json", "--ring=", "--", "x"],
            &["exec", "a.json", "--var", "--ring", "3", "--", "x"],
            &[
                "exec", "a.json", "--report", "--report", "--ring", "3", "--", "x",
            ],
            &["exec", "a.json", "--report=true", "--ring", "3", "--", "x"],
            &[
                "exec",
                "a.json",
                "--pass-fd",
                "-1",
                "--ring",
                "3",
                "--",
                "x",
            ],
            &["exec", "a.json", "--pass-fd", "x", "--ring", "3", "--", "x"],
            &["exec", "a.json", "-r", "3", "--", "x"],
            &[
                "exec",
                "a.json",
                "--egress-log",
                "a",
                "--egress-log",
                "b",
                "--ring",
                "3",
                "--",
                "x",
            ],
            &["exec", "", "--ring", "3", "--", "x"],
            &["compile", "a.yaml"],
            &[],
        ];
        for args in others {
            assert_eq!(parse_plain(&os(args)), None, "{args:?}");
        }
    }

    proptest! {
        /// Whatever the tokens, the plain parser either declines or agrees with clap.
        #[test]
        fn never_disagrees_with_clap(tokens in proptest::collection::vec(
            prop_oneof![
                Just("--ring"), Just("3"), Just("--ring=2"), Just("--trust-score"),
                Just("700"), Just("--trust-score=1001"), Just("--var"), Just("a=b"),
                Just("--var=c=d"), Just("--report"), Just("--allow-unconfined"),
                Just("a.json"), Just("b.json"), Just("--"), Just("-h"), Just("-x"),
                Just("--pass-fd"), Just("5"), Just("--pass-fd=9"),
                Just("--resolve"), Just("a.test=10.0.0.1"), Just("--egress-log"), Just("/l"),
                Just(""), Just("cmd"), Just("-"), Just("99999999999"),
            ],
            0..12,
        )) {
            let mut args = vec!["exec"];
            args.extend(tokens);
            let args = os(&args);
            if let Some(fast) = parse_plain(&args) {
                prop_assert_eq!(Some(fast), clap(&args));
            }
        }

        /// Plain forms in any order of their options are taken, as clap takes them.
        #[test]
        fn takes_plain_forms_in_any_order(
            selector in prop_oneof![
                (0_u16..=255).prop_map(|r| vec!["--ring".to_owned(), r.to_string()]),
                (0_u32..=2000).prop_map(|s| vec![format!("--trust-score={s}")]),
            ],
            vars in proptest::collection::vec("[a-z]{1,4}=[a-z/]{0,4}", 0..3),
            report in any::<bool>(),
            unconfined in any::<bool>(),
            order in Just(()).prop_perturb(|(), mut rng| rng.random::<u64>()),
            command in proptest::collection::vec("[a-z-]{1,5}", 1..4),
        ) {
            let mut groups: Vec<Vec<String>> = vec![vec!["art.json".to_owned()], selector];
            groups.extend(vars.iter().map(|v| vec!["--var".to_owned(), v.clone()]));
            if report {
                groups.push(vec!["--report".to_owned()]);
            }
            if unconfined {
                groups.push(vec!["--allow-unconfined".to_owned()]);
            }
            let n = groups.len() as u64;
            groups.rotate_left((order % n) as usize);
            let mut args: Vec<String> = vec!["exec".to_owned()];
            args.extend(groups.into_iter().flatten());
            args.push("--".to_owned());
            args.extend(command);
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            let args = os(&refs);
            let fast = parse_plain(&args);
            prop_assert!(fast.is_some(), "{:?}", args);
            prop_assert_eq!(fast, clap(&args));
        }
    }
}
