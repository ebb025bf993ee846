//! `Artifact::load` checks every field as strictly as the compiler writes it: an artifact
//! edited and sealed again (its digest then proves nothing) is refused when the edit makes
//! something the compiler never writes, whatever field it touches, with the place and the
//! reason. The compiler's own artifacts always load (here for the example policies; the
//! front-end fuzz tests load every artifact of every generated policy).

use nonoc_runtime::Error;
use nonoc_runtime::artifact::{
    Artifact, Capability, Component, Effect, Instruction, Rights, SeccompArch, SeccompFilter,
    Target, Unenforceable,
};

fn compiled(name: &str) -> Vec<u8> {
    let path = format!("{}/../policies/{name}.yaml", env!("CARGO_MANIFEST_DIR"));
    let yaml = std::fs::read(&path).unwrap();
    let analysis = nonoc::analyze(&path, &yaml);
    let ir = analysis.ir.unwrap();
    nonoc::artifact::build(&ir, &analysis.lowered, &yaml, nonoc::backend::Targets::ALL)
        .unwrap()
        .1
}

/// The artifact's text sealed again: the digest over what the text now holds, computed as
/// the loader checks it (the bytes before the digest member, then `}`).
fn reseal(text: &str) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let body = text.trim_end_matches('\n');
    let content = &body[..body.rfind(",\"digest\":").unwrap()];
    let mut hasher = Sha256::new();
    hasher.update(content.as_bytes());
    hasher.update(b"}");
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{content},\"digest\":\"sha256:{hex}\"}}\n").into_bytes()
}

#[track_caller]
fn refused(bytes: &[u8], why: &str) {
    match Artifact::from_slice(bytes) {
        Ok(_) => panic!("accepted, expected `{why}`"),
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(why), "expected `{why}`, got: {message}");
        }
    }
}

/// A parsed copy, edited, sealed again.
fn edited(good: &[u8], edit: impl FnOnce(&mut Artifact)) -> Vec<u8> {
    let mut artifact = Artifact::from_slice(good).unwrap();
    edit(&mut artifact);
    artifact.seal().unwrap()
}

#[test]
fn the_compilers_artifacts_load() {
    for name in ["agt-rings", "coding-agent", "ci-runner"] {
        let bytes = compiled(name);
        Artifact::from_slice(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(reseal(&String::from_utf8(bytes.clone()).unwrap()), bytes);
    }
}

/// A variable's default is a value, literal text like a `--var` value: one with glob
/// characters compiles, and the artifact loads (the loader once refused it as an allow path).
#[test]
fn a_default_with_glob_characters_loads() {
    let yaml = "apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: { name: d }\nvariables:\n  out: { default: '/[builds/o{u}t*' }\nrings:\n  3:\n    filesystem: { read: ['${out}'] }\n";
    let analysis = nonoc::analyze("d.yaml", yaml.as_bytes());
    let ir = analysis
        .ir
        .unwrap_or_else(|| panic!("{:?}", analysis.diagnostics));
    let (_, bytes) = nonoc::artifact::build(
        &ir,
        &analysis.lowered,
        yaml.as_bytes(),
        nonoc::backend::Targets::ALL,
    )
    .unwrap();
    let artifact = Artifact::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        artifact.variables["out"].default.as_deref(),
        Some("/[builds/o{u}t*")
    );
}

/// Every object of the artifact, one at a time, with its first key given twice (the second
/// time with the value of the same key elsewhere when there is one, else the same value).
#[test]
fn a_key_given_twice_is_refused_in_every_object() {
    let good = String::from_utf8(compiled("coding-agent")).unwrap();
    let objects = object_starts(&good);
    assert!(objects.len() > 50, "{}", objects.len());
    for start in objects {
        let (member, end) = first_member(&good, start);
        if member.starts_with("\"digest\"") {
            continue;
        }
        // A one-member object is an enum's (`{"path":...}`): a second member is refused as
        // one too many, not as a repeat.
        let single = good.as_bytes()[end] == b'}';
        let text = format!("{}{member},{}", &good[..=start], &good[start + 1..]);
        let bytes = reseal(&text);
        let err = Artifact::from_slice(&bytes)
            .map(|_| ())
            .expect_err(&format!("a repeated {member} at byte {start} was accepted"));
        let message = err.to_string();
        assert!(
            matches!(err, Error::Malformed(_)) && (single || message.contains("duplicate")),
            "{member} at byte {start}: {message}"
        );
    }
}

/// Byte offsets of every `{` that opens an object with at least one member.
fn object_starts(text: &str) -> Vec<usize> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    for (i, b) in bytes.iter().enumerate() {
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (false, _, b'"') => in_string = true,
            (false, _, b'{') if bytes.get(i + 1) == Some(&b'"') => out.push(i),
            _ => {}
        }
    }
    out
}

/// The text of the first `"key":value` member of the object opening at `start`, and where
/// it ends.
fn first_member(text: &str, start: usize) -> (&str, usize) {
    let bytes = text.as_bytes();
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for i in start + 1..bytes.len() {
        let b = bytes[i];
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (false, _, b'"') => in_string = true,
            (false, _, b'{' | b'[') => depth += 1,
            (false, _, b'}' | b']') if depth > 0 => depth -= 1,
            (false, _, b',' | b'}') if depth == 0 => return (&text[start + 1..i], i),
            _ => {}
        }
    }
    panic!("unterminated object at {start}")
}

#[test]
fn a_second_ring_3_is_refused() {
    let good = String::from_utf8(compiled("agt-rings")).unwrap();
    let parsed = Artifact::from_slice(good.as_bytes()).unwrap();
    let ring1 = serde_json::to_string(&parsed.rings[&1]).unwrap();
    let content = &good[..good.rfind(",\"digest\"").unwrap()];
    let text = format!(
        "{},\"3\":{ring1}}},\"digest\":\"sha256:{}\"}}\n",
        content.strip_suffix('}').unwrap(),
        "0".repeat(64)
    );
    refused(&reseal(&text), "duplicate key 3");
}

fn ring3_rule(a: &mut Artifact, index: usize) -> &mut nonoc_runtime::artifact::PathRule {
    let plan = a.rings.get_mut(&3).unwrap().landlock.as_mut().unwrap();
    &mut plan.rules[index]
}

/// Ring 3's first allow rule.
fn allow3(a: &mut Artifact) -> &mut nonoc_runtime::artifact::PathRule {
    let plan = a.rings.get_mut(&3).unwrap().landlock.as_mut().unwrap();
    plan.rules
        .iter_mut()
        .find(|r| r.effect == Effect::Allow)
        .unwrap()
}

fn deny_index(a: &Artifact, ring: u8) -> usize {
    let plan = a.rings[&ring].landlock.as_ref().unwrap();
    plan.rules
        .iter()
        .position(|r| r.effect == Effect::Deny && matches!(r.target, Target::Glob(_)))
        .unwrap()
}

/// An edit of a parsed artifact.
type Edit = Box<dyn Fn(&mut Artifact)>;

#[test]
fn fields_the_compiler_never_writes_are_refused() {
    let good = compiled("coding-agent");
    Artifact::from_slice(&good).unwrap();
    let path = |p: &str| Target::Path(p.to_owned());
    let cases: Vec<(&str, Edit)> = vec![
        // Paths.
        (
            "has a `..` component",
            Box::new(move |a| allow3(a).target = path("/usr/../etc")),
        ),
        (
            "has a `.` component",
            Box::new(move |a| allow3(a).target = path("/usr/./x")),
        ),
        (
            "has an empty component",
            Box::new(move |a| allow3(a).target = path("/usr/")),
        ),
        (
            "is not absolute",
            Box::new(move |a| allow3(a).target = path("usr")),
        ),
        (
            "control character",
            Box::new(move |a| allow3(a).target = path("/usr\u{1b}")),
        ),
        (
            "undeclared variable `nope`",
            Box::new(move |a| allow3(a).target = path("${nope}/x")),
        ),
        (
            "must be followed by `/`",
            Box::new(move |a| allow3(a).target = path("${home}x")),
        ),
        (
            "may only stand at the start",
            Box::new(move |a| allow3(a).target = path("/x/${home}")),
        ),
        (
            "glob characters",
            Box::new(move |a| allow3(a).target = path("/usr/*")),
        ),
        (
            "longer than 4096",
            Box::new(move |a| allow3(a).target = path(&format!("/{}", "a".repeat(4096)))),
        ),
        // Rules.
        (
            "grants or denies no right",
            Box::new(|a| allow3(a).access = Rights(0)),
        ),
        (
            "an allow rule with a glob",
            Box::new(|a| {
                let i = deny_index(a, 3);
                let glob = ring3_rule(a, i).target.clone();
                allow3(a).target = glob;
            }),
        ),
        (
            "an allow rule with exceptions",
            Box::new(|a| allow3(a).except = vec![Target::Path("/usr/x".into())]),
        ),
        (
            "lies outside its deny",
            Box::new(|a| {
                let i = deny_index(a, 3);
                ring3_rule(a, i).except = vec![Target::Path("/elsewhere".into())];
            }),
        ),
        (
            "is not a file name pattern",
            Box::new(|a| {
                let i = deny_index(a, 3);
                if let Target::Glob(g) = &mut ring3_rule(a, i).target {
                    g.alternatives[0].push(Component::Literal("a/b".into()));
                }
            }),
        ),
        (
            "does not start the glob",
            Box::new(|a| {
                let i = deny_index(a, 3);
                if let Target::Glob(g) = &mut ring3_rule(a, i).target {
                    g.root = "/usr".into();
                }
            }),
        ),
        (
            "ports must be",
            Box::new(|a| {
                let plan = a.rings.get_mut(&2).unwrap().landlock.as_mut().unwrap();
                plan.network.as_mut().unwrap().connect_tcp = vec![443, 443];
            }),
        ),
        (
            "ports must be",
            Box::new(|a| {
                let plan = a.rings.get_mut(&2).unwrap().landlock.as_mut().unwrap();
                plan.network.as_mut().unwrap().connect_tcp = vec![0];
            }),
        ),
        (
            "each scope must appear once",
            Box::new(|a| {
                let plan = a.rings.get_mut(&2).unwrap().landlock.as_mut().unwrap();
                let first = plan.scopes[0];
                plan.scopes.push(first);
            }),
        ),
        // Ranges and references.
        (
            "min_score 1001",
            Box::new(|a| a.trust_tiers[0].min_score = 1001),
        ),
        (
            "ring 7 does not exist",
            Box::new(|a| a.trust_tiers[0].ring = 7),
        ),
        ("sorted by min_score", Box::new(|a| a.trust_tiers.reverse())),
        (
            "the lowest tier must start at 0",
            Box::new(|a| {
                let last = a.trust_tiers.len() - 1;
                a.trust_tiers[last].min_score = 1;
            }),
        ),
        (
            "not unique",
            Box::new(|a| a.trust_tiers[1].name = a.trust_tiers[0].name.clone()),
        ),
        (
            "settings.landlock.min_abi",
            Box::new(|a| a.settings.landlock.min_abi = 0),
        ),
        (
            "settings.landlock.min_abi",
            Box::new(|a| a.settings.landlock.min_abi = 99),
        ),
        (
            "policy.name",
            Box::new(|a| a.policy.name = "Coding Agent".into()),
        ),
        (
            "policy.source_sha256",
            Box::new(|a| a.policy.source_sha256 = "00".into()),
        ),
        (
            "compiler.version",
            Box::new(|a| a.compiler.version = String::new()),
        ),
        (
            "not a variable name",
            Box::new(|a| {
                let v = a.variables["home"].clone();
                a.variables.insert("1home".into(), v);
            }),
        ),
        (
            "not an environment variable name",
            Box::new(|a| {
                a.variables.get_mut("home").unwrap().env = Some("HO ME".into());
            }),
        ),
        (
            "has a `..` component",
            Box::new(|a| {
                a.variables.get_mut("home").unwrap().default = Some("/root/..".into());
            }),
        ),
        (
            "refers back to it",
            Box::new(|a| {
                a.variables.get_mut("home").unwrap().default = Some("${cache}/h".into());
            }),
        ),
        // Sections.
        (
            "an unconfined ring has sandbox sections",
            Box::new(|a| {
                let ring2 = a.rings[&2].clone();
                let ring = a.rings.get_mut(&1).unwrap();
                *ring = ring2;
                ring.unconfined = true;
            }),
        ),
        (
            "no seccomp filter for aarch64",
            Box::new(|a| {
                a.rings
                    .get_mut(&3)
                    .unwrap()
                    .seccomp
                    .remove(&SeccompArch::Aarch64);
            }),
        ),
        (
            "not for the same systems",
            Box::new(|a| a.rings.get_mut(&3).unwrap().seatbelt = None),
        ),
        (
            "the profile is empty or holds a NUL",
            Box::new(|a| {
                a.rings
                    .get_mut(&3)
                    .unwrap()
                    .seatbelt
                    .as_mut()
                    .unwrap()
                    .sbpl
                    .push('\0');
            }),
        ),
        (
            "is listed twice",
            Box::new(|a| {
                let profile = a.rings.get_mut(&3).unwrap().seatbelt.as_mut().unwrap();
                let first = profile.params[0].clone();
                profile.params.push(first);
            }),
        ),
        // seccomp programs, as the kernel's checker.
        (
            "past the end of the program",
            Box::new(|a| {
                program(a, |p| {
                    let last = p.len() - 1;
                    p[last - 1] = Instruction {
                        code: 0x05,
                        jt: 0,
                        jf: 0,
                        k: 1,
                    };
                })
            }),
        ),
        (
            "an opcode the kernel does not take",
            Box::new(|a| program(a, |p| p[0].code = 0x28)),
        ),
        (
            "not an aligned word inside the 64-byte seccomp_data",
            Box::new(|a| program(a, |p| p[0].k = 64)),
        ),
        (
            "no seccomp action",
            Box::new(|a| {
                program(a, |p| {
                    let last = p.len() - 1;
                    p[last].k = 0x1234_0000;
                })
            }),
        ),
        (
            "does not end with a return",
            Box::new(|a| {
                program(a, |p| {
                    let last = p.len() - 1;
                    p[last] = Instruction {
                        code: 0x20,
                        jt: 0,
                        jf: 0,
                        k: 0,
                    };
                })
            }),
        ),
        // Rule origins and the policy file's name (v1.1).
        (
            "its origin is not a line from 1",
            Box::new(|a| allow3(a).origin.as_mut().unwrap().line = 0),
        ),
        (
            "and a printable scope",
            Box::new(|a| allow3(a).origin.as_mut().unwrap().scope = "ring 3\n".to_owned()),
        ),
        (
            "and a printable scope",
            Box::new(|a| allow3(a).origin.as_mut().unwrap().scope = String::new()),
        ),
        (
            "of at most 256 bytes",
            Box::new(|a| allow3(a).origin.as_mut().unwrap().scope = "x".repeat(257)),
        ),
        (
            "policy.file: not a file name",
            Box::new(|a| a.policy.file = Some("/home/me/agent.yaml".to_owned())),
        ),
        (
            "policy.file: empty or holds a control character",
            Box::new(|a| a.policy.file = Some("agent\u{1b}.yaml".to_owned())),
        ),
        (
            "stats do not fit",
            Box::new(|a| {
                let f = a
                    .rings
                    .get_mut(&3)
                    .unwrap()
                    .seccomp
                    .get_mut(&SeccompArch::X86_64)
                    .unwrap();
                f.stats.worst_case = f.stats.length + 1;
            }),
        ),
    ];
    for (why, edit) in cases {
        refused(&edited(&good, |a| edit(a)), why);
    }
    // And the edit that changes nothing loads.
    Artifact::from_slice(&edited(&good, |a| {
        a.settings.unenforceable = Unenforceable::Error
    }))
    .unwrap();
    // Origins and the file name are optional: an artifact without them loads.
    let bare = Artifact::from_slice(&edited(&good, |a| {
        a.policy.file = None;
        allow3(a).origin = None;
    }))
    .unwrap();
    assert!(bare.policy.file.is_none());
    let parsed = Artifact::from_slice(&good).unwrap();
    assert_eq!(parsed.policy.file.as_deref(), Some("coding-agent.yaml"));
}

/// The fields escapes-era policies added: `rings.N.capabilities` and
/// `rings.N.landlock.unix_connect`, each with its rule, next to the same edit that loads.
#[test]
fn capabilities_and_unix_sockets_as_the_compiler_writes_them() {
    let good = compiled("agt-rings");
    // Ring 0 is unconfined: it keeps what it has, so it lists nothing to keep.
    assert!(Artifact::from_slice(&good).unwrap().rings[&0].unconfined);
    let keep = |level: u8| {
        move |a: &mut Artifact| {
            a.rings.get_mut(&level).unwrap().capabilities = vec![Capability::NetBindService];
        }
    };
    Artifact::from_slice(&edited(&good, keep(2))).unwrap();
    refused(
        &edited(&good, keep(0)),
        "ring 0: an unconfined ring lists capabilities to keep",
    );
    // Socket paths are path templates, each once.
    let sockets = |paths: &'static [&'static str]| {
        move |a: &mut Artifact| {
            let plan = a.rings.get_mut(&2).unwrap().landlock.as_mut().unwrap();
            plan.unix_connect = paths.iter().map(|p| (*p).to_owned()).collect();
        }
    };
    Artifact::from_slice(&edited(&good, sockets(&["/run/a.sock", "${workspace}/s"]))).unwrap();
    for (paths, why) in [
        (
            &["/run/a.sock", "/run/../etc/x"][..],
            "ring 2: landlock unix_connect 1: `/run/../etc/x` is not normalized: it has a `..` component",
        ),
        (&["run/a.sock"][..], "`run/a.sock` is not absolute"),
        (&["/run/*.sock"][..], "has glob characters"),
        (&["${nope}/s"][..], "names the undeclared variable `nope`"),
        (
            &["/run/a.sock", "/run/a.sock"][..],
            "landlock unix_connect 1: `/run/a.sock` is listed twice",
        ),
    ] {
        refused(&edited(&good, sockets(paths)), why);
    }
}

/// Edits ring 3's x86_64 program in place.
fn program(a: &mut Artifact, edit: impl FnOnce(&mut Vec<Instruction>)) {
    let filter = a
        .rings
        .get_mut(&3)
        .unwrap()
        .seccomp
        .get_mut(&SeccompArch::X86_64)
        .unwrap();
    let mut program = filter.instructions().unwrap();
    edit(&mut program);
    *filter = SeccompFilter::new(&program, filter.stats.clone());
}

/// Text-level edits a parsed copy cannot express.
#[test]
fn texts_the_compiler_never_writes_are_refused() {
    let good = String::from_utf8(compiled("coding-agent")).unwrap();
    let swap = |from: &str, to: &str| {
        assert!(good.contains(from), "{from}");
        reseal(&good.replacen(from, to, 1))
    };
    // Rights only in the canonical form.
    refused(
        &swap("[\"read\"]", "[\"read_file\",\"read_dir\"]"),
        "is not written as",
    );
    refused(
        &swap("[\"read\"]", "[\"read\",\"read\"]"),
        "is not written as",
    );
    // A setting left out.
    refused(&swap(",\"unenforceable\":\"warn\"", ""), "unenforceable");
    // `settings.isolation`: `required` and `off` as written, `best_effort` only by leaving
    // the field out (the compiler writes nothing for the default), no other value.
    let isolation = |value: &str| {
        swap(
            "\"unenforceable\":\"warn\"",
            &format!("\"unenforceable\":\"warn\",\"isolation\":{value}"),
        )
    };
    for value in ["\"required\"", "\"off\""] {
        let artifact = Artifact::from_slice(&isolation(value)).unwrap();
        assert_eq!(format!("\"{}\"", artifact.settings.isolation.name()), value);
    }
    refused(
        &isolation("\"best_effort\""),
        "`best_effort` is written by leaving the field out",
    );
    refused(&isolation("\"on\""), "unknown variant `on`");
    refused(&isolation("null"), "malformed");
    // A ring key written another way.
    refused(&swap("\"rings\":{\"1\"", "\"rings\":{\"01\""), "malformed");
}

#[test]
fn size_is_bounded() {
    let limit = nonoc_runtime::artifact::MAX_ARTIFACT_BYTES as usize;
    let big = vec![b' '; limit + 1];
    assert!(matches!(
        Artifact::from_slice(&big),
        Err(Error::TooLarge { limit: l }) if l as usize == limit
    ));
    let dir = std::env::temp_dir().join(format!("nonoc-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.json");
    std::fs::write(&path, &big).unwrap();
    let loaded = Artifact::load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(matches!(loaded, Err(Error::TooLarge { .. })));
    assert!(matches!(
        Artifact::load("/dev/zero"),
        Err(Error::TooLarge { .. })
    ));
}

/// Egress by host name on macOS: a ring with hosts carries the egress proxy's rule, with the
/// port's placeholder, exactly once and in its one form; a ring without hosts never.
#[test]
fn the_proxy_placeholder_is_checked() {
    use nonoc_runtime::artifact::PROXY_RULE;
    let path = format!(
        "{}/../tests/fixtures/valid/09-egress-hosts.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let yaml = std::fs::read(&path).unwrap();
    let analysis = nonoc::analyze(&path, &yaml);
    let ir = analysis.ir.unwrap();
    let good = nonoc::artifact::build(&ir, &analysis.lowered, &yaml, nonoc::backend::Targets::ALL)
        .unwrap()
        .1;
    let artifact = Artifact::from_slice(&good).unwrap();
    let sbpl = |a: &Artifact, ring: u8| a.rings[&ring].seatbelt.as_ref().unwrap().sbpl.clone();
    assert_eq!(sbpl(&artifact, 2).matches(PROXY_RULE).count(), 1);
    assert!(!sbpl(&artifact, 1).contains("NONOC_PROXY_PORT"));

    let edit_sbpl = |ring: u8, f: &dyn Fn(&str) -> String| {
        edited(&good, |a| {
            let profile = a.rings.get_mut(&ring).unwrap().seatbelt.as_mut().unwrap();
            profile.sbpl = f(&profile.sbpl);
        })
    };
    refused(
        &edit_sbpl(2, &|s| s.replace(PROXY_RULE, "")),
        "a ring with hosts has no rule for the egress proxy's port",
    );
    refused(
        &edit_sbpl(2, &|s| {
            s.replace(PROXY_RULE, &format!("{PROXY_RULE}\n{PROXY_RULE}"))
        }),
        "the egress proxy's rule is there more than once",
    );
    refused(
        &edit_sbpl(1, &|s| format!("{s}{PROXY_RULE}\n")),
        "a rule for the egress proxy's port in a ring without hosts",
    );
    for malformed in [
        PROXY_RULE.replace("localhost:", "*:"),
        PROXY_RULE.replace("tcp", "udp"),
        PROXY_RULE.replace("@NONOC_PROXY_PORT@", "@NONOC_PROXY_PORT"),
        format!("    {PROXY_RULE}"),
    ] {
        refused(
            &edit_sbpl(2, &|s| s.replace(PROXY_RULE, &malformed)),
            "holds the egress proxy's port placeholder in a form other than",
        );
    }
    // The hosts are gone but the rule stays: refused as well.
    refused(
        &edited(&good, |a| a.rings.get_mut(&2).unwrap().egress = None),
        "a rule for the egress proxy's port in a ring without hosts",
    );
}
