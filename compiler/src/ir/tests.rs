//! Edge cases of `decide`, each on a small policy that runs through the whole front end.
//! The random, property-based tests are in `tests/tests/decide.rs`.

use nonoc_runtime::Bindings;

use super::presets::{AF_INET, AF_INET6, AF_NETLINK, AF_UNIX, CLONE_THREAD, ENOSYS};
use super::{
    BoundVariables, Decision, Ir, PathTemplate, Platform, Request, Right, SyscallAction, Verdict,
    bind, decide,
};
use crate::syntax::SignalScope;

const AF_PACKET: u64 = 17;
const SOCK_STREAM: u64 = 1;
const SOCK_DGRAM: u64 = 2;
const SOCK_RAW: u64 = 3;
const SOCK_NONBLOCK: u64 = 0x800;
const SOCK_CLOEXEC: u64 = 0x8_0000;
const IPPROTO_TCP: u64 = 6;
const IPPROTO_SCTP: u64 = 132;
const SIGCHLD: u64 = 17;
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_NEWUSER: u64 = 0x1000_0000;
const CLONE_NEWNET: u64 = 0x4000_0000;
const EPERM: u16 = 1;
const EACCES: u16 = 13;

struct Policy {
    ir: Ir,
    bindings: BoundVariables,
}

/// Compiles a policy body (everything after `metadata`), binding variables to defaults.
fn policy(body: &str) -> Policy {
    let yaml =
        format!("apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: t }}\n{body}");
    let analysis = crate::analyze("t.yaml", yaml.as_bytes());
    let errors: Vec<String> = analysis
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    assert!(errors.is_empty(), "{yaml}\n{errors:#?}");
    let ir = analysis.ir.expect("no errors, so an IR");
    let bindings = bind(&ir, &Bindings::new(), &|_| None).expect("every variable has a default");
    Policy { ir, bindings }
}

impl Policy {
    fn decide(&self, ring: u8, request: &Request) -> Decision {
        decide(&self.ir.rings[&ring], request, &self.bindings)
    }

    fn on(&self, ring: u8, platform: Platform, access: Right, path: &str) -> Verdict {
        let request = Request::Path {
            path: PathTemplate::parse(path).expect("a valid request path"),
            access,
            platform: Some(platform),
        };
        self.decide(ring, &request).verdict
    }

    fn path(&self, ring: u8, access: Right, path: &str) -> Verdict {
        self.on(ring, Platform::Linux, access, path)
    }

    fn syscall(&self, ring: u8, name: &str, args: &[u64]) -> Decision {
        let request = Request::Syscall {
            name: name.to_owned(),
            args: args.to_vec(),
        };
        let decision = self.decide(ring, &request);
        assert!(
            decision.action.is_some(),
            "a syscall decision names the kernel's action"
        );
        decision
    }

    fn sys(&self, ring: u8, name: &str, args: &[u64]) -> Verdict {
        self.syscall(ring, name, args).verdict
    }

    fn action(&self, ring: u8, name: &str, args: &[u64]) -> SyscallAction {
        self.syscall(ring, name, args)
            .action
            .expect("checked in `syscall`")
    }
}

use Right::{Execute, ReadDir, ReadFile, RemoveDir, WriteFile};
use Verdict::{Allow, Deny};

#[test]
fn a_rule_on_the_root_covers_every_path() {
    let p = policy(
        r#"
deny:
  - { path: /, access: [write_file] }
rings:
  1:
    filesystem: { read: [/], write: [/] }
"#,
    );
    for path in ["/", "/a", "/a/b/c", "/.env"] {
        assert_eq!(p.path(1, ReadFile, path), Allow, "{path}");
        assert_eq!(p.path(1, ReadDir, path), Allow, "{path}");
        assert_eq!(p.path(1, WriteFile, path), Deny, "{path}");
        assert_eq!(p.path(1, RemoveDir, path), Allow, "{path}");
        assert_eq!(p.path(1, Execute, path), Deny, "{path}: not granted");
    }
}

#[test]
fn a_deny_glob_on_the_root_covers_every_path() {
    let p = policy(
        r#"
rings:
  1:
    filesystem: { read: [/] }
    deny:
      - { glob: "/**", access: [read_dir] }
"#,
    );
    for path in ["/", "/a", "/a/b"] {
        assert_eq!(p.path(1, ReadDir, path), Deny, "{path}");
        assert_eq!(p.path(1, ReadFile, path), Allow, "{path}");
    }
}

#[test]
fn a_variable_bound_to_the_root() {
    let p = policy(
        r#"
variables:
  r: { default: / }
deny:
  - { glob: "${r}/**/.env", access: [read] }
  - { path: "${r}/secret" }
rings:
  1:
    filesystem: { read: ["${r}"], write: ["${r}/x"] }
"#,
    );
    // `${r}` is `/`: it covers everything; `${r}/x` is `/x`, not `//x`.
    assert_eq!(p.path(1, ReadFile, "/"), Allow);
    assert_eq!(p.path(1, ReadFile, "/a/b"), Allow);
    assert_eq!(p.path(1, WriteFile, "/x"), Allow);
    assert_eq!(p.path(1, WriteFile, "/x/y"), Allow);
    assert_eq!(p.path(1, WriteFile, "/xy"), Deny);
    assert_eq!(p.path(1, WriteFile, "/a/x"), Deny);
    // Requests may use the variable too.
    assert_eq!(p.path(1, WriteFile, "${r}/x/y"), Allow);
    assert_eq!(p.path(1, WriteFile, "${r}"), Deny);
    // The deny glob `${r}/**/.env` is `/**/.env`.
    assert_eq!(p.path(1, ReadFile, "/.env"), Deny);
    assert_eq!(p.path(1, ReadFile, "/a/b/.env"), Deny);
    assert_eq!(p.path(1, ReadFile, "/a/b/.env/inside"), Deny);
    assert_eq!(p.path(1, ReadFile, "/a/b/.envx"), Allow);
    assert_eq!(p.path(1, ReadFile, "/secret/k"), Deny);
    assert_eq!(p.path(1, ReadFile, "/secrets"), Allow);
}

#[test]
fn except_hands_a_path_back_to_the_allow_rules() {
    let p = policy(
        r#"
deny:
  - path: /data
    except: [/data/public, "/data/**/*.example"]
rings:
  1:
    filesystem: { read: [/data] }
  2:
    filesystem: { read: [/data/public/docs] }
  3:
    filesystem: { read: [/data] }
    deny:
      - { path: /data/public/private }
"#,
    );
    assert_eq!(p.path(1, ReadFile, "/data/x"), Deny);
    assert_eq!(p.path(1, ReadFile, "/data"), Deny);
    assert_eq!(p.path(1, ReadFile, "/data/public"), Allow);
    assert_eq!(p.path(1, ReadFile, "/data/public/a/b"), Allow);
    assert_eq!(p.path(1, ReadFile, "/data/publicity"), Deny);
    assert_eq!(p.path(1, ReadFile, "/data/a/b/c.example"), Allow);
    assert_eq!(p.path(1, ReadFile, "/data/a/b/c.example.bak"), Deny);
    // The exception re-allows nothing by itself: ring 2's allows decide.
    assert_eq!(p.path(1, WriteFile, "/data/public/a"), Deny);
    assert_eq!(p.path(2, ReadFile, "/data/public/a"), Deny);
    assert_eq!(p.path(2, ReadFile, "/data/public/docs/a"), Allow);
    // Another deny that covers the excepted path still wins.
    assert_eq!(p.path(3, ReadFile, "/data/public/private/k"), Deny);
    assert_eq!(p.path(3, ReadFile, "/data/public/k"), Allow);
}

#[test]
fn except_of_a_glob_deny() {
    let p = policy(
        r#"
variables:
  ws: { default: /w }
deny:
  - glob: "${ws}/**/.env*"
    access: [read]
    except: ["${ws}/**/.env.example", "${ws}/keep/.env"]
rings:
  1:
    filesystem: { read: ["${ws}"] }
"#,
    );
    assert_eq!(p.path(1, ReadFile, "/w/.env"), Deny);
    assert_eq!(p.path(1, ReadFile, "/w/a/.env.local"), Deny);
    assert_eq!(p.path(1, ReadFile, "/w/a/.env.example"), Allow);
    assert_eq!(p.path(1, ReadFile, "/w/keep/.env"), Allow);
    assert_eq!(p.path(1, ReadFile, "/w/keep/.env.local"), Deny);
    assert_eq!(p.path(1, ReadFile, "/w/a/env"), Allow);
}

#[test]
fn platform_rules_apply_on_their_platform_only() {
    let p = policy(
        r#"
deny:
  - { path: /opt/homebrew/secret, platform: macos }
  - { path: /usr/share, platform: linux, access: [read_file] }
rings:
  1:
    filesystem:
      read: [/usr]
      rules:
        - { path: /opt/homebrew, access: [read, execute], platform: macos }
        - { path: /snap, access: [read], platform: linux }
"#,
    );
    use Platform::{Linux, Macos};
    assert_eq!(p.on(1, Macos, ReadFile, "/opt/homebrew/bin/git"), Allow);
    assert_eq!(p.on(1, Macos, Execute, "/opt/homebrew/bin/git"), Allow);
    assert_eq!(p.on(1, Linux, ReadFile, "/opt/homebrew/bin/git"), Deny);
    assert_eq!(p.on(1, Linux, Execute, "/opt/homebrew/bin/git"), Deny);
    assert_eq!(p.on(1, Macos, ReadFile, "/opt/homebrew/secret/k"), Deny);
    assert_eq!(p.on(1, Linux, ReadFile, "/snap/core"), Allow);
    assert_eq!(p.on(1, Macos, ReadFile, "/snap/core"), Deny);
    assert_eq!(p.on(1, Linux, ReadFile, "/usr/share/doc"), Deny);
    assert_eq!(p.on(1, Linux, ReadDir, "/usr/share/doc"), Allow);
    assert_eq!(p.on(1, Macos, ReadFile, "/usr/share/doc"), Allow);
}

#[test]
fn a_variable_value_is_literal_in_a_deny_glob() {
    let p = policy(
        r#"
variables:
  b: { default: '/w\x' }
  s: { default: '/s[1]*' }
deny:
  - glob: "${b}/**"
  - glob: "${s}/*.key"
rings:
  1:
    filesystem: { read: [/] }
"#,
    );
    // Before the fix, globset read `\x` as an escaped `x`: `/w\x/secret` was allowed.
    assert_eq!(p.path(1, ReadFile, r"/w\x/secret"), Deny);
    assert_eq!(p.path(1, ReadFile, "/wx/secret"), Allow);
    assert_eq!(p.path(1, ReadFile, "/s[1]*/a.key"), Deny);
    assert_eq!(p.path(1, ReadFile, "/s1/a.key"), Allow);
    assert_eq!(p.path(1, ReadFile, "/s[1]xyz/a.key"), Allow);
}

#[test]
fn network_blocked_implies_socket_rules() {
    let p = policy(
        "rings:\n  1:\n    network: { mode: blocked, unix_connect: [/run/x.sock] }\n  2:\n    network: { mode: blocked }\n",
    );
    // Without a `unix_connect` grant, no unix socket (v1.1); `socketpair` stays.
    assert_eq!(p.sys(2, "socket", &[AF_UNIX, SOCK_STREAM, 0]), Deny);
    assert_eq!(
        p.sys(2, "socket", &[(1 << 32) | AF_UNIX, SOCK_STREAM]),
        Deny
    );
    assert_eq!(p.sys(2, "socketpair", &[AF_UNIX, SOCK_STREAM, 0]), Allow);
    assert_eq!(p.sys(2, "socket", &[AF_NETLINK, SOCK_RAW, 0]), Allow);
    assert_eq!(p.sys(1, "socket", &[AF_INET, SOCK_STREAM, 0]), Deny);
    assert_eq!(p.sys(1, "socket", &[AF_INET6, SOCK_DGRAM, 0]), Deny);
    assert_eq!(p.sys(1, "socket", &[AF_PACKET, SOCK_RAW, 0]), Deny);
    assert_eq!(p.sys(1, "socket", &[AF_UNIX, SOCK_STREAM, 0]), Allow);
    assert_eq!(p.sys(1, "socket", &[AF_NETLINK, SOCK_RAW, 0]), Allow);
    // `int` arguments: the kernel reads the low 32 bits only.
    assert_eq!(
        p.sys(1, "socket", &[(1 << 32) | AF_UNIX, SOCK_STREAM]),
        Allow
    );
    assert_eq!(
        p.sys(1, "socket", &[(1 << 32) | AF_INET, SOCK_STREAM]),
        Deny
    );
    assert_eq!(p.decide(1, &Request::Udp).verdict, Deny);
    assert_eq!(
        p.decide(1, &Request::ConnectTcp { port: 443 }).verdict,
        Deny
    );
    assert_eq!(
        p.action(1, "socket", &[AF_INET]),
        SyscallAction::Errno(EPERM)
    );
}

#[test]
fn network_restricted_implies_socket_rules() {
    let p = policy(
        r#"
rings:
  1:
    network: { mode: restricted, connect_tcp: [443], unix_connect: [/run] }
  2:
    network: { mode: restricted, udp: true, unix_connect: [/run] }
"#,
    );
    for family in [AF_INET, AF_INET6] {
        assert_eq!(p.sys(1, "socket", &[family, SOCK_DGRAM, 0]), Deny);
        assert_eq!(p.sys(1, "socket", &[family, SOCK_RAW, 0]), Deny);
        assert_eq!(p.sys(1, "socket", &[family, SOCK_STREAM, 0]), Allow);
        assert_eq!(
            p.sys(1, "socket", &[family, SOCK_STREAM | SOCK_NONBLOCK, 0]),
            Allow
        );
        assert_eq!(
            p.sys(
                1,
                "socket",
                &[family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP]
            ),
            Allow
        );
        assert_eq!(
            p.sys(1, "socket", &[family, SOCK_STREAM, IPPROTO_SCTP]),
            Deny
        );
        assert_eq!(
            p.sys(1, "socket", &[family, SOCK_DGRAM | SOCK_NONBLOCK, 0]),
            Deny
        );
        assert_eq!(p.sys(2, "socket", &[family, SOCK_DGRAM, 0]), Allow);
    }
    for ring in [1, 2] {
        assert_eq!(p.sys(ring, "socket", &[AF_PACKET, SOCK_RAW, 0]), Deny);
        assert_eq!(p.sys(ring, "socket", &[AF_UNIX, SOCK_DGRAM, 0]), Allow);
    }
    assert_eq!(p.decide(1, &Request::Udp).verdict, Deny);
    assert_eq!(p.decide(2, &Request::Udp).verdict, Allow);
    assert_eq!(
        p.decide(1, &Request::ConnectTcp { port: 443 }).verdict,
        Allow
    );
    assert_eq!(p.decide(1, &Request::ConnectTcp { port: 80 }).verdict, Deny);
    assert_eq!(p.decide(1, &Request::BindTcp { port: 443 }).verdict, Deny);
}

#[test]
fn fork_false_implies_clone_rules() {
    let p = policy(
        r#"
rings:
  1:
    process: { fork: false }
  2:
    process: { fork: true }
"#,
    );
    let thread = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
    assert_eq!(p.sys(1, "clone", &[SIGCHLD]), Deny);
    assert_eq!(p.sys(1, "clone", &[CLONE_VM | SIGCHLD]), Deny);
    assert_eq!(p.sys(1, "clone", &[thread]), Allow);
    assert_eq!(p.sys(1, "fork", &[]), Deny);
    assert_eq!(p.sys(1, "vfork", &[]), Deny);
    assert_eq!(
        p.action(1, "clone3", &[]),
        SyscallAction::Errno(ENOSYS),
        "clone3 gets ENOSYS so libc falls back to clone"
    );
    assert_eq!(p.decide(1, &Request::Fork).verdict, Deny);
    assert_eq!(p.sys(2, "clone", &[SIGCHLD]), Allow);
    assert_eq!(p.sys(2, "clone3", &[]), Allow);
    assert_eq!(p.decide(2, &Request::Fork).verdict, Allow);
}

#[test]
fn clone3_keeps_enosys_under_default_deny() {
    let p = policy(
        r#"
rings:
  1:
    syscalls: { default: deny, allow: [clone, read] }
"#,
    );
    assert_eq!(p.action(1, "clone3", &[]), SyscallAction::Errno(ENOSYS));
    assert_eq!(p.action(1, "getpid", &[]), SyscallAction::Errno(EPERM));
    assert_eq!(p.action(1, "read", &[]), SyscallAction::Allow);
    assert_eq!(
        p.action(1, "clone", &[thread_flags()]),
        SyscallAction::Allow
    );
    assert_eq!(p.sys(1, "clone", &[SIGCHLD]), Deny);
}

fn thread_flags() -> u64 {
    CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD
}

#[test]
fn ptrace_false_implies_process_vm_rules() {
    let p = policy(
        r#"
rings:
  1:
    process: { ptrace: false }
  2:
    process: { ptrace: true }
"#,
    );
    for name in ["ptrace", "process_vm_readv", "process_vm_writev"] {
        assert_eq!(p.sys(1, name, &[1]), Deny, "{name}");
        assert_eq!(p.sys(2, name, &[1]), Allow, "{name}");
    }
    assert_eq!(p.decide(1, &Request::Ptrace).verdict, Deny);
    assert_eq!(p.decide(2, &Request::Ptrace).verdict, Allow);
}

#[test]
fn io_uring_is_denied_in_every_confined_ring() {
    let p = policy(
        r#"
rings:
  0:
    unconfined: true
  1:
    network: { mode: allowed }
    process: { fork: true, ptrace: true, signals: any }
    filesystem: { read: [/], write: [/], execute: [/] }
"#,
    );
    for name in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
        assert_eq!(p.sys(1, name, &[]), Deny, "{name}");
        assert_eq!(p.action(0, name, &[]), SyscallAction::Allow, "{name}");
    }
}

#[test]
fn the_hardening_preset() {
    let p = policy(
        "rings:\n  1:\n    process: { fork: true }\n    syscalls: { presets: [hardening] }\n",
    );
    assert_eq!(p.sys(1, "unshare", &[CLONE_NEWUSER]), Deny);
    assert_eq!(p.sys(1, "unshare", &[CLONE_NEWNET | CLONE_FILES]), Deny);
    assert_eq!(p.sys(1, "unshare", &[0]), Allow);
    assert_eq!(p.sys(1, "unshare", &[CLONE_FILES]), Allow);
    assert_eq!(p.sys(1, "clone", &[CLONE_NEWUSER | SIGCHLD]), Deny);
    assert_eq!(p.sys(1, "clone", &[SIGCHLD]), Allow);
    assert_eq!(p.action(1, "clone3", &[]), SyscallAction::Errno(ENOSYS));
    for name in ["setns", "mount", "bpf", "kexec_load", "init_module"] {
        assert_eq!(p.sys(1, name, &[]), Deny, "{name}");
    }
    assert_eq!(p.sys(1, "getpid", &[]), Allow);
}

#[test]
fn int_arguments_compare_the_low_32_bits() {
    let p = policy(
        r#"
rings:
  1:
    network: { mode: allowed }
    process: { fork: true }
    syscalls:
      deny:
        - { name: socket, args: [{ index: 0, op: eq, value: AF_PACKET }] }
        - { name: kill, args: [{ index: 1, op: eq, value: -1 }] }
        - { name: unshare, args: [{ index: 0, op: eq, value: 0x10000000 }] }
"#,
    );
    assert_eq!(p.sys(1, "socket", &[AF_PACKET]), Deny);
    assert_eq!(p.sys(1, "socket", &[0x1_0000_0011]), Deny);
    assert_eq!(p.sys(1, "socket", &[0xffff_ffff_0000_0011]), Deny);
    assert_eq!(p.sys(1, "socket", &[AF_INET]), Allow);
    // -1 in an `int` rule is 0xffffffff; a caller passing -1 as a 64-bit value is caught.
    assert_eq!(p.sys(1, "kill", &[1, u64::MAX]), Deny);
    assert_eq!(p.sys(1, "kill", &[1, 0xffff_ffff]), Deny);
    assert_eq!(p.sys(1, "kill", &[1, 9]), Allow);
    // `unshare` takes an `unsigned long`: all 64 bits are compared.
    assert_eq!(p.sys(1, "unshare", &[CLONE_NEWUSER]), Deny);
    assert_eq!(p.sys(1, "unshare", &[(1 << 32) | CLONE_NEWUSER]), Allow);
}

#[test]
fn the_strictest_action_wins() {
    let p = policy(
        r#"
rings:
  1:
    network: { mode: allowed }
    process: { fork: true, ptrace: true }
    syscalls:
      deny_action: errno
      errno: EACCES
      deny:
        - { name: kill, action: log }
        - { name: kill, args: [{ index: 1, op: eq, value: 9 }] }
        - { name: kill, args: [{ index: 1, op: eq, value: 9 }, { index: 0, op: eq, value: 1 }], action: kill_process }
        - { name: ptrace, action: trap }
        - { name: ptrace, action: log }
        - { name: getpid, action: log }
"#,
    );
    assert_eq!(p.action(1, "kill", &[2, 15]), SyscallAction::Log);
    assert_eq!(p.action(1, "kill", &[2, 9]), SyscallAction::Errno(EACCES));
    assert_eq!(p.action(1, "kill", &[1, 9]), SyscallAction::KillProcess);
    assert_eq!(p.action(1, "ptrace", &[]), SyscallAction::Trap);
    // `log` lets the call run: the verdict is allow, the action says it is logged.
    assert_eq!(p.sys(1, "getpid", &[]), Allow);
    assert_eq!(p.action(1, "getpid", &[]), SyscallAction::Log);
    assert_eq!(p.sys(1, "kill", &[2, 15]), Allow);
    assert_eq!(p.sys(1, "kill", &[2, 9]), Deny);
}

#[test]
fn default_deny_and_the_allow_list() {
    let p = policy(
        r#"
rings:
  1:
    network: { mode: allowed }
    process: { fork: true, ptrace: true }
    syscalls:
      default: deny
      deny_action: kill_process
      allow: [read, write, getpid, kill]
      deny:
        - write
        - { name: getpid, action: log }
        - { name: kill, action: errno, errno: EACCES }
        - { name: personality, action: log }
"#,
    );
    assert_eq!(p.action(1, "read", &[]), SyscallAction::Allow);
    // Deny wins over allow.
    assert_eq!(p.action(1, "write", &[]), SyscallAction::KillProcess);
    assert_eq!(p.action(1, "kill", &[]), SyscallAction::Errno(EACCES));
    // A `log` rule on an allowed call logs it.
    assert_eq!(p.action(1, "getpid", &[]), SyscallAction::Log);
    assert_eq!(p.sys(1, "getpid", &[]), Allow);
    // Not listed: the deny action. A `log` rule does not turn that into an allow.
    assert_eq!(p.action(1, "openat", &[]), SyscallAction::KillProcess);
    assert_eq!(p.action(1, "personality", &[]), SyscallAction::KillProcess);
    assert_eq!(p.sys(1, "personality", &[]), Deny);
}

#[test]
fn an_unconfined_ring_allows_everything() {
    let p = policy(
        r#"
deny:
  - { path: /secret }
rings:
  0:
    unconfined: true
  1:
    filesystem: { read: [/] }
"#,
    );
    assert_eq!(p.path(0, ReadFile, "/secret/k"), Allow);
    assert_eq!(p.path(1, ReadFile, "/secret/k"), Deny);
    for request in [
        Request::Udp,
        Request::Fork,
        Request::Ptrace,
        Request::ConnectTcp { port: 1 },
        Request::BindTcp { port: 22 },
        Request::Signal {
            scope: SignalScope::Any,
        },
    ] {
        assert_eq!(p.decide(0, &request).verdict, Allow, "{request:?}");
        assert_eq!(p.decide(1, &request).verdict, Deny, "{request:?}");
    }
    assert_eq!(p.action(0, "ptrace", &[]), SyscallAction::Allow);
}

#[test]
fn an_unbound_variable_fails_closed() {
    let p = policy(
        r#"
variables:
  ws: { default: /w }
rings:
  1:
    filesystem: { read: [/, "${ws}"] }
  2:
    filesystem: { read: [/] }
"#,
    );
    let empty = BoundVariables::default();
    let request = |path: &str| Request::Path {
        path: PathTemplate::parse(path).expect("valid"),
        access: ReadFile,
        platform: Some(Platform::Linux),
    };
    // Ring 1 uses `ws`: nothing is allowed, not even what `/` grants.
    assert_eq!(
        decide(&p.ir.rings[&1], &request("/usr"), &empty).verdict,
        Deny
    );
    // Ring 2 does not: only a request naming the variable fails.
    assert_eq!(
        decide(&p.ir.rings[&2], &request("/usr"), &empty).verdict,
        Allow
    );
    assert_eq!(
        decide(&p.ir.rings[&2], &request("${ws}/x"), &empty).verdict,
        Deny
    );
    assert_eq!(p.path(2, ReadFile, "${ws}/x"), Allow);
}

#[test]
fn signal_scopes_are_ordered() {
    let p = policy(
        r#"
rings:
  1:
    process: { signals: self }
  2:
    process: { signals: sandbox }
  3:
    process: { signals: any }
  4: {}
"#,
    );
    let signal = |scope| Request::Signal { scope };
    use SignalScope::{Any, Own, Sandbox};
    let expect = [
        (1, [Allow, Deny, Deny]),
        (2, [Allow, Allow, Deny]),
        (3, [Allow, Allow, Allow]),
        (4, [Allow, Deny, Deny]),
    ];
    for (ring, verdicts) in expect {
        for (scope, verdict) in [Own, Sandbox, Any].into_iter().zip(verdicts) {
            assert_eq!(
                p.decide(ring, &signal(scope)).verdict,
                verdict,
                "ring {ring}, {scope:?}"
            );
        }
    }
}

#[test]
fn extends_merges_sections() {
    let p = policy(
        r#"
rings:
  3:
    filesystem: { read: [/usr] }
    network: { mode: restricted, connect_tcp: [443] }
    process: { signals: sandbox }
    syscalls: { deny: [personality], errno: EACCES }
  2:
    extends: 3
    filesystem: { write: [/tmp] }
    network: { connect_tcp: [80] }
    deny:
      - { path: /usr/secret }
"#,
    );
    assert_eq!(p.path(2, ReadFile, "/usr/bin"), Allow);
    assert_eq!(p.path(2, WriteFile, "/tmp/x"), Allow);
    assert_eq!(p.path(2, ReadFile, "/usr/secret/x"), Deny);
    assert_eq!(p.path(3, ReadFile, "/usr/secret/x"), Allow);
    for port in [80, 443] {
        assert_eq!(p.decide(2, &Request::ConnectTcp { port }).verdict, Allow);
    }
    assert_eq!(p.decide(3, &Request::ConnectTcp { port: 80 }).verdict, Deny);
    assert_eq!(
        p.decide(
            2,
            &Request::Signal {
                scope: SignalScope::Sandbox
            }
        )
        .verdict,
        Allow
    );
    assert_eq!(
        p.action(2, "personality", &[]),
        SyscallAction::Errno(EACCES)
    );
}

#[test]
fn deny_action_log_does_not_weaken_what_network_and_process_say() {
    let p = policy(
        r#"
rings:
  1:
    network: { mode: blocked }
    process: { fork: false, ptrace: false }
    syscalls:
      deny_action: log
      errno: EACCES
      deny: [personality]
      presets: [hardening]
"#,
    );
    // Audit mode for the ring's own rules and its presets...
    assert_eq!(p.action(1, "personality", &[]), SyscallAction::Log);
    assert_eq!(p.action(1, "mount", &[]), SyscallAction::Log);
    // ...but `fork: false`, `ptrace: false` and `mode: blocked` still block, as `decide`
    // answers for `fork`, `ptrace` and `udp`.
    assert_eq!(p.decide(1, &Request::Fork).verdict, Deny);
    for (name, args) in [
        ("fork", &[][..]),
        ("clone", &[SIGCHLD]),
        ("ptrace", &[]),
        ("process_vm_readv", &[]),
        ("socket", &[AF_INET, SOCK_DGRAM]),
        ("io_uring_setup", &[]),
    ] {
        assert_eq!(
            p.action(1, name, args),
            SyscallAction::Errno(EACCES),
            "{name}"
        );
    }
    assert_eq!(p.action(1, "clone3", &[]), SyscallAction::Errno(ENOSYS));
    // x32 numbers would pass every rule through the x32 ABI: blocked with the errno too.
    assert_eq!(
        p.ir.rings[&1].syscalls.x32_action,
        SyscallAction::Errno(EACCES)
    );
}

const TIOCSTI: u64 = 0x5412;
const TIOCLINUX: u64 = 0x541C;
const TCGETS: u64 = 0x5401;
const PRIO_PGRP: u64 = 1;
const IOPRIO_WHO_PGRP: u64 = 2;

/// No confined ring may push input into a terminal, whatever its settings, and high bits
/// above the `unsigned int` request do not get a request past the rule.
#[test]
fn every_confined_ring_denies_terminal_injection() {
    let p = policy(
        "rings:\n  0: { unconfined: true }\n  1:\n    network: { mode: allowed }\n    process: { fork: true, signals: any, ptrace: true }\n  3: {}\n",
    );
    for ring in [1, 3] {
        for request in [
            TIOCSTI,
            TIOCLINUX,
            TIOCSTI | 1 << 32,
            TIOCLINUX | 0xffff_0000 << 32,
        ] {
            assert_eq!(p.sys(ring, "ioctl", &[0, request, 0]), Deny, "{request:#x}");
        }
        assert_eq!(p.sys(ring, "ioctl", &[0, TCGETS, 0]), Allow);
        assert_eq!(p.sys(ring, "ioctl", &[0, TIOCSTI + 1, 0]), Allow);
    }
    assert_eq!(p.sys(0, "ioctl", &[0, TIOCSTI, 0]), Allow);
}

/// `signals: self|sandbox`: limits, priority, scheduling, I/O priority and memory placement
/// only of the calling process (pid 0, and `who` 0 of the per-process `which`).
#[test]
fn signals_self_keeps_the_process_off_other_processes() {
    let p = policy(
        "rings:\n  1:\n    process: { signals: any }\n  2:\n    process: { signals: sandbox, fork: true }\n  3: {}\n",
    );
    let other = 4242;
    for ring in [2, 3] {
        for name in [
            "prlimit64",
            "sched_setaffinity",
            "sched_setparam",
            "sched_setscheduler",
            "sched_setattr",
            "migrate_pages",
            "move_pages",
        ] {
            assert_eq!(p.sys(ring, name, &[0, 1, 0]), Allow, "{name}(0)");
            assert_eq!(p.sys(ring, name, &[other, 1, 0]), Deny, "{name}(pid)");
            // A pid is an `int`: high bits over 0 are still pid 0.
            assert_eq!(p.sys(ring, name, &[1 << 32, 1, 0]), Allow, "{name}");
        }
        assert_eq!(p.sys(ring, "setpriority", &[0, 0, 10]), Allow);
        assert_eq!(p.sys(ring, "setpriority", &[0, other, 10]), Deny);
        assert_eq!(p.sys(ring, "setpriority", &[PRIO_PGRP, 0, 10]), Deny);
        assert_eq!(p.sys(ring, "ioprio_set", &[1, 0, 4]), Allow);
        assert_eq!(p.sys(ring, "ioprio_set", &[1, other, 4]), Deny);
        assert_eq!(p.sys(ring, "ioprio_set", &[IOPRIO_WHO_PGRP, 0, 4]), Deny);
        assert_eq!(p.sys(ring, "process_madvise", &[3, 0, 1, 20, 0]), Deny);
        assert_eq!(p.sys(ring, "process_mrelease", &[3, 0]), Deny);
        // Reading stays allowed.
        assert_eq!(p.sys(ring, "getpriority", &[0, other]), Allow);
    }
    for name in [
        "prlimit64",
        "setpriority",
        "sched_setaffinity",
        "ioprio_set",
    ] {
        assert_eq!(
            p.sys(1, name, &[1, other, 0]),
            Allow,
            "{name} with signals: any"
        );
    }
}

/// `listen()`: seccomp sees no family, so a ring that may create TCP sockets but bind no port
/// loses it on every socket; a blocked ring creates no TCP socket and keeps it for unix ones.
#[test]
fn listen_follows_bind_tcp() {
    let p = policy(
        r#"
rings:
  1:
    network: { mode: allowed, unix_connect: [/run/app] }
  2:
    network: { mode: restricted, connect_tcp: [443], bind_tcp: [8080], unix_connect: [/run/app] }
  3:
    network: { mode: restricted, connect_tcp: [443], unix_connect: [/run/app] }
  4:
    network: { mode: blocked, unix_connect: [/run/app] }
  5:
    network: { mode: blocked }
"#,
    );
    let listen = |ring, family| p.decide(ring, &Request::Listen { family }).verdict;
    use crate::syntax::ListenFamily::{Tcp, Unix};
    let expected = [
        (1, Allow, Allow),
        (2, Allow, Allow),
        (3, Deny, Deny),
        (4, Deny, Allow),
        (5, Deny, Deny),
    ];
    for (ring, tcp, unix) in expected {
        assert_eq!(listen(ring, Tcp), tcp, "ring {ring} tcp");
        assert_eq!(listen(ring, Unix), unix, "ring {ring} unix");
    }
    // What the filter does: `listen` is denied outright only in ring 3.
    assert_eq!(p.sys(3, "listen", &[3, 1]), Deny);
    for ring in [1, 2, 4, 5] {
        assert_eq!(p.sys(ring, "listen", &[3, 1]), Allow, "ring {ring}");
    }
    assert_eq!(p.sys(5, "socket", &[AF_UNIX, SOCK_STREAM, 0]), Deny);
    assert_eq!(p.sys(4, "socket", &[AF_UNIX, SOCK_STREAM, 0]), Allow);
}

/// `unix_connect`: a grant on the socket or a directory above it; a deny of every right on
/// the path wins; no grant, no unix socket at all.
#[test]
fn unix_connect_grants_and_denies() {
    let p = policy(
        r#"
variables:
  run: { default: /run/user/1000 }
deny:
  - path: /run/docker.sock
  - path: /run/app/private
    access: [read]
rings:
  1:
    network: { mode: allowed }
  2:
    network: { unix_connect: ["${run}/bus", /run] }
"#,
    );
    let connect = |ring, path: &str| {
        p.decide(
            ring,
            &Request::UnixConnect {
                path: PathTemplate::parse(path).unwrap(),
                platform: Some(Platform::Linux),
            },
        )
        .verdict
    };
    assert_eq!(
        connect(1, "/run/app.sock"),
        Deny,
        "allowed mode grants no socket"
    );
    assert_eq!(connect(2, "/run/user/1000/bus"), Allow);
    assert_eq!(connect(2, "/run/app/x.sock"), Allow);
    assert_eq!(
        connect(2, "/run/docker.sock"),
        Deny,
        "a deny of every right wins"
    );
    assert_eq!(
        connect(2, "/run/app/private/s"),
        Allow,
        "a read deny does not cover it"
    );
    assert_eq!(connect(2, "/var/run/x.sock"), Deny, "outside every grant");
    assert_eq!(connect(2, "/runx"), Deny);
}

#[test]
fn capabilities_are_kept_only_where_listed_and_inherited_through_extends() {
    let p = policy(
        r#"
rings:
  1:
    extends: 2
    process: { capabilities: [net_bind_service, chown] }
  2:
    process: { capabilities: [chown] }
  3: {}
"#,
    );
    use nonoc_runtime::artifact::Capability::{Chown, NetBindService, SysAdmin};
    let keeps = |ring, capability| p.decide(ring, &Request::Capability { capability }).verdict;
    assert_eq!(p.ir.rings[&1].process.capabilities, [Chown, NetBindService]);
    assert_eq!(keeps(1, NetBindService), Allow);
    assert_eq!(keeps(1, SysAdmin), Deny);
    assert_eq!(keeps(2, Chown), Allow);
    assert_eq!(keeps(2, NetBindService), Deny);
    assert_eq!(keeps(3, Chown), Deny);
}
