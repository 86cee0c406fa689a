#!/usr/bin/env bash
# DocC: converts every library's catalog against its public symbol graph with warnings treated as errors, so that a
# broken symbol link or a stale reference fails CI. Needs only the toolchain (docc ships with it). With package
# directories as arguments (Examples/AgentServer …), converts those packages' catalogs instead of the root's: run by
# hand (`bash .ci/docc.sh Examples/LinuxClient Examples/AgentServer Examples/PostgresStore`), not by .ci/run —
# dumping a package's symbol graphs rebuilds it and its dependencies with other flags, ~9 minutes per package on a
# fresh 2-core checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="$(mktemp -d)"
status=0
for package in "${@:-.}"; do
cd "$root/$package"
# It also tries the test targets, and fails for those not built yet; what counts is that every catalog's module has
# its graph, checked below.
swift package dump-symbol-graph --minimum-access-level public > "$out/symbolgraph.log" 2>&1 || true
graphs="$(find .build -type d -name symbolgraph -path '*-linux-gnu*' | head -1)"
for catalog in Sources/*/*.docc; do
    module="$(basename "$(dirname "$catalog")")"
    if [ -z "$graphs" ] || [ ! -f "$graphs/$module.symbols.json" ]; then
        echo "docc: $module FAILED: no symbol graph"
        tail -20 "$out/symbolgraph.log"
        exit 1
    fi
    moduleGraphs="$out/graphs-$module"
    mkdir -p "$moduleGraphs"
    cp "$graphs/$module".symbols.json "$moduleGraphs"/
    cp "$graphs/$module"@*.symbols.json "$moduleGraphs"/ 2>/dev/null || true
    if docc convert "$catalog" --additional-symbol-graph-dir "$moduleGraphs" --fallback-display-name "$module" \
        --fallback-bundle-identifier "dev.eventack.$module" --output-path "$out/$module.doccarchive" \
        --warnings-as-errors > "$out/$module.log" 2>&1; then
        echo "docc: $module ok"
    else
        echo "docc: $module FAILED"
        cat "$out/$module.log"
        status=1
    fi
done
done
rm -rf "$out"
exit $status
