//! The program loader of an execute grant (v1.1, **Execute**): `execve` of a dynamically linked
//! program opens its ELF interpreter (`PT_INTERP`, the dynamic loader) for execution too, and
//! Landlock checks `execute` and `read_file` on that open. At apply time the runtime reads the
//! interpreter of every program a ring may execute and grants `execute` and `read_file` on it,
//! resolved through links.
//!
//! The program's bytes decide which file gets the grant, so they must be bytes no confined
//! ring could have written: a program that some ring of the artifact may write or replace (or
//! that is reached through a link such a ring may have planted) gets no loader grant, and the
//! report says why. Deny rules still win over the grant (it is placed like any allow rule).

use std::io::{Read, Seek, SeekFrom};

use super::resolve::{Cached, Writers};
use super::tree::{BoundRule, BoundTarget, Fs, Kind, within};
use crate::artifact::Right;
use crate::report::{LoaderGrant, LoaderNotAdded};

/// What the loader grant gives: the kernel opens the interpreter with `O_RDONLY` and
/// `__FMODE_EXEC`, which Landlock checks as `read_file` and `execute`.
pub const LOADER_RIGHTS: u16 = Right::Execute.bit() | Right::ReadFile.bit();

/// Most program headers read (real programs have a dozen).
const MAX_PROGRAM_HEADERS: u16 = 512;
/// Longest interpreter path accepted (`PATH_MAX`).
const MAX_INTERP: u64 = 4096;
const PT_INTERP: u32 = 3;

/// The loader grants for a ring's bound rules: one allow rule per distinct interpreter, and
/// what the report says of each execute grant on a program.
#[derive(Debug, Default)]
pub struct Loaders {
    pub rules: Vec<BoundRule>,
    pub granted: Vec<LoaderGrant>,
    pub not_added: Vec<LoaderNotAdded>,
}

/// Finds the interpreter of every regular file an allow rule grants `execute` on.
/// `replaceable`: directories where some ring may replace entries (the link rule's);
/// `writable`: paths where some ring may change a file's contents or replace it.
pub fn loaders<F: Fs>(
    rules: &[BoundRule],
    replaceable: &[String],
    writable: &[String],
    fs: &F,
) -> Loaders {
    let cached = Cached::new(fs);
    let writers = Writers::new(replaceable, &cached);
    let mut out = Loaders::default();
    let mut seen: Vec<&str> = Vec::new();
    for rule in rules {
        let BoundTarget::Path(program) = &rule.target else {
            continue;
        };
        if !rule.allow || rule.mask & Right::Execute.bit() == 0 || seen.contains(&program.as_str())
        {
            continue;
        }
        seen.push(program);
        if writers.planted(program, &cached) {
            out.refuse(
                program,
                "the path goes through a symbolic link a ring may have planted".to_owned(),
            );
            continue;
        }
        let real = cached.real_path(program);
        // A directory grant names no program; a missing path is reported by placement.
        if cached.kind(&real) != Kind::File {
            continue;
        }
        // As written and where it leads, on both sides: a writable tree reached through a
        // link is the same tree.
        let changeable = |w: &&String| {
            within(&real, w) || within(program, w) || within(&real, &cached.real_path(w))
        };
        if let Some(w) = writable.iter().find(changeable) {
            out.refuse(
                program,
                format!(
                    "a ring of the artifact may write `{w}`, so the program's loader is not trusted"
                ),
            );
            continue;
        }
        let interpreter = match interpreter_of(&real) {
            Ok(Some(i)) => i,
            // Statically linked, or not an ELF file (a script's `#!` interpreter needs its
            // own execute grant).
            Ok(None) => continue,
            Err(why) => {
                out.refuse(program, why);
                continue;
            }
        };
        if let Err(why) = crate::bind::check_bound_value(&interpreter) {
            out.refuse(program, format!("its interpreter `{interpreter}` is {why}"));
            continue;
        }
        if writers.planted(&interpreter, &cached) {
            out.refuse(
                program,
                format!("its interpreter `{interpreter}` goes through a symbolic link a ring may have planted"),
            );
            continue;
        }
        let resolved = cached.real_path(&interpreter);
        if cached.kind(&resolved) != Kind::File {
            out.refuse(
                program,
                format!("its interpreter `{interpreter}` is not a file here"),
            );
            continue;
        }
        if !out
            .rules
            .iter()
            .any(|r| r.target == BoundTarget::Path(resolved.clone()))
        {
            out.rules.push(BoundRule {
                allow: true,
                target: BoundTarget::Path(resolved.clone()),
                mask: LOADER_RIGHTS,
                except: Vec::new(),
            });
        }
        out.granted.push(LoaderGrant {
            program: program.clone(),
            interpreter,
            resolved,
        });
    }
    out
}

impl Loaders {
    fn refuse(&mut self, program: &str, why: String) {
        self.not_added.push(LoaderNotAdded {
            program: program.to_owned(),
            why,
        });
    }
}

/// The `PT_INTERP` path of an ELF file (32- or 64-bit, either byte order): `None` for a file
/// that is not ELF or has no interpreter (statically linked).
pub fn interpreter_of(path: &str) -> Result<Option<String>, String> {
    let cannot = |e: std::io::Error| format!("cannot read the program: {e}");
    let mut file = std::fs::File::open(path).map_err(cannot)?;
    let mut ident = [0u8; 64];
    let n = read_up_to(&mut file, &mut ident).map_err(cannot)?;
    if n < 16 || ident[..4] != *b"\x7fELF" {
        return Ok(None);
    }
    let wide = match ident[4] {
        1 => false,
        2 => true,
        _ => return Err("the program's ELF class is unknown".to_owned()),
    };
    let little = match ident[5] {
        1 => true,
        2 => false,
        _ => return Err("the program's ELF byte order is unknown".to_owned()),
    };
    let header_len = if wide { 64 } else { 52 };
    if n < header_len {
        return Err("the program's ELF header is cut short".to_owned());
    }
    let h = Fields { little };
    let (phoff, phentsize, phnum) = if wide {
        (h.u64(&ident, 32), h.u16(&ident, 54), h.u16(&ident, 56))
    } else {
        (
            u64::from(h.u32(&ident, 28)),
            h.u16(&ident, 42),
            h.u16(&ident, 44),
        )
    };
    let entry_len: u16 = if wide { 56 } else { 32 };
    if phnum == 0 {
        return Ok(None);
    }
    if phentsize < entry_len || phnum > MAX_PROGRAM_HEADERS {
        return Err("the program's ELF program headers are malformed".to_owned());
    }
    let mut table = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
    file.seek(SeekFrom::Start(phoff)).map_err(cannot)?;
    file.read_exact(&mut table)
        .map_err(|_| "the program's ELF program headers are cut short".to_owned())?;
    for entry in table.chunks_exact(usize::from(phentsize)) {
        if h.u32(entry, 0) != PT_INTERP {
            continue;
        }
        let (offset, size) = if wide {
            (h.u64(entry, 8), h.u64(entry, 32))
        } else {
            (u64::from(h.u32(entry, 4)), u64::from(h.u32(entry, 16)))
        };
        if size == 0 || size > MAX_INTERP {
            return Err("the program's ELF interpreter path is malformed".to_owned());
        }
        let mut bytes = vec![0u8; usize::try_from(size).unwrap_or(0)];
        file.seek(SeekFrom::Start(offset)).map_err(cannot)?;
        file.read_exact(&mut bytes)
            .map_err(|_| "the program's ELF interpreter path is cut short".to_owned())?;
        // NUL-terminated; nothing after the NUL counts (the kernel stops there too).
        let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
        return String::from_utf8(bytes[..end].to_vec())
            .map(Some)
            .map_err(|_| "the program's ELF interpreter path is not UTF-8".to_owned());
    }
    Ok(None)
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Integer fields of an ELF structure in its byte order; out-of-range reads give 0 (callers
/// check lengths first).
struct Fields {
    little: bool,
}

impl Fields {
    fn bytes<const N: usize>(&self, b: &[u8], at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        if let Some(src) = b.get(at..at + N) {
            out.copy_from_slice(src);
        }
        out
    }

    fn u16(&self, b: &[u8], at: usize) -> u16 {
        let a = self.bytes::<2>(b, at);
        if self.little {
            u16::from_le_bytes(a)
        } else {
            u16::from_be_bytes(a)
        }
    }

    fn u32(&self, b: &[u8], at: usize) -> u32 {
        let a = self.bytes::<4>(b, at);
        if self.little {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    }

    fn u64(&self, b: &[u8], at: usize) -> u64 {
        let a = self.bytes::<8>(b, at);
        if self.little {
            u64::from_le_bytes(a)
        } else {
            u64::from_be_bytes(a)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("nonoc-loader-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// A minimal 64-bit little-endian ELF file with one `PT_INTERP` header.
    fn elf64(interp: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 64 + 56];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 2;
        f[5] = 1;
        f[32..40].copy_from_slice(&64u64.to_le_bytes());
        f[54..56].copy_from_slice(&56u16.to_le_bytes());
        f[56..58].copy_from_slice(&1u16.to_le_bytes());
        let at = f.len() as u64;
        f[64..68].copy_from_slice(&PT_INTERP.to_le_bytes());
        f[64 + 8..64 + 16].copy_from_slice(&at.to_le_bytes());
        f[64 + 32..64 + 40].copy_from_slice(&(interp.len() as u64).to_le_bytes());
        f.extend_from_slice(interp);
        f
    }

    #[test]
    fn reads_the_interpreter_of_elf_files_only() {
        let dir = scratch("read");
        let prog = dir.join("prog");
        std::fs::write(&prog, elf64(b"/lib/ld-test.so.1\0junk")).unwrap();
        assert_eq!(
            interpreter_of(prog.to_str().unwrap()),
            Ok(Some("/lib/ld-test.so.1".to_owned()))
        );
        std::fs::write(&prog, b"#!/bin/sh\necho hi\n").unwrap();
        assert_eq!(interpreter_of(prog.to_str().unwrap()), Ok(None));
        let mut bad = elf64(b"/x\0");
        bad[56..58].copy_from_slice(&9999u16.to_le_bytes());
        std::fs::write(&prog, bad).unwrap();
        assert!(interpreter_of(prog.to_str().unwrap()).is_err());
        std::fs::write(&prog, &elf64(b"/lib/ld.so\0")[..70]).unwrap();
        assert!(interpreter_of(prog.to_str().unwrap()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn the_loader_of_a_system_program_is_found_and_resolved() {
        let Ok(Some(interp)) = interpreter_of("/bin/sh") else {
            return; // a statically linked shell has no loader to find
        };
        let rule = BoundRule {
            allow: true,
            target: BoundTarget::Path("/bin/sh".to_owned()),
            mask: Right::Execute.bit() | Right::ReadFile.bit(),
            except: Vec::new(),
        };
        let found = loaders(&[rule], &[], &[], &super::super::RealFs);
        assert_eq!(found.granted.len(), 1, "{found:?}");
        let resolved = std::fs::canonicalize(&interp).unwrap();
        assert_eq!(found.granted[0].interpreter, interp);
        assert_eq!(found.granted[0].resolved, resolved.to_str().unwrap());
        assert_eq!(
            found.rules[0].target,
            BoundTarget::Path(resolved.to_str().unwrap().to_owned())
        );
        assert_eq!(found.rules[0].mask, LOADER_RIGHTS);
    }

    #[test]
    fn a_program_a_ring_may_write_gets_no_loader() {
        let dir = scratch("writable");
        let prog = dir.join("prog");
        std::fs::write(&prog, elf64(b"/etc/passwd\0")).unwrap();
        let prog = prog.to_str().unwrap().to_owned();
        let dir = dir.to_str().unwrap().to_owned();
        let rule = BoundRule {
            allow: true,
            target: BoundTarget::Path(prog.clone()),
            mask: Right::Execute.bit(),
            except: Vec::new(),
        };
        let found = loaders(
            std::slice::from_ref(&rule),
            &[],
            std::slice::from_ref(&dir),
            &super::super::RealFs,
        );
        assert!(found.rules.is_empty() && found.granted.is_empty());
        assert_eq!(found.not_added.len(), 1);
        assert!(found.not_added[0].why.contains("may write"), "{found:?}");
        // A writable tree named through a link is the same tree.
        let link = format!("{dir}-link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&dir, &link).unwrap();
        let found = loaders(
            std::slice::from_ref(&rule),
            &[],
            std::slice::from_ref(&link),
            &super::super::RealFs,
        );
        assert!(found.rules.is_empty(), "{found:?}");
        let _ = std::fs::remove_file(&link);
        // Not writable: the (odd) interpreter is granted, as the program's bytes are trusted.
        let found = loaders(&[rule], &[], &[], &super::super::RealFs);
        assert_eq!(found.granted.len(), 1, "{found:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
