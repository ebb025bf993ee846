//! The comparison on small policies, one kind of change each: what the issue of the review
//! gate named, and the verdict-neutral edits that must not be reported as gains.

use super::{Area, Comparison, Finding, PolicyDiff, compare};
use crate::ir::Ir;

fn ir(text: &str) -> Ir {
    let yaml =
        format!("apiVersion: nonoc.dev/v1\nkind: RingPolicy\nmetadata: {{ name: t }}\n{text}");
    let analysis = crate::analyze("t.yaml", yaml.as_bytes());
    match analysis.ir {
        Some(ir) => ir,
        None => panic!("the policy has errors: {:#?}\n{yaml}", analysis.diagnostics),
    }
}

fn diff(old: &str, new: &str) -> PolicyDiff {
    compare(&ir(old), &ir(new))
}

fn ring(d: &PolicyDiff, level: u8) -> &Comparison {
    d.comparisons
        .iter()
        .find(|c| c.level == Some(level))
        .unwrap_or_else(|| panic!("no comparison of ring {level}:\n{}", d.render()))
}

/// The gain whose text contains `text`.
fn gain<'a>(findings: &'a [Finding], text: &str, d: &PolicyDiff) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.text.contains(text))
        .unwrap_or_else(|| panic!("no finding with `{text}`:\n{}", d.render()))
}

const HOME: &str = "variables:
  home: { env: HOME, default: /root }
deny:
  - path: ${home}/.ssh
rings:
  1:
    filesystem:
      read: [/]
  2:
    filesystem:
      read: [/usr]
";

#[test]
fn a_changed_default_that_moves_a_deny_is_an_escalation() {
    let d = diff(HOME, &HOME.replace("default: /root", "default: /root/sub"));
    assert!(d.escalation, "{}", d.render());
    let g = gain(&ring(&d, 1).changes.gains, "`/root/.ssh`", &d);
    let e = &g.evidence[0];
    assert_eq!(e.subject, "ring 1");
    assert!(e.request.ends_with("`/root/.ssh`"), "{}", e.request);
    assert!(
        e.when
            .as_deref()
            .is_some_and(|w| w.contains("`/root/sub` (was `/root`)")),
        "{:?}",
        e.when
    );
    let v = gain(&d.policy.gains, "default `/root` -> `/root/sub`", &d);
    assert_eq!(v.area, Area::Variables);
    assert!(
        v.text.contains(
            "the deny of `${home}/.ssh` now covers `/root/sub/.ssh`, no longer `/root/.ssh`"
        ),
        "{}",
        v.text
    );
    // Ring 2 reads only `/usr`: the deny moving changes nothing there.
    assert!(
        d.comparisons.iter().all(|c| c.level != Some(2)),
        "{}",
        d.render()
    );
}

#[test]
fn a_default_moved_to_the_root_widens_a_grant() {
    let old = "variables:
  workspace: { env: AGENT_WORKSPACE, default: /app/workspace }
rings:
  2:
    filesystem:
      write: [\"${workspace}\"]
";
    let d = diff(old, &old.replace("default: /app/workspace", "default: /"));
    let g = gain(&ring(&d, 2).changes.gains, "write `/`", &d);
    assert_eq!(g.area, Area::Filesystem);
    gain(
        &d.policy.gains,
        "the write grant on `${workspace}` now covers `/`",
        &d,
    );
    // Back: a loss, never a gain.
    let d = diff(&old.replace("default: /app/workspace", "default: /"), old);
    assert!(!d.escalation, "{}", d.render());
    assert!(d.losses > 0);
}

#[test]
fn a_chained_default_is_followed() {
    let old = "variables:
  home: { env: HOME, default: /root }
  cache: { default: \"${home}/.cache\" }
rings:
  2:
    filesystem:
      write: [\"${cache}\"]
";
    let d = diff(old, &old.replace("\"${home}/.cache\"", "\"${home}\""));
    // With `HOME` set the grant covers all of it, and so it does with the defaults.
    gain(&ring(&d, 2).changes.gains, "write `$HOME`", &d);
    gain(
        &d.policy.gains,
        "`${cache}` default `${home}/.cache` -> `${home}`: the write grant on `${cache}` now covers `/root`, no longer `/root/.cache`",
        &d,
    );
}

#[test]
fn a_default_added_to_an_env_only_variable_lets_a_refused_ring_apply() {
    let old = "variables:
  workspace: { env: AGENT_WORKSPACE }
rings:
  2:
    filesystem:
      write: [\"${workspace}\"]
";
    let new = old.replace(
        "{ env: AGENT_WORKSPACE }",
        "{ env: AGENT_WORKSPACE, default: / }",
    );
    let d = diff(old, &new);
    let g = gain(&ring(&d, 2).changes.gains, "could not be applied", &d);
    assert_eq!(g.area, Area::Ring);
    assert!(g.text.contains("`${workspace}` was unbound"), "{}", g.text);
    assert!(g.evidence[0].request.contains("`/`"), "{:?}", g.evidence);
    gain(&d.policy.gains, "default `/` added", &d);
    // And back: the ring can no longer be applied, a loss.
    let d = diff(&new, old);
    assert!(!d.escalation, "{}", d.render());
    assert!(
        ring(&d, 2).changes.losses[0]
            .text
            .contains("can no longer be applied")
    );
}

#[test]
fn a_changed_env_is_an_escalation_named_with_the_rules_that_use_it() {
    let old = "variables:
  workspace: { env: AGENT_WORKSPACE, default: /app/workspace }
rings:
  2:
    filesystem:
      write: [\"${workspace}\"]
      read: [/usr]
";
    let d = diff(old, &old.replace("env: AGENT_WORKSPACE", "env: HOME"));
    assert!(d.escalation);
    let v = gain(&d.policy.gains, "env `AGENT_WORKSPACE` -> `HOME`", &d);
    assert!(
        v.text
            .contains("the write grant on `${workspace}` at line 9 (ring 2)"),
        "{}",
        v.text
    );
    // The requests say where the paths now come from.
    gain(&ring(&d, 2).changes.gains, "write `$HOME`", &d);
    // An env change of a variable no rule uses is a note.
    let unused =
        "variables:\n  spare: { env: A }\nrings:\n  1:\n    filesystem:\n      read: [/usr]\n";
    let d = diff(unused, &unused.replace("env: A", "env: B"));
    assert!(!d.escalation, "{}", d.render());
    assert!(
        d.policy.notes[0].contains("no rule uses it"),
        "{:?}",
        d.policy.notes
    );
}

#[test]
fn a_tier_moved_to_a_higher_ring_number_is_compared_by_decision() {
    // With `monotonic: false`, ring 2 may grant what ring 1 denies.
    let old = "settings: { monotonic: false }
trust_tiers:
  - { name: low, min_score: 0, ring: 1 }
rings:
  1:
    filesystem:
      read: [/usr]
  2:
    filesystem:
      read: [/usr, /etc]
";
    let d = diff(old, &old.replace("ring: 1 }", "ring: 2 }"));
    assert!(d.escalation, "{}", d.render());
    let c = d
        .comparisons
        .iter()
        .find(|c| c.level.is_none())
        .unwrap_or_else(|| panic!("{}", d.render()));
    assert_eq!((c.old_ring, c.new_ring), (Some(1), Some(2)));
    assert_eq!(c.title(), "scores 0..=1000 (tier `low`): ring 1 -> ring 2");
    gain(&c.changes.gains, "read `/etc`", &d);
    assert!(c.changes.losses.is_empty());
}

#[test]
fn a_new_ring_no_tier_selects_is_compared_against_nothing() {
    let old = "trust_tiers:
  - { name: all, min_score: 0, ring: 3 }
rings:
  3:
    filesystem:
      read: [/usr]
";
    let new = format!("{old}  5:\n    filesystem:\n      write: [/]\n");
    let d = diff(old, &new);
    assert!(d.escalation);
    let c = ring(&d, 5);
    assert_eq!(c.title(), "ring 5 (new)");
    let g = gain(&c.changes.gains, "write `/`", &d);
    assert_eq!(g.evidence[0].old.because, ["there is no such ring"]);
    // An unconfined ring added is one gain.
    let d = diff(old, &format!("{old}  0:\n    unconfined: true\n"));
    assert_eq!(
        ring(&d, 0).changes.gains[0].text,
        "unconfined: applies no sandbox, every request is allowed"
    );
}

#[test]
fn a_deny_removed_matters_where_a_variable_can_be() {
    // Nothing grants `/etc` with the defaults, but `${workspace}` may be bound there.
    let old = "variables:
  workspace: { env: AGENT_WORKSPACE, default: /app/workspace }
deny:
  - path: /etc
rings:
  2:
    filesystem:
      write: [\"${workspace}\"]
";
    let new = old.replace("deny:\n  - path: /etc\n", "");
    let d = diff(old, &new);
    assert!(d.escalation, "{}", d.render());
    let g = gain(&ring(&d, 2).changes.gains, "`/etc`", &d);
    let when = g.evidence[0].when.as_deref().unwrap_or_default();
    assert!(when.contains("`${workspace}` is `"), "{when}");
}

#[test]
fn a_deny_glob_is_asked_under_the_directories_rules_allow() {
    let old = "deny:
  - glob: \"/**/*.key\"
rings:
  1:
    filesystem:
      read: [/srv]
";
    let new = old.replace("deny:\n  - glob: \"/**/*.key\"\n", "");
    let d = diff(old, &new);
    let g = gain(&ring(&d, 1).changes.gains, "`/srv/", &d);
    assert!(g.text.contains(".key`"), "{}", g.text);
}

#[test]
fn syscall_arguments_are_asked_in_combination() {
    // Threads stay allowed without `fork`; a deny of user namespaces in new threads is only
    // seen with both flags set.
    let forkless = "rings:\n  1:\n    process: { fork: false }\n";
    let guarded = "rings:
  1:
    process: { fork: true }
    syscalls:
      deny:
        - { name: clone, args: [{ index: 0, op: any_bits, value: CLONE_NEWUSER }] }
";
    let d = diff(guarded, forkless);
    let g = gain(&ring(&d, 1).changes.gains, "syscall `clone`", &d);
    assert!(
        g.evidence.iter().any(|e| e.request.contains("0x10010000")),
        "{:#?}",
        g.evidence
    );
}

#[test]
fn settings_that_weaken_enforcement_are_gains() {
    let policy = |settings: &str| {
        format!("settings:\n{settings}rings:\n  1:\n    filesystem:\n      read: [/usr]\n")
    };
    let strict = policy(
        "  landlock: { compatibility: hard_requirement, min_abi: 4 }\n  unenforceable: error\n  isolation: required\n",
    );
    let loose = policy("  isolation: off\n");
    let d = diff(&strict, &loose);
    let texts: Vec<&str> = d.policy.gains.iter().map(|f| f.text.as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("landlock.compatibility hard_requirement -> best_effort")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("unenforceable error -> warn")),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("isolation required -> off")),
        "{texts:?}"
    );
    // The ABI floor changed while `best_effort` governs the new policy: a note.
    assert!(
        d.policy
            .notes
            .iter()
            .any(|n| n.starts_with("landlock.min_abi 4 -> 1")),
        "{:?}",
        d.policy.notes
    );
    // The reverse strengthens: losses only.
    let d = diff(&loose, &strict);
    assert!(
        !d.escalation && d.policy.losses.len() == 3,
        "{}",
        d.render()
    );
    // Under `hard_requirement` a lower floor lets older kernels run the policy.
    let d = diff(
        &policy("  landlock: { compatibility: hard_requirement, min_abi: 4 }\n"),
        &policy("  landlock: { compatibility: hard_requirement, min_abi: 2 }\n"),
    );
    gain(
        &d.policy.gains,
        "kernels with Landlock ABI 2 to 3 are no longer refused",
        &d,
    );
}

#[test]
fn turning_the_monotonic_lint_off_matters_only_where_it_would_flag() {
    let ladder = |monotonic: bool, wide: &str| {
        format!(
            "settings: {{ monotonic: {monotonic} }}\nrings:\n  1:\n    filesystem:\n      read: [/usr]\n  2:\n    filesystem:\n      read: [{wide}]\n"
        )
    };
    let d = diff(&ladder(true, "/usr"), &ladder(false, "/usr"));
    assert!(!d.escalation, "{}", d.render());
    assert!(
        d.policy
            .notes
            .iter()
            .any(|n| n.starts_with("monotonic true -> false"))
    );
    // Ring 2 now grants what ring 1 denies: the lint would have said so.
    let d = diff(&ladder(true, "/usr"), &ladder(false, "/usr, /etc"));
    gain(&d.policy.gains, "monotonic true -> false", &d);
}

/// The edits the gate used to report as gains: each leaves every verdict alone or tightens.
#[test]
fn tightening_and_verdict_neutral_edits_are_no_gain() {
    let base = "deny:
  - { path: /etc/secret, platform: macos }
rings:
  2:
    filesystem:
      rules: [{ path: /srv, access: [read] }]
    network: { mode: restricted, connect_tcp: [443], bind_tcp: [8080] }
    syscalls: { deny: [ptrace], presets: [hardening] }
  3:
    filesystem:
      read: [/etc]
    network: { mode: allowed }
";
    let edits: &[(&str, &str)] = &[
        // (With a port to bind: `restricted` without `bind_tcp` denies `listen()` on every
        // socket, which `blocked` does not.)
        (
            "{ mode: restricted, connect_tcp: [443], bind_tcp: [8080] }",
            "{ mode: blocked }",
        ),
        (
            "presets: [hardening] }",
            "presets: [hardening], deny_action: kill_process }",
        ),
        (
            "presets: [hardening] }",
            "presets: [hardening], errno: ENOSYS }",
        ),
        (
            "{ path: /srv, access: [read] }",
            "{ path: /srv, access: [read], platform: linux }",
        ),
        (
            "{ path: /etc/secret, platform: macos }",
            "{ path: /etc/secret }",
        ),
        ("{ mode: allowed }", "{ mode: restricted, udp: true }"),
    ];
    for (from, to) in edits {
        let d = diff(base, &base.replace(from, to));
        assert!(
            !d.escalation && d.gains == 0,
            "`{from}` -> `{to}` is reported as a gain:\n{}",
            d.render()
        );
        let notes: Vec<&String> = d
            .comparisons
            .iter()
            .flat_map(|c| &c.changes.notes)
            .collect();
        assert!(!notes.is_empty(), "`{from}` -> `{to}` has no note");
    }
    // deny_action and errno change no verdict at all.
    let d = diff(
        base,
        &base.replace(
            "presets: [hardening] }",
            "presets: [hardening], errno: ENOSYS }",
        ),
    );
    assert!(
        d.render()
            .starts_with("ring 2:\n  ~ syscalls deny action errno EPERM -> errno ENOSYS\n"),
        "{}",
        d.render()
    );
    assert!(
        d.render()
            .ends_with("no change in rights (see the notes)\n")
    );
}

/// The request kinds of unix sockets, `listen` and capabilities: a gained unix_connect grant,
/// kept capability or `listen()` is an escalation, each with a request that shows it; the
/// reverse is a loss; a grant under one the ring already has changes no verdict.
#[test]
fn unix_sockets_listen_and_capabilities_are_compared() {
    let base = "rings:
  2:
    filesystem:
      read: [/usr]
    network: { mode: blocked, unix_connect: [/run/app] }
    process: { capabilities: [chown] }
  3:
    network: { mode: restricted, connect_tcp: [443] }
";
    let wider = base
        .replace(
            "unix_connect: [/run/app]",
            "unix_connect: [/run/app, /srv/sock]",
        )
        .replace(
            "capabilities: [chown]",
            "capabilities: [chown, net_bind_service]",
        )
        .replace(
            "connect_tcp: [443] }",
            "connect_tcp: [443], bind_tcp: [8080] }",
        );
    let d = diff(base, &wider);
    assert!(d.escalation, "{}", d.render());
    let two = &ring(&d, 2).changes;
    let unix = gain(&two.gains, "unix_connect `/srv/sock`", &d);
    assert_eq!(unix.area, Area::Network);
    assert_eq!(unix.evidence[0].request, "unix_connect `/srv/sock`");
    assert!(
        unix.evidence[0].new.because[0].contains("network.unix_connect `/srv/sock`"),
        "{:?}",
        unix.evidence[0]
    );
    let cap = gain(&two.gains, "keep capability net_bind_service", &d);
    assert_eq!(cap.area, Area::Process);
    assert!(
        !two.gains.iter().any(|g| g.text.contains("chown")),
        "{}",
        d.render()
    );
    // Ring 3 may now bind a port, and so listen() on a TCP socket.
    let three = &ring(&d, 3).changes;
    let listen = gain(&three.gains, "listen tcp", &d);
    assert_eq!(listen.area, Area::Network);
    assert_eq!(listen.evidence[0].request, "listen tcp");

    // The same edits backwards: losses only.
    let d = diff(&wider, base);
    assert!(!d.escalation && d.gains == 0, "{}", d.render());
    for (level, text) in [
        (2, "unix_connect `/srv/sock`"),
        (2, "keep capability net_bind_service"),
        (3, "listen tcp"),
    ] {
        gain(&ring(&d, level).changes.losses, text, &d);
    }

    // A first unix socket grant: connecting is gained, listen() is not where `restricted`
    // without `bind_tcp` denies it on every socket.
    let d = diff(
        base,
        &base.replace(
            "connect_tcp: [443] }",
            "connect_tcp: [443], unix_connect: [/run/x] }",
        ),
    );
    let three = &ring(&d, 3).changes;
    gain(&three.gains, "unix_connect `/run/x`", &d);
    assert!(
        !three.gains.iter().any(|g| g.text.starts_with("listen")),
        "restricted without bind_tcp denies listen() on every socket:\n{}",
        d.render()
    );
    // A `blocked` ring that loses its only grant can no longer listen() on unix sockets.
    let d = diff(
        base,
        &base.replace("mode: blocked, unix_connect: [/run/app]", "mode: blocked"),
    );
    gain(&ring(&d, 2).changes.losses, "listen unix", &d);

    // `restricted` without `bind_tcp` -> `blocked`: listen() on the sockets the ring may
    // create is no longer denied.
    let d = diff(
        base,
        &base.replace(
            "{ mode: restricted, connect_tcp: [443] }",
            "{ mode: blocked }",
        ),
    );
    assert!(d.escalation, "{}", d.render());
    gain(&ring(&d, 3).changes.gains, "syscall `listen`", &d);

    // A grant under a grant the ring has changes no verdict: a note.
    let d = diff(
        base,
        &base.replace(
            "unix_connect: [/run/app]",
            "unix_connect: [/run/app, /run/app/sub]",
        ),
    );
    assert!(
        !d.escalation && d.gains == 0 && d.losses == 0,
        "{}",
        d.render()
    );
    assert!(
        ring(&d, 2)
            .changes
            .notes
            .iter()
            .any(|n| n == "network.unix_connect [/run/app] -> [/run/app, /run/app/sub]"),
        "{}",
        d.render()
    );
}

/// Host lists that change no verdict (every host is reachable at 443 directly already) are
/// notes, never silent: a reviewer sees `hosts`, `deny_hosts` and `private` edits.
#[test]
fn host_edits_that_change_no_verdict_are_notes() {
    let base = "rings:
  2:
    network: { mode: restricted, connect_tcp: [443], hosts: [a.test] }
";
    for (to, note) in [
        (
            "hosts: [a.test, b.test]",
            "network.hosts [`a.test` (443)] -> [`a.test` (443), `b.test` (443)]",
        ),
        (
            "hosts: [a.test], private: allow",
            "network.private deny -> allow",
        ),
        (
            "hosts: [a.test], deny_hosts: [c.test]",
            "network.deny_hosts [] -> [`c.test` (every port)]",
        ),
    ] {
        let d = diff(base, &base.replace("hosts: [a.test]", to));
        assert!(!d.escalation && d.gains == 0, "{}", d.render());
        assert!(
            ring(&d, 2).changes.notes.iter().any(|n| n == note),
            "no note `{note}`:\n{}",
            d.render()
        );
    }
}

#[test]
fn the_shared_tmp_replaced_by_the_private_directory_is_a_loss_only() {
    let old = "rings:\n  2:\n    filesystem:\n      write: [/tmp]\n      read: [/tmp]\n";
    let new = "rings:\n  2:\n    filesystem:\n      presets: [tmp]\n";
    let d = diff(old, new);
    let c = ring(&d, 2);
    let lost = gain(&c.changes.losses, "`/tmp`", &d);
    assert!(lost.text.contains("write"), "{}", d.render());
    // The private directory lies under `/tmp`, which the old ring wrote already.
    assert!(
        !d.escalation && c.changes.gains.is_empty(),
        "{}",
        d.render()
    );
    assert!(
        c.changes.notes.iter().any(|n| n.contains("`${tmp}`")),
        "{}",
        d.render()
    );
    // Back: the shared `/tmp` is a gain.
    let back = diff(new, old);
    assert!(back.escalation, "{}", back.render());
    // The preset against itself: the private directory is one value in every world.
    let same = diff(new, new);
    assert!(!same.escalation && same.comparisons.iter().all(|c| c.changes.losses.is_empty()));
}

#[test]
fn a_tmp_of_the_policys_own_replaced_by_the_preset_is_named() {
    let old = "variables:\n  tmp: { env: TMPDIR, default: /tmp }\nrings:\n  2:\n    filesystem:\n      write: [\"${tmp}\"]\n";
    let new = "rings:\n  2:\n    filesystem:\n      presets: [tmp]\n";
    let d = diff(old, new);
    let text = d.render();
    assert!(
        text.contains("is now the private temporary directory of each run"),
        "{text}"
    );
    let d = diff(new, "rings:\n  2:\n    filesystem:\n      read: [/usr]\n");
    let text = d.render();
    assert!(
        text.contains("variable `tmp` removed (was the private temporary directory of each run)"),
        "{text}"
    );
}

#[test]
fn a_deny_of_tmp_beside_the_preset_takes_the_private_directory_too() {
    let old = "rings:\n  2:\n    filesystem:\n      presets: [tmp]\n";
    let new = "deny:\n  - path: /tmp\nrings:\n  2:\n    filesystem:\n      presets: [tmp]\n";
    let d = diff(old, new);
    let c = ring(&d, 2);
    let lost = gain(&c.changes.losses, "`${tmp}`", &d);
    assert!(lost.text.contains("write"), "{}", d.render());
    assert!(!d.escalation, "{}", d.render());
}
