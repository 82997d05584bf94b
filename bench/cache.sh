#!/usr/bin/env bash
# External build cache, side by side (issue 7): `berth build --cache-to/--cache-from
# type=registry` vs `buildah bud --layers --cache-to/--cache-from`, both against one local
# docker-registry, on ../shared/bench's Dockerfile.single (Debian base, RUN/COPY steps, 16 MiB
# of random bytes in a layer). Each run, for each tool:
#   export   a cold build (empty cache, base present) that exports its cache (berth: mode=max);
#   import   a build on a fresh machine (new root / storage, base present) reading that cache;
#   cold     the same fresh build without a cache, for scale.
# Prints medians of RUNS, the ratio berth/buildah and the goal (no slower than buildah).
#
# As bench/build.sh: both tools get the same Debian minbase rootfs as debian:bookworm, private
# state under a temporary work dir, and the whole bench runs in a private mount namespace with an
# empty directory bound over /var/lib/containers. Needs root, buildah, docker-registry, curl,
# busybox-static, debootstrap (first run only) and bc; builds a Release berth.
# Usage: bench/cache.sh [RUNS]   (default 3; BENCH_DIR defaults to /var/tmp/berth-bench)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs=${1:-3}
bench_dir=${BENCH_DIR:-/var/tmp/berth-bench}

if [[ $(id -u) -ne 0 ]]; then
  echo "error: bench/cache.sh needs root (overlay mounts, runc, buildah)" >&2
  exit 1
fi

# ---- outer half: re-run this script in a private mount namespace ----
if [[ ${BERTH_BENCH_CACHE_INNER:-} != 1 ]]; then
  command -v buildah >/dev/null && command -v docker-registry >/dev/null || scripts/setup
  mkdir -p "$bench_dir"
  cmake --preset release >/dev/null
  cmake --build --preset release --target berth >/dev/null
  if [[ ! -d $bench_dir/debian-rootfs/usr ]]; then
    rm -rf "$bench_dir/debian-rootfs"
    scripts/make-debian-rootfs "$bench_dir/debian-rootfs"
  fi
  made_dir=0
  if [[ ! -d /var/lib/containers ]]; then
    mkdir /var/lib/containers
    made_dir=1
  fi
  rc=0
  BERTH_BENCH_CACHE_INNER=1 unshare --mount --propagation private "$self" "$runs" || rc=$?
  if [[ $made_dir -eq 1 ]]; then rmdir /var/lib/containers 2>/dev/null || true; fi
  exit "$rc"
fi

# ---- inner half ----
berth=$PWD/build/release/bin/berth
rootfs=$bench_dir/debian-rootfs
work=$(mktemp -d /var/tmp/berth-bench-cache-XXXXXX)
cleanup() {
  local pid
  for pid in $(cat "$work/registry.pids" 2>/dev/null); do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  bench_remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/containers" "$work/tmp"
mount --bind "$work/containers" /var/lib/containers
export TMPDIR=$work/tmp
ctx=$work/ctx
"${BENCH_SHARED:-$PWD/../shared/bench}/make-context" "$ctx" >/dev/null
reg=$(bench_start_registry "$work" registry)

berth_root= bh_root= bh_runroot=
roots() {  # TAG
  berth_root=$work/berth-$1
  bh_root=$work/buildah-$1
  bh_runroot=$work/buildah-run-$1
}
bh() { buildah --root "$bh_root" --runroot "$bh_runroot" --storage-driver overlay "$@"; }
# Every root gets the same base image (the same digest and image ID), as every machine pulling
# debian:bookworm from a registry would: the import's creation time is pinned. Otherwise each
# root's base is another image, and no cache key of one matches another's.
setup_roots() {  # TAG: both tools' state with debian:bookworm, untimed
  local c m
  roots "$1"
  SOURCE_DATE_EPOCH=1700000000 BERTH_ROOT=$berth_root "$berth" image import "$rootfs" \
    debian:bookworm >/dev/null
  c=$(bh from -q scratch)
  m=$(bh mount "$c")
  cp -a "$rootfs/." "$m/"
  bh umount "$c" >/dev/null
  bh commit -q --timestamp 1700000000 "$c" debian:bookworm >/dev/null
  bh rm "$c" >/dev/null
}

logs=$work/logs
mkdir -p "$logs"
timed() {  # LOG CMD... -> wall seconds, or FAIL (the log's tail on stderr)
  local log=$logs/$1 t0 t1
  shift
  t0=$(bench_now)
  if "$@" >"$log" 2>&1; then
    t1=$(bench_now)
    echo "$t1 - $t0" | bc -l
  else
    echo FAIL
    { echo "!! failed: $*"; tail -n 15 "$log" | sed 's/^/!!   /'; } >&2
  fi
}
berth_build() {  # FLAGS...
  BERTH_ROOT=$berth_root "$berth" build --progress plain -f "$ctx/Dockerfile.single" -t bench "$@" \
    "$ctx"
}
buildah_build() {  # FLAGS...
  bh bud --isolation=chroot --layers --tls-verify=false -f "$ctx/Dockerfile.single" -t bench \
    "$@" "$ctx"
}
median() {
  local v
  for v in "$@"; do [[ $v == FAIL ]] && { echo FAIL; return; }; done
  printf '%s\n' "$@" | bench_median
}
failed=0
row() {  # SITUATION BERTH BUILDAH GOAL
  if [[ $2 == FAIL || $3 == FAIL ]]; then
    failed=1
    printf '%-10s %9s %9s %6s %6s\n' "$1" "$2" "$3" - "${4:+<=$4}"
    return
  fi
  local ratio verdict=""
  ratio=$(echo "$2 / $3" | bc -l)
  if [[ -n $4 ]]; then
    verdict=met
    (($(echo "$ratio > $4" | bc -l))) && verdict=MISSED
  fi
  printf '%-10s %8.3fs %8.3fs %6.2f %6s  %s\n' "$1" "$2" "$3" "$ratio" "${4:+<=$4}" "$verdict"
}

echo "setup: debian:bookworm into $((3 * runs)) roots per tool (untimed); registry $reg"
for r in $(seq "$runs"); do
  for side in export import cold; do setup_roots "$side-$r"; done
done
sleep "${BENCH_SETTLE:-35}"  # see bench/build.sh: freshly freed inodes slow file creation

echo "berth: $("$berth" version 2>/dev/null | head -n1); buildah: $(buildah --version | cut -d' ' -f3)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-10s %9s %9s %6s %6s\n' build berth buildah ratio goal
exp_b=() exp_h=() imp_b=() imp_h=() cold_b=() cold_h=()
for r in $(seq "$runs"); do
  roots "export-$r"
  exp_b+=("$(timed "export-$r-berth" berth_build \
    --cache-to "type=registry,ref=$reg/bench/berth-cache:r$r,mode=max")")
  exp_h+=("$(timed "export-$r-buildah" buildah_build --cache-to "$reg/bench/buildah-cache-r$r")")
  roots "import-$r"
  imp_b+=("$(timed "import-$r-berth" berth_build --cache-from "$reg/bench/berth-cache:r$r")")
  imp_h+=("$(timed "import-$r-buildah" buildah_build --cache-from "$reg/bench/buildah-cache-r$r")")
  roots "cold-$r"
  cold_b+=("$(timed "cold-$r-berth" berth_build)")
  cold_h+=("$(timed "cold-$r-buildah" buildah_build)")
done
row export "$(median "${exp_b[@]}")" "$(median "${exp_h[@]}")" 1.0
row import "$(median "${imp_b[@]}")" "$(median "${imp_h[@]}")" 1.0
row cold "$(median "${cold_b[@]}")" "$(median "${cold_h[@]}")" ""
# The import must hit: no RUN step of the fresh berth build ran.
if grep -q '^#[0-9]* DONE' "$logs/import-1-berth" && ! grep -q CACHED "$logs/import-1-berth"; then
  echo "!! berth's import build hit nothing" >&2
  failed=1
fi
echo "cached steps in the import builds: berth $(grep -c 'CACHED' "$logs/import-1-berth")," \
  "buildah $(grep -ci 'using cache' "$logs/import-1-buildah")"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$failed"
