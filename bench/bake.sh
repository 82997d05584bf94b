#!/usr/bin/env bash
# `berth bake` of 4 targets sharing a base stage vs 4 sequential `berth build` runs of the same
# targets (issue 7; goal: bake <= 0.5x sequential). The targets are a matrix over VARIANT: one
# shared stage (CPU work: 96 MiB through gzip) and per target a COPY and a smaller RUN (24 MiB).
# Both sides start from a fresh BERTH_ROOT with busybox imported (untimed):
#   cold   the cache empty;
#   warm   again, nothing changed;
#   change one copied file changed (every target's COPY and RUN rerun; the shared stage is cached).
# Prints the median of RUNS for each side and the ratio bake/sequential.
#
# Needs root (overlay mounts, runc) and busybox-static; builds a Release berth
# (cmake --preset release). Usage: bench/bake.sh [RUNS]   (default 3)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs=${1:-3}

if [[ $(id -u) -ne 0 ]]; then
  echo "error: bench/bake.sh needs root (overlay mounts, runc)" >&2
  exit 1
fi
cmake --preset release >/dev/null
cmake --build --preset release --target berth >/dev/null
berth=$PWD/build/release/bin/berth

work=$(mktemp -d /var/tmp/berth-bench-bake-XXXXXX)
cleanup() {
  bench_remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/make-busybox-rootfs "$work/rootfs" >/dev/null
ctx=$work/ctx
mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<'EOF'
FROM busybox AS base
RUN dd if=/dev/zero bs=1M count=96 2>/dev/null | gzip -1 | wc -c > /base-size

FROM base
ARG VARIANT
COPY src/ /src/
RUN dd if=/dev/zero bs=1M count=24 2>/dev/null | gzip -1 | wc -c > /size && \
    echo "$VARIANT $(cat /src/main.txt)" > /variant
EOF
cat >"$ctx/docker-bake.hcl" <<'EOF'
target "app" {
  name = "app-${v}"
  matrix = { v = ["a", "b", "c", "d"] }
  args = { VARIANT = v }
  tags = ["bench/app:${v}"]
}
group "default" { targets = ["app"] }
EOF
mkdir -p "$ctx/src"
echo "version 0" >"$ctx/src/main.txt"

fresh_root() {
  rm -rf "$work/root"
  BERTH_ROOT=$work/root "$berth" image import "$work/rootfs" busybox:latest >/dev/null 2>&1
}
bake() { (cd "$ctx" && BERTH_ROOT=$work/root "$berth" bake --progress plain >/dev/null 2>&1); }
sequential() {
  local v
  for v in a b c d; do
    BERTH_ROOT=$work/root "$berth" build --progress plain --build-arg "VARIANT=$v" \
      -t "bench/app:$v" "$ctx" >/dev/null 2>&1
  done
}

declare -A times
version=0
for side in bake sequential; do
  for ((i = 0; i < runs; i++)); do
    fresh_root
    t0=$(bench_now)
    $side
    t1=$(bench_now)
    $side
    t2=$(bench_now)
    version=$((version + 1))
    echo "version $version" >"$ctx/src/main.txt"
    $side
    t3=$(bench_now)
    times[$side-cold]+="$(echo "$t1 - $t0" | bc) "
    times[$side-warm]+="$(echo "$t2 - $t1" | bc) "
    times[$side-change]+="$(echo "$t3 - $t2" | bc) "
  done
done

printf '%-8s %10s %12s %8s\n' case bake sequential ratio
for c in cold warm change; do
  b=$(echo "${times[bake-$c]}" | tr ' ' '\n' | grep . | bench_median)
  s=$(echo "${times[sequential-$c]}" | tr ' ' '\n' | grep . | bench_median)
  printf '%-8s %9.2fs %11.2fs %7.2fx\n' "$c" "$b" "$s" "$(echo "$b / $s" | bc -l)"
done
echo "goal: bake <= 0.50x sequential (4 targets sharing a base stage; $runs runs, medians)"
