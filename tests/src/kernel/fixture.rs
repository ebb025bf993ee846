//! Temporary directory trees and compiled policies for kernel probes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nonoc::ir::Ir;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A directory under `std::env::temp_dir()`, unique per test, removed on drop.
#[derive(Debug)]
pub struct TempTree {
    root: PathBuf,
}

impl TempTree {
    /// Creates `$TMPDIR/nonoc-kernel-PID-N-TAG`.
    pub fn new(tag: &str) -> TempTree {
        TempTree::new_in(&std::env::temp_dir(), tag)
    }

    /// Creates `BASE/nonoc-kernel-PID-N-TAG` (for policies that grant the temp directory
    /// wholesale, a tree outside it tells more).
    pub fn new_in(base: &Path, tag: &str) -> TempTree {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root = base.join(format!("nonoc-kernel-{}-{n}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", root.display()));
        // Policies and `decide` see paths as written, the kernel resolves them: no symlink in
        // the root (a `TMPDIR` through a link) may tell them apart.
        let root = std::fs::canonicalize(&root)
            .unwrap_or_else(|e| panic!("cannot resolve {}: {e}", root.display()));
        TempTree { root }
    }

    /// The root, as an absolute normalized path string (what policies bind).
    pub fn root(&self) -> String {
        self.root.to_str().expect("temp paths are UTF-8").to_owned()
    }

    /// The absolute path of `rel` (`""` is the root).
    pub fn path(&self, rel: &str) -> String {
        if rel.is_empty() {
            self.root()
        } else {
            format!("{}/{rel}", self.root())
        }
    }

    /// Creates a directory and its parents.
    pub fn dir(&self, rel: &str) -> String {
        let p = self.path(rel);
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("cannot create {p}: {e}"));
        p
    }

    /// Creates a regular file (and its parent directories).
    pub fn file(&self, rel: &str, contents: &[u8]) -> String {
        let p = self.path(rel);
        if let Some(parent) = Path::new(&p).parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        std::fs::write(&p, contents).unwrap_or_else(|e| panic!("cannot write {p}: {e}"));
        p
    }

    /// Creates an executable: a minimal static ELF that exits 0 (no loader, no library, so
    /// only the file's own rights decide whether execve succeeds).
    pub fn exe(&self, rel: &str) -> String {
        let p = self.file(rel, &tiny_elf());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {p}: {e}"));
        p
    }

    /// Creates a symlink at `rel` pointing to `target` (and the parent directories).
    pub fn symlink(&self, rel: &str, target: &str) -> String {
        let p = self.path(rel);
        if let Some(parent) = Path::new(&p).parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", parent.display()));
        }
        std::os::unix::fs::symlink(target, &p).unwrap_or_else(|e| panic!("cannot link {p}: {e}"));
        p
    }

    /// Writes an artifact beside the tree (`ROOT.artifact.json`, removed with the tree), so
    /// the probed tree holds only what the test made.
    pub fn artifact(&self, bytes: &[u8]) -> String {
        let p = format!("{}.artifact.json", self.root());
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("cannot write {p}: {e}"));
        p
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
        let _ = std::fs::remove_file(format!("{}.artifact.json", self.root.display()));
    }
}

/// A 129-byte static ELF executable for the build architecture: `exit(0)`.
pub fn tiny_elf() -> Vec<u8> {
    #[cfg(target_arch = "x86_64")]
    let (machine, code): (u16, &[u8]) = (0x3e, &[0x31, 0xff, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05]); // xor edi,edi; mov eax,60; syscall
    #[cfg(target_arch = "aarch64")]
    let (machine, code): (u16, &[u8]) = (
        0xb7,
        &[0, 0, 0x80, 0xd2, 0xa8, 0x0b, 0x80, 0xd2, 1, 0, 0, 0xd4],
    ); // mov x0,0; mov x8,93; svc 0
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    compile_error!("tiny_elf: add the exit(0) code for this architecture");
    const BASE: u64 = 0x40_0000;
    let size = (64 + 56 + code.len()) as u64;
    let mut elf = Vec::with_capacity(size as usize);
    elf.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    elf.extend_from_slice(&[0; 8]);
    elf.extend_from_slice(&2_u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&machine.to_le_bytes());
    elf.extend_from_slice(&1_u32.to_le_bytes()); // EV_CURRENT
    elf.extend_from_slice(&(BASE + 120).to_le_bytes()); // entry: the code after the headers
    elf.extend_from_slice(&64_u64.to_le_bytes()); // program headers at 64
    elf.extend_from_slice(&0_u64.to_le_bytes()); // no section headers
    elf.extend_from_slice(&0_u32.to_le_bytes()); // flags
    for half in [64_u16, 56, 1, 0, 0, 0] {
        // ehsize, phentsize, phnum, shentsize, shnum, shstrndx
        elf.extend_from_slice(&half.to_le_bytes());
    }
    elf.extend_from_slice(&1_u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5_u32.to_le_bytes()); // R + X
    for word in [0, BASE, BASE, size, size, 0x1000] {
        // offset, vaddr, paddr, filesz, memsz, align
        elf.extend_from_slice(&word.to_le_bytes());
    }
    elf.extend_from_slice(code);
    elf
}

/// A policy compiled as the CLI compiles it: `nonoc::analyze`, then `nonoc::artifact::build`.
#[derive(Debug)]
pub struct Compiled {
    pub ir: Ir,
    pub bytes: Vec<u8>,
    /// Warnings (carve-out and glob notes among them), as `CODE message`.
    pub warnings: Vec<String>,
}

/// Compiles policy text; `Err` lists every error diagnostic.
pub fn compile(name: &str, yaml: &str) -> Result<Compiled, String> {
    let analysis = nonoc::analyze(name, yaml.as_bytes());
    let render = |d: &nonoc::diagnostic::Diagnostic| format!("{:?} {}", d.code, d.message);
    let Some(ir) = analysis.ir else {
        let errors: Vec<String> = analysis
            .diagnostics
            .iter()
            .filter(|d| d.is_error())
            .map(render)
            .collect();
        return Err(format!(
            "{name} does not compile:\n  {}\n--- policy ---\n{yaml}",
            errors.join("\n  ")
        ));
    };
    let warnings = analysis.diagnostics.iter().map(render).collect();
    let targets = nonoc::backend::Targets::ALL;
    let (_, bytes) = nonoc::artifact::build(&ir, &analysis.lowered, yaml.as_bytes(), targets)?;
    Ok(Compiled {
        ir,
        bytes,
        warnings,
    })
}
