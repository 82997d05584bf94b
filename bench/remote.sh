#!/usr/bin/env bash
# Remote vs embedded (issue 5): a no-change rebuild of the Dockerfiles of ../shared/bench/
# (busybox, single, multi) with `berth build` on the embedded default and through a berthd on
# loopback (Release builds of both), side by side. Goal: remote adds under 50 ms.
# Both have the same bases imported (busybox from busybox-static; debian:bookworm from the
# Debian minbase rootfs cached in $BENCH_DIR/debian-rootfs as bench/build.sh makes it) and one
# untimed build each to fill the caches; then RUNS timed rebuilds each, medians printed.
# (Context sync of a 10,000-file / 200 MB context is build/bench/bench/contextsync_bench.)
#
# Needs root (overlay mounts, runc), busybox-static, debootstrap (first run only), curl and bc.
# Usage: bench/remote.sh [RUNS]   (default 5; BENCH_DIR defaults to /var/tmp/berth-bench)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs=${1:-5}
bench_dir=${BENCH_DIR:-/var/tmp/berth-bench}
shared=${BENCH_SHARED:-$PWD/../shared/bench}

if [[ $(id -u) -ne 0 ]]; then
  echo "error: bench/remote.sh needs root (overlay mounts, runc)" >&2
  exit 1
fi
cmake --preset release >/dev/null
cmake --build --preset release --target berth berthd >/dev/null
berth=$PWD/build/release/bin/berth
berthd=$PWD/build/release/bin/berthd
rootfs=$bench_dir/debian-rootfs
mkdir -p "$bench_dir"
if [[ ! -d $rootfs/usr ]]; then
  rm -rf "$rootfs"
  scripts/make-debian-rootfs "$rootfs"
fi

work=$(mktemp -d /var/tmp/berth-bench-remote-XXXXXX)
server_pid=
cleanup() {
  if [[ -n $server_pid ]]; then kill "$server_pid" 2>/dev/null && wait "$server_pid" || true; fi
  bench_remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/make-busybox-rootfs "$work/busybox" >/dev/null
ctx=$work/ctx
"$shared/make-context" "$ctx" >/dev/null
for root in "$work/local" "$work/server/builder"; do
  BERTH_ROOT=$root "$berth" image import "$work/busybox" busybox:latest >/dev/null 2>&1
  BERTH_ROOT=$root "$berth" image import "$rootfs" debian:bookworm >/dev/null 2>&1
done

token=bench-admin-token-$RANDOM$RANDOM
bench_start_berthd "$berthd" "$work/server" "$token"
server_pid=$berthd_pid port=$berthd_port project=$berthd_project

local_build() {  # NAME
  BERTH_ROOT=$work/local "$berth" build --progress plain -f "$ctx/Dockerfile.$1" "$ctx" \
    >/dev/null 2>&1
}
remote_build() {  # NAME
  BERTH_ROOT=$work/local BERTH_NO_SUMMARY_LINK=1 "$berth" build --progress plain \
    --host "127.0.0.1:$port" --token "$token" --project "$project" \
    -f "$ctx/Dockerfile.$1" "$ctx" >/dev/null 2>&1
}

printf '%-10s %12s %12s %12s\n' dockerfile embedded remote "remote adds"
for name in busybox single multi; do
  local_build "$name"
  remote_build "$name"
  declare -a l=() r=()
  for ((i = 0; i < runs; i++)); do
    t0=$(bench_now)
    local_build "$name"
    t1=$(bench_now)
    remote_build "$name"
    t2=$(bench_now)
    l+=("$(echo "$t1 - $t0" | bc)")
    r+=("$(echo "$t2 - $t1" | bc)")
  done
  lm=$(printf '%s\n' "${l[@]}" | bench_median)
  rm_=$(printf '%s\n' "${r[@]}" | bench_median)
  printf '%-10s %10.0fms %10.0fms %10.0fms\n' "$name" "$(echo "$lm * 1000" | bc)" \
    "$(echo "$rm_ * 1000" | bc)" "$(echo "($rm_ - $lm) * 1000" | bc)"
done
echo "goal: remote adds under 50 ms to a no-change rebuild ($runs runs each, medians)"
