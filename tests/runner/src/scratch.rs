//! What the end-to-end test targets share: a directory of its own per test, outside the
//! temporary directories, and the transcript of one run of a command.
#![expect(
    clippy::panic,
    reason = "test code: a broken set-up panics, which is how a test reports it"
)]

use std::fmt;
use std::path::Path;
use std::process::{ExitStatus, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::{outside_tmp, under_a_temp_dir};

/// A directory of its own for one test, outside the temporary directories (which rings often
/// grant), emptied first, with a `home` in it. Paths are UTF-8 strings, as policies and
/// `--var` take them, and resolved (the kernel resolves links; policies see paths as
/// written). A broken set-up panics: that is how a test reports it.
#[derive(Debug)]
pub struct Scratch {
    /// The directory's resolved path.
    pub root: String,
}

impl Scratch {
    /// `GROUP/TEST` under [`outside_tmp`] of the test target's `CARGO_TARGET_TMPDIR`.
    pub fn new(target_tmpdir: &str, group: &str, test: &str) -> Scratch {
        let dir = outside_tmp(target_tmpdir)
            .unwrap_or_else(|e| panic!("{e}"))
            .join(group)
            .join(test);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let root = std::fs::canonicalize(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert!(
            !under_a_temp_dir(&root),
            "{} is under a temporary directory, which rings grant wholesale",
            root.display()
        );
        let root = root
            .to_str()
            .unwrap_or_else(|| panic!("{} is not UTF-8", root.display()))
            .to_owned();
        let scratch = Scratch { root };
        scratch.dir("home");
        scratch
    }

    /// `ROOT/REL`.
    pub fn path(&self, rel: &str) -> String {
        format!("{}/{rel}", self.root)
    }

    /// `ROOT/REL`, created as a directory (with its parents).
    pub fn dir(&self, rel: &str) -> String {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{p}: {e}"));
        p
    }

    /// `ROOT/REL`, written with `contents` (its parents created).
    pub fn file(&self, rel: &str, contents: impl AsRef<[u8]>) -> String {
        let p = self.path(rel);
        if let Some(parent) = Path::new(&p).parent() {
            std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{p}: {e}"));
        }
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("{p}: {e}"));
        p
    }

    /// A path that does not exist yet, for a command to create.
    pub fn fresh(&self, rel: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let p = format!(
            "{}-{}",
            self.path(rel),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        assert!(!Path::new(&p).exists(), "{p} exists");
        p
    }
}

/// What one run of `nonoc` did; shown as a transcript when an assertion about it fails.
#[derive(Debug)]
pub struct Run {
    /// The arguments after the program's name.
    pub args: Vec<String>,
    /// How it ended.
    pub status: ExitStatus,
    /// Its standard output, lossily decoded.
    pub stdout: String,
    /// Its standard error, lossily decoded.
    pub stderr: String,
}

impl Run {
    /// The run of `nonoc ARGS` that gave `output`.
    pub fn new(args: &[&str], output: Output) -> Run {
        Run {
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// The exit status, `None` when a signal ended it.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "$ nonoc {}", self.args.join(" "))?;
        writeln!(f, "------- stdout -------\n{}", self.stdout)?;
        writeln!(f, "------- stderr -------\n{}", self.stderr)?;
        write!(f, "[{}]", self.status)
    }
}
