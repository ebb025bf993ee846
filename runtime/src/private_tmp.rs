//! The private temporary directory of a run (the `tmp` preset, v1.1): the artifact declares a
//! variable the runtime provides (`private_tmp`), bound to a directory created afresh for
//! each apply or spawn, `0700`, under `/tmp` (links resolved), and handed to the command as
//! `TMPDIR`. The preset grants nothing else there: the shared `/tmp` stays out of reach
//! unless the policy grants it by name.
//!
//! Who removes it: a spawned command's directory goes with its [`Child`](crate::Child) (when
//! the `Child` is dropped, after the command has ended); a ring applied in-process keeps its
//! directory for the life of the process (the process may empty it, but the ring grants no
//! right on its parent to remove it).

use std::io;
use std::path::{Path, PathBuf};

/// The name of each directory, as `mkdtemp(3)` fills it in.
pub const NAME_TEMPLATE: &str = "nonoc-tmp-XXXXXX";

/// What the compiler's what-ifs (`explain`, `test`, `--emit sbpl-params`) bind the variable
/// to when the caller does not: a path standing for the directory each run gets, which no
/// real run uses.
pub const PLACEHOLDER: &str = "/tmp/nonoc-tmp-XXXXXX";

/// The environment variable that tells programs where to write temporary files.
pub const ENV: &str = "TMPDIR";

/// A directory created for one run: removed with what it holds when dropped, unless
/// [`keep`](Self::keep) was called.
#[derive(Debug)]
pub struct PrivateTmp {
    path: PathBuf,
    keep: bool,
}

impl PrivateTmp {
    /// Creates a fresh directory, mode `0700`, under [`base`].
    pub fn create() -> io::Result<PrivateTmp> {
        let path = crate::sys::mkdtemp(&base()?.join(NAME_TEMPLATE))?;
        Ok(PrivateTmp { path, keep: false })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The directory as text (every path the runtime binds is UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        self.path.to_str()
    }

    /// Leaves the directory in place when dropped (a ring applied in-process).
    pub fn keep(mut self) -> PathBuf {
        self.keep = true;
        std::mem::take(&mut self.path)
    }
}

impl Drop for PrivateTmp {
    fn drop(&mut self) {
        if !self.keep {
            // `remove_dir_all` follows no symbolic link the command left inside. A failure
            // leaves a directory only this user can read; nothing to report it to.
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Where private directories are created: `/tmp`, with every link resolved (`/private/tmp`
/// on macOS), as a ring's paths are placed without following links. Not the applying
/// process's `TMPDIR`: the directory is then where `explain` and `test` take it to be
/// ([`PLACEHOLDER`]), so that a policy's deny rules cover it or not alike everywhere. A
/// caller that wants it elsewhere binds the variable.
pub fn base() -> io::Result<PathBuf> {
    std::fs::canonicalize("/tmp")
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn each_directory_is_fresh_owner_only_and_removed_with_its_contents() {
        let a = PrivateTmp::create().unwrap();
        let b = PrivateTmp::create().unwrap();
        assert_ne!(a.path(), b.path());
        assert_eq!(a.path().parent(), Some(base().unwrap().as_path()));
        let mode = std::fs::metadata(a.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let name = a.path().file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("nonoc-tmp-") && name.len() == NAME_TEMPLATE.len());
        std::fs::create_dir(a.path().join("sub")).unwrap();
        std::fs::write(a.path().join("sub/file"), b"x").unwrap();
        // A link to a directory outside: removal takes the link, not what it points to.
        let outside = b.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("sentinel"), b"kept").unwrap();
        std::os::unix::fs::symlink(&outside, a.path().join("link")).unwrap();
        std::os::unix::fs::symlink(&outside, a.path().join("sub/link")).unwrap();
        let path = a.path().to_owned();
        drop(a);
        assert!(!path.exists());
        assert_eq!(std::fs::read(outside.join("sentinel")).unwrap(), b"kept");
        let kept = b.keep();
        assert!(kept.is_dir());
        std::fs::remove_dir_all(kept).unwrap();
    }
}
