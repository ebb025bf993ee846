#!/bin/sh
# Confirms nonoc's Seatbelt profiles on a Mac: docs/macos-check.md says how and why.
#
#   sh docs/macos-check.sh bundle DIR [NONOC]   on any system that runs nonoc, from the
#                                               repository's root: profiles, parameter values
#                                               and probes with the answers `decide` expects
#   sh docs/macos-check.sh run DIR [NONOC]      on the Mac: applies each profile with
#                                               sandbox-exec, runs the probes, compares;
#                                               with NONOC (nonoc built on the Mac), runs
#                                               each probe under `nonoc exec` too
#   sh docs/macos-check.sh typecheck            where Rust and the macOS target are
#                                               installed, from the repository's root:
#                                               `cargo check` of the runtime and the CLI
#                                               for macOS, warnings denied
#
# Everything the probes touch lives under $ROOT (/var/tmp/nonoc-check), which macOS resolves
# to /private/var/tmp/nonoc-check: the variables of the policies are bound there, so the
# profiles' /private parameters are exercised too, and no policy's `/tmp` rule covers it.
# `run` deletes and recreates $ROOT.
set -eu

ROOT=/var/tmp/nonoc-check
SANDBOX_EXEC=${SANDBOX_EXEC:-/usr/bin/sandbox-exec}
NONOC=

# policy : rings : variables
POLICIES='agt-rings:1 2 3:workspace home
coding-agent:1 2 3:workspace home cache
ci-runner:1 2:checkout out'

# Probes: policy, verb, target. `@name@` is the variable's directory under $ROOT.
# Verbs: read, write, execute (decide's answer, from `nonoc explain`), connect (TCP to
# 1.1.1.1, decide's answer), and stat, rename, true with the answer the profile is built to
# give where decide has no request of that kind, or predicts a difference (NC0907).
PROBES='agt-rings read @workspace@/src/main.rs
agt-rings write @workspace@/out.txt
agt-rings read @home@/.ssh/id_ed25519
agt-rings write @home@/notes.txt
agt-rings read /etc/hosts
agt-rings execute /usr/bin/true
agt-rings connect 443
agt-rings connect 22
coding-agent read @workspace@/src/main.rs
coding-agent write @workspace@/src/main.rs
coding-agent read @workspace@/.env
coding-agent read @workspace@/config/.env.local
coding-agent read @workspace@/.env.example
coding-agent write @workspace@/.git/hooks/pre-commit
coding-agent write @cache@/pip/wheel
coding-agent read @home@/.ssh/id_ed25519
coding-agent write /tmp/nonoc-check-scratch.txt
coding-agent read /dev/urandom
coding-agent execute /usr/bin/true
coding-agent execute @workspace@/tool
coding-agent connect 443
coding-agent connect 80
coding-agent stat @home@/.ssh/id_ed25519 deny
coding-agent stat /private/var/db allow
coding-agent rename @workspace@/.git deny
ci-runner read @checkout@/Cargo.toml
ci-runner write @checkout@/Cargo.toml
ci-runner write @out@/app.tar
ci-runner execute /usr/bin/true
ci-runner execute @checkout@/run.sh
ci-runner connect 443'

fail() {
    echo "macos-check: $*" >&2
    exit 2
}

# The probe's path with its variable replaced.
place() {
    printf '%s\n' "$1" | sed "s|@\([a-z_]*\)@|$ROOT/\1|g"
}

bundle() {
    out=$1
    nonoc=${2:-nonoc}
    [ -f policies/agt-rings.yaml ] || fail "run 'bundle' from the repository's root"
    mkdir -p "$out"
    rm -f "$out"/*.sb "$out"/*.params "$out"/*.probes "$out"/*.nonoc.json "$out"/*.vars "$out/bundle.log"
    printf '%s\n' "$POLICIES" | while IFS=: read -r policy rings vars; do
        file=policies/$policy.yaml
        set --
        : >"$out/$policy.vars"
        for v in $vars; do
            set -- "$@" --var "$v=$ROOT/$v"
            printf '%s\n' "$v=$ROOT/$v" >>"$out/$policy.vars"
        done
        # The artifact, for `nonoc exec` on the Mac (`run DIR NONOC`).
        "$nonoc" compile "$file" -o "$out/$policy.nonoc.json" 2>>"$out/bundle.log" ||
            fail "nonoc compile failed: see $out/bundle.log"
        for ring in $rings; do
            base=$out/$policy.ring$ring
            "$nonoc" compile "$file" --emit sbpl --ring "$ring" -o "$base.sb" 2>>"$out/bundle.log" ||
                fail "nonoc compile failed: see $out/bundle.log"
            "$nonoc" compile "$file" --emit sbpl-params --ring "$ring" "$@" -o "$base.params" 2>>"$out/bundle.log" ||
                fail "nonoc compile --emit sbpl-params failed: see $out/bundle.log"
            : >"$base.probes"
            printf '%s\n' "$PROBES" | while read -r p verb target fixed; do
                [ "$p" = "$policy" ] || continue
                target=$(place "$target")
                case $verb in
                read | write | execute)
                    expect=$("$nonoc" explain "$file" --ring "$ring" "--$verb" "$target" "$@" 2>/dev/null | head -n 1) ;;
                connect)
                    expect=$("$nonoc" explain "$file" --ring "$ring" --connect-tcp "$target" "$@" 2>/dev/null | head -n 1) ;;
                *)
                    # The profile's answer by construction, the same in every ring that
                    # has the paths (see docs/macos-check.md).
                    expect=$fixed ;;
                esac
                case $expect in
                allow | deny) ;;
                *) fail "no expected answer for $policy ring $ring $verb $target" ;;
                esac
                printf '%s\t%s\t%s\n' "$verb" "$target" "$expect" >>"$base.probes"
            done
        done
    done
    echo "bundle written to $out: copy it to the Mac and run: sh macos-check.sh run $out [NONOC]"
}

# Files and directories every probe needs, made before any sandbox is applied.
setup() {
    rm -rf "$ROOT"
    mkdir -p "$ROOT"
    cat "$1"/*.probes | while IFS="$(printf '\t')" read -r verb target expect; do
        case $target in "$ROOT"/*) ;; *) continue ;; esac
        mkdir -p "$(dirname "$target")"
        case $verb in
        execute) cp /usr/bin/true "$target" ;;
        rename) mkdir -p "$target" ;;
        *) [ -e "$target" ] || echo probe >"$target" ;;
        esac
    done
}

# Runs one probe under a ring, applied by sandbox-exec with the profile and its parameters
# (`via` sandbox-exec) or by `nonoc exec` with the artifact and the variables (`via` exec);
# prints allow, deny or unknown (with the reason).
probe() {
    via=$1 base=$2 verb=$3 target=$4
    name=$(basename "$base")
    policy=${base%.ring*}
    if [ "$via" = exec ]; then
        set -- "$NONOC" exec "$policy.nonoc.json" --ring "${name##*.ring}"
        while IFS= read -r line; do
            set -- "$@" --var "$line"
        done <"$policy.vars"
        set -- "$@" --
    else
        set -- "$SANDBOX_EXEC" -f "$base.sb"
        while IFS= read -r line; do
            set -- "$@" -D "$line"
        done <"$base.params"
    fi
    case $verb in
    read) set -- "$@" /usr/bin/head -c 1 "$target" ;;
    write) set -- "$@" /usr/bin/tee -a "$target" ;;
    execute) set -- "$@" "$target" ;;
    stat) set -- "$@" /usr/bin/stat "$target" ;;
    connect) set -- "$@" /usr/bin/nc -z -G 5 1.1.1.1 "$target" ;;
    rename) set -- "$@" /usr/bin/perl -e 'rename($ARGV[0], $ARGV[1]) or die "$!\n"' "$target" "$target.moved" ;;
    true) set -- "$@" /usr/bin/true ;;
    esac
    if err=$("$@" </dev/null 2>&1 >/dev/null); then
        echo allow
    else
        # `nonoc exec` exits 126 when it cannot apply the ring: never a denial of the probe.
        case $err in
        "nonoc exec: "*) echo "unknown: $(printf '%s' "$err" | head -n 1)" ;;
        *"not permitted"* | *"Permission denied"*) echo deny ;;
        *) echo "unknown: $(printf '%s' "$err" | head -n 1)" ;;
        esac
    fi
}

# Counts and prints one answer against the expected one.
judge() {
    verb=$1 expect=$2 got=$3 target=$4
    total=$((total + 1))
    case $got in
    "$expect") mark=ok ;;
    unknown*) mark=UNKNOWN unknowns=$((unknowns + 1)) ;;
    *) mark=MISMATCH mismatches=$((mismatches + 1)) ;;
    esac
    printf '  %-8s %-8s expected %-6s got %-6s %s\n' "$mark" "$verb" "$expect" "$got" "$target"
}

run() {
    dir=$1
    NONOC=${2:-}
    [ -x "$SANDBOX_EXEC" ] || fail "$SANDBOX_EXEC not found: run this on a Mac"
    ls "$dir"/*.sb >/dev/null 2>&1 || fail "no profiles in $dir: make them with 'bundle'"
    if [ -n "$NONOC" ]; then
        "$NONOC" --version >/dev/null 2>&1 || fail "$NONOC does not run here: build nonoc on the Mac"
        ls "$dir"/*.nonoc.json >/dev/null 2>&1 || fail "no artifacts in $dir: make the bundle again"
    fi
    echo "macOS $(sw_vers -productVersion 2>/dev/null || uname -r), $(uname -m)"
    mismatches=0 unknowns=0 total=0
    if [ -n "$NONOC" ]; then
        setup "$dir"
        for artifact in "$dir"/*.nonoc.json; do
            policy=${artifact%.nonoc.json}
            set -- doctor "$artifact"
            while IFS= read -r line; do
                set -- "$@" --var "$line"
            done <"$policy.vars"
            echo "== nonoc $*"
            "$NONOC" "$@" 2>&1 | sed 's/^/  /' || true
        done
    fi
    for sb in "$dir"/*.sb; do
        base=${sb%.sb}
        name=$(basename "$base")
        for via in sandbox-exec ${NONOC:+exec}; do
            setup "$dir" # afresh for each profile: a probe that was wrongly allowed changes files
            start=$(probe "$via" "$base" true /usr/bin/true)
            echo "== $name ($via): the ring applies and /usr/bin/true runs: $start"
            if [ "$start" != allow ]; then
                mismatches=$((mismatches + 1))
                continue
            fi
            while IFS="$(printf '\t')" read -r verb target expect; do
                judge "$verb" "$expect" "$(probe "$via" "$base" "$verb" "$target")" "$target"
            done <"$base.probes"
        done
    done
    echo "$total probes: $mismatches mismatches, $unknowns unknown"
    [ "$mismatches" -eq 0 ]
}

# The runtime and the CLI type-check for macOS: no error, no warning (CI runs on Linux and
# has no macOS target; run this before changing code that is not Linux-only).
typecheck() {
    [ -f compiler/Cargo.toml ] || fail "run 'typecheck' from the repository's root"
    target=${MACOS_TARGET:-x86_64-apple-darwin}
    rustup target list --installed 2>/dev/null | grep -qx "$target" ||
        fail "the Rust target $target is not installed: rustup target add $target"
    # A target directory of its own: the flags differ from the normal build's.
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/nonoc-macos-target}
    export RUSTFLAGS="-D warnings"
    cargo check --locked --target "$target" -p nonoc-runtime
    cargo check --locked --target "$target" -p nonoc --all-targets
    echo "nonoc-runtime and nonoc (all targets) type-check for $target"
}

case ${1:-} in
bundle) [ $# -ge 2 ] || fail "usage: macos-check.sh bundle DIR [NONOC]"; bundle "$2" "${3:-nonoc}" ;;
run) [ $# -eq 2 ] || [ $# -eq 3 ] || fail "usage: macos-check.sh run DIR [NONOC]"; run "$2" "${3:-}" ;;
typecheck) [ $# -eq 1 ] || fail "usage: macos-check.sh typecheck"; typecheck ;;
*) fail "usage: macos-check.sh bundle DIR [NONOC] | run DIR [NONOC] | typecheck" ;;
esac
