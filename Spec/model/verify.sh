#!/usr/bin/env bash
# Verifies Spec/model/eventack.pml exhaustively with SPIN: every configuration (README.md says how they divide the
# faults) for safety (assertions, invalid end states) and, under weak fairness, liveness (the LTL properties); then
# each deliberately broken variant, which the checker must reject. Exits non-zero, printing the trail, if a property
# of the real model is violated or a broken variant verifies. Installs SPIN (Debian) if it is missing.
#
#   bash Spec/model/verify.sh            # everything (a few minutes on 2 cores)
#   KEEP_TRAILS=dir bash ...             # also writes each broken variant's trail into dir
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! command -v spin > /dev/null || ! command -v gcc > /dev/null; then
    apt-get update -qq > /dev/null && apt-get install -y -qq spin gcc > /dev/null
fi

work="$(mktemp -d /tmp/eventack-spin.XXXXXX)"
trap 'rm -rf "$work"' EXIT

# name | budgets (everything not named is 0) | LTL properties also checked with pan -a -f (where affordable)
configs=(
    "network-loss|-DPREEMITTED -DMAXCUTS=1 -DMAXLOSS=1|"
    "network-order|-DPREEMITTED -DMAXLOSS=1 -DMAXDUP=1 -DMAXREORDER=1|"
    "resume|-DPREEMITTED -DMAXCUTS=2 -DMAXRESTART=1|"
    "agent|-DMAXCUTS=1|silentRunEnds"
    "crash|-DMAXCRASH=1|"
    "store|-DMAXSTOREFAIL=1 -DMAXCUTS=1|"
)
# name | defines | configuration it runs in
broken=(
    "no-token-grace|-DBROKEN_NO_GRACE|resume"
    "write-ahead-violated|-DBROKEN_WRITE_AHEAD|crash"
    "resume-bypasses-attempt-limit|-DBROKEN_RESUME_ATTEMPTS|network-loss"
    "no-idle-timeout|-DBROKEN_NO_IDLE_TIMEOUT|agent"
)
all_budgets="MAXCUTS MAXLOSS MAXDUP MAXREORDER MAXCRASH MAXRESTART MAXSTOREFAIL"

budgets_of() { # the -D flags of a configuration, every budget it does not name set to 0
    local flags="$1" out="$1"
    for budget in $all_budgets; do
        [[ "$flags" == *"-D$budget="* ]] || out+=" -D$budget=0"
    done
    printf '%s' "$out"
}

config_flags() {
    for entry in "${configs[@]}"; do
        IFS='|' read -r name flags _ <<< "$entry"
        [ "$name" = "$1" ] && budgets_of "$flags" && return
    done
    echo "unknown configuration $1" >&2
    exit 2
}

# Generates and compiles the verifier of model $4 (default eventack.pml) for defines $2 into directory $1, with C
# flags $3. A model that does not compile stops the script (set -e).
build() {
    local dir="$1" defines="$2" cflags="$3" model="${4:-eventack.pml}"
    mkdir -p "$dir"
    cp "$here/$model" "$dir/"
    (cd "$dir" && spin $defines -a "$model" > spin.log 2>&1 && gcc -O2 -w $cflags -o pan pan.c)
}

# Runs pan in $1 with arguments $2; prints its figures; returns 0 when it found no error and searched everything.
search() {
    local dir="$1" args="$2" out
    out="$(cd "$dir" && ./pan $args 2>&1)" || true
    printf '%s\n' "$out" > "$dir/pan.log"
    local errors states seconds
    errors="$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<< "$out" | head -1)"
    states="$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<< "$out" | head -1)"
    seconds="$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' <<< "$out" | head -1)"
    printf '%10s states %6ss  errors: %s' "${states:-?}" "${seconds:-?}" "${errors:-?}"
    if [ "${errors:-1}" = 0 ] && grep -q "Search not completed\|max search depth too small\|out of memory" <<< "$out"; then
        printf '  (INCOMPLETE)'
        return 1
    fi
    [ "${errors:-1}" = 0 ]
}

trail() { # the counterexample found in $1 for defines $2 (model $4), one line per step: its last $3 steps
    (cd "$1" && spin $2 -t -p "${4:-eventack.pml}" 2>&1 |
        grep -E '^ *[0-9]+:[[:space:]]+proc.*\[|text of failed assertion|trail ends' |
        sed -E 's/ \(state [0-9]+\)//; s/[[:space:]]+/ /g' | tail -"${3:-60}")
}

failed=0
started=$SECONDS
echo "SPIN $(spin -V | sed -n 's/Spin Version \([0-9.]*\).*/\1/p')"
echo "eventack.pml: safety (assertions, final states: liveness), no cycle (every behaviour ends), LTL where noted"
# One check: builds with C flags $3, runs pan with $4, reports under label $2; on failure prints $5 and the trail.
check() { # dir, label, cflags, pan arguments, what a failure is called, defines, configuration name
    build "$1" "$6" "$3"
    printf '  %-14s %-26s' "$7" "$2"
    if search "$1" "$4"; then echo; else
        echo "  $5"
        trail "$1" "$6"
        return 1
    fi
}

check_config() { # one configuration: its report on stdout, its status as exit code
    local name="$1" flags="$2" properties="$3" status=0
    local defines dir="$work/$1"
    defines="$(budgets_of "$flags")"
    check "$dir/safety" "safety + final states" "-DNOCLAIM -DCOLLAPSE -DMEMLIM=6000" "-m200000" VIOLATED \
        "$defines" "$name" || status=1
    # No progress labels: any cycle at all is reported. None means every behaviour is finite.
    check "$dir/cycles" "no cycle (pan -l)" "-DNP -DNOCLAIM -DCOLLAPSE -DMEMLIM=6000" "-l -m200000" "A CYCLE" \
        "$defines" "$name" || status=1
    for property in $properties; do
        check "$dir/$property" "$property (LTL, fair)" "-DCOLLAPSE -DMEMLIM=6000" "-a -f -N $property -m200000" \
            VIOLATED "$defines" "$name" || status=1
    done
    return "$status"
}

# Two configurations at a time (CI has 2 cores); reports printed in order.
pids=()
for index in "${!configs[@]}"; do
    IFS='|' read -r name flags properties <<< "${configs[$index]}"
    check_config "$name" "$flags" "$properties" > "$work/report-$index" 2>&1 &
    pids+=($!)
    if [ $((index % 2)) = 1 ]; then
        wait "${pids[-2]}" || failed=1
        wait "${pids[-1]}" || failed=1
    fi
done
for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
for index in "${!configs[@]}"; do cat "$work/report-$index"; done
if grep -q "VIOLATED\|A CYCLE\|INCOMPLETE" "$work"/report-*; then failed=1; fi

echo "isolation.pml: two sessions, a hostile client"
build "$work/isolation" "" "-DCOLLAPSE -DMEMLIM=8000" isolation.pml
printf '  %-14s %-22s' "isolation" "safety"
if search "$work/isolation" "-m200000"; then echo; else
    echo "  VIOLATED"
    trail "$work/isolation" "" 80 isolation.pml
    failed=1
fi

echo
echo "broken variants (each must be rejected):"
check_broken() { # name, defines, model, configuration label
    local name="$1" all="$2" model="$3" label="$4" dir="$work/broken-$1"
    build "$dir" "$all" "-DNOCLAIM -DMEMLIM=8000" "$model"
    printf '  %-30s %-15s' "$name" "($label)"
    if search "$dir" "-m200000"; then
        echo "  VERIFIED — the check cannot tell this variant from the real rules"
        failed=1
    else
        echo
        echo "      rejected: $(grep -m1 -o 'assertion violated.*\|invalid end state.*' "$dir/pan.log")"
        if [ -n "${KEEP_TRAILS:-}" ]; then
            mkdir -p "$KEEP_TRAILS"
            trail "$dir" "$all" 100000 "$model" > "$KEEP_TRAILS/$name.txt"
        fi
        trail "$dir" "$all" 8 "$model" | sed 's/^/      /'
    fi
}
for entry in "${broken[@]}"; do
    IFS='|' read -r name defines config <<< "$entry"
    check_broken "$name" "$defines $(config_flags "$config")" eventack.pml "$config"
done
check_broken "resume-without-token" "-DBROKEN_RESUME_WITHOUT_TOKEN" isolation.pml "isolation"

echo
echo "verify.sh: $((SECONDS - started)) s"
if [ "$failed" != 0 ]; then
    echo "verify.sh: FAILED"
    exit 1
fi
echo "verify.sh: every property holds in every configuration; every broken variant is rejected"
