#!/usr/bin/env bash
# Side-by-side build benchmark (issue 4): `berth build` vs `buildah bud --isolation=chroot
# --layers` on the Dockerfiles of ../shared/bench/ (busybox, single, multi), in one run, in three
# situations each:
#   cold    the base image present, the build cache empty (a fresh berth root / buildah storage
#           with debian:bookworm imported, untimed);
#   warm    a rebuild with no change;
#   change  a rebuild after one copied file changed (`echo 'version N' > src/main.txt`, a new N
#           every time).
# plus, for the Debian-based files, "cold, base unpacked": berth cold with its base's layers
# already unpacked into snapshots (by an untimed FROM-only build), which is the state buildah's
# storage keeps a base in; berth unpacks an imported or pulled image on first use instead.
# Prints the median of RUNS for each tool, the ratio berth/buildah and the goal next to it
# (warm <= 0.2x, change <= 0.5x, cold <= 0.8x).
#
# Both tools get the same Debian minbase rootfs (scripts/make-debian-rootfs, cached in
# $BENCH_DIR/debian-rootfs as bench/images.sh does) as debian:bookworm: berth through
# `berth image import`, buildah through `buildah from scratch` + copy into `buildah mount` +
# `buildah commit`. Each tool has private state under a temporary work dir (BERTH_ROOT; buildah
# --root/--runroot with the overlay storage driver), and the whole bench runs in a private mount
# namespace with an empty directory bound over /var/lib/containers, so neither the machine's
# container storage nor its blob-info cache is touched. Every mount dies with the namespace;
# the work dir is removed on exit.
#
# Needs root, buildah, busybox-static, debootstrap (first run only) and bc; builds a Release
# berth (cmake --preset release). Usage: bench/build.sh [RUNS]   (default 3; BENCH_DIR defaults
# to /var/tmp/berth-bench; BENCH_SHARED to ../shared/bench; KEEP_LOGS=DIR keeps each build's log)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs=${1:-3}
bench_dir=${BENCH_DIR:-/var/tmp/berth-bench}

if [[ $(id -u) -ne 0 ]]; then
  echo "error: bench/build.sh needs root (overlay mounts, runc, buildah)" >&2
  exit 1
fi

# ---- outer half: re-run this script in a private mount namespace ----
if [[ ${BERTH_BENCH_BUILD_INNER:-} != 1 ]]; then
  command -v buildah >/dev/null || scripts/setup
  mkdir -p "$bench_dir"
  cmake --preset release >/dev/null
  cmake --build --preset release --target berth >/dev/null
  rootfs=$bench_dir/debian-rootfs
  if [[ ! -d $rootfs/usr ]]; then
    rm -rf "$rootfs"
    scripts/make-debian-rootfs "$rootfs"
  fi
  made_dir=0
  if [[ ! -d /var/lib/containers ]]; then
    mkdir /var/lib/containers  # only a mount point: the bench binds its own directory over it
    made_dir=1
  fi
  rc=0
  BERTH_BENCH_BUILD_INNER=1 unshare --mount --propagation private "$self" "$runs" || rc=$?
  if [[ $made_dir -eq 1 ]]; then rmdir /var/lib/containers 2>/dev/null || true; fi
  exit "$rc"
fi

# ---- inner half: in the private mount namespace ----
berth=$PWD/build/release/bin/berth
rootfs=$bench_dir/debian-rootfs
work=$(mktemp -d /var/tmp/berth-bench-build-XXXXXX)
cleanup() {
  # Mounts under the work dir are ours (this namespace's); take them down before removing it.
  bench_remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$work/containers" "$work/tmp"
mount --bind "$work/containers" /var/lib/containers
export TMPDIR=$work/tmp

ctx=$work/ctx
shared=${BENCH_SHARED:-$PWD/../shared/bench}
"$shared/make-context" "$ctx" >/dev/null

# Each cold run gets new directories, and nothing is deleted until the end: on ext4 without a
# journal (as here), inodes freed in the last ~30 s are skipped when allocating, so creating
# thousands of files right after an `rm -rf` of as many is several times slower (cp -a of the
# Debian rootfs: 0.7 s on a quiet disk, 2-7 s right after deleting a copy), which would
# penalise whichever tool creates the most files in the timed part (berth unpacking its base).
# Other processes deleting files on the same file system have the same effect.
berth_root= bh_root= bh_runroot=
new_roots() {  # TAG
  berth_root=$work/berth-$1
  bh_root=$work/buildah-$1
  bh_runroot=$work/buildah-run-$1
}
bh() { buildah --root "$bh_root" --runroot "$bh_runroot" --storage-driver overlay "$@"; }
import_berth() {
  BERTH_ROOT=$berth_root "$berth" image import "$rootfs" debian:bookworm >/dev/null
}
import_buildah() {
  local c m
  c=$(bh from -q scratch)
  m=$(bh mount "$c")
  cp -a "$rootfs/." "$m/"
  bh umount "$c" >/dev/null
  bh commit -q "$c" debian:bookworm >/dev/null
  bh rm "$c" >/dev/null
}
# berth keeps a pulled/imported image as layer blobs and unpacks them into snapshots on first
# use; buildah's storage holds them unpacked. A FROM-only build unpacks berth's base untimed,
# for the "cold, base unpacked" row.
mkdir -p "$work/from-only"
echo 'FROM debian:bookworm' >"$work/from-only/Dockerfile"
unpack_berth() {
  BERTH_ROOT=$berth_root "$berth" build --progress plain "$work/from-only" >/dev/null 2>&1
}

logs=$work/logs
mkdir -p "$logs"
failed=0
# timed LOG CMD... -> prints the wall seconds of one run, or FAIL (and the log's tail on stderr)
timed() {
  local log=$logs/$1 t0 t1
  shift
  t0=$(date +%s.%N)
  if "$@" >"$log" 2>&1; then
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
  else
    echo "FAIL"
    {
      echo "!! failed: $*"
      tail -n 15 "$log" | sed 's/^/!!   /'
    } >&2
  fi
  if [[ -n ${KEEP_LOGS:-} ]]; then mkdir -p "$KEEP_LOGS" && cp "$log" "$KEEP_LOGS/"; fi
}
berth_build() {  # NAME
  BERTH_ROOT=$berth_root "$berth" build --progress plain -f "$ctx/Dockerfile.$1" -t "bench-$1" "$ctx"
}
buildah_build() {  # NAME
  bh bud --isolation=chroot --layers -f "$ctx/Dockerfile.$1" -t "bench-$1" "$ctx"
}
median() {  # values... -> the median, or FAIL if any run failed
  local v
  for v in "$@"; do [[ $v == FAIL ]] && { echo FAIL; return; }; done
  printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}


row() {  # NAME SITUATION GOAL BERTH_MEDIAN BUILDAH_MEDIAN
  local ratio verdict
  if [[ $4 == FAIL || $5 == FAIL ]]; then
    failed=1
    printf '%-8s %-20s %9s %9s %6s %6s  %s\n' "$1" "$2" "$4" "$5" - "<=$3" FAIL
    return
  fi
  ratio=$(echo "$4 / $5" | bc -l)
  verdict=met
  (($(echo "$ratio > $3" | bc -l))) && verdict=MISSED
  printf '%-8s %-20s %8.3fs %8.3fs %6.2f %6s  %s\n' "$1" "$2" "$4" "$5" "$ratio" "<=$3" "$verdict"
}

echo "setup: debian:bookworm into $((4 * runs)) berth roots and $((2 * runs)) buildah storages (untimed)"
# Untimed setup of every cold run's state first, then a pause: the imports delete thousands of
# files (buildah's working container), and the timed builds must not pay for that (see above).
for name in single multi; do
  for r in $(seq "$runs"); do
    new_roots "$name-$r"
    import_berth
    import_buildah
    new_roots "$name-$r-unpacked"
    import_berth
    unpack_berth
  done
done
sleep "${BENCH_SETTLE:-35}"

echo "berth: $("$berth" version 2>/dev/null | head -n1); buildah: $(buildah --version | cut -d' ' -f3)"
echo "runs: $runs (medians); buildah storage driver: overlay; base: $rootfs ($(du -sm "$rootfs" | cut -f1) MB)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-8s %-20s %9s %9s %6s %6s  %s\n' workload build berth buildah ratio goal ""

version=0
for name in busybox single multi; do
  debian=1
  [[ $name == busybox ]] && debian=0
  cold_b=() cold_h=() unp_b=() warm_b=() warm_h=() chg_b=() chg_h=()
  for r in $(seq "$runs"); do
    new_roots "$name-$r"
    cold_b+=("$(timed "$name-$r-cold-berth" berth_build "$name")")
    cold_h+=("$(timed "$name-$r-cold-buildah" buildah_build "$name")")
    warm_b+=("$(timed "$name-$r-warm-berth" berth_build "$name")")
    warm_h+=("$(timed "$name-$r-warm-buildah" buildah_build "$name")")
    version=$((version + 1))
    echo "version $version" >"$ctx/src/main.txt"
    chg_b+=("$(timed "$name-$r-change-berth" berth_build "$name")")
    chg_h+=("$(timed "$name-$r-change-buildah" buildah_build "$name")")
    if [[ $debian -eq 1 ]]; then
      new_roots "$name-$r-unpacked"
      unp_b+=("$(timed "$name-$r-cold-unpacked-berth" berth_build "$name")")
    fi
  done
  row "$name" cold 0.8 "$(median "${cold_b[@]}")" "$(median "${cold_h[@]}")"
  if [[ $debian -eq 1 ]]; then
    row "$name" "cold, base unpacked" 0.8 "$(median "${unp_b[@]}")" "$(median "${cold_h[@]}")"
  fi
  row "$name" warm 0.2 "$(median "${warm_b[@]}")" "$(median "${warm_h[@]}")"
  row "$name" "one-file change" 0.5 "$(median "${chg_b[@]}")" "$(median "${chg_h[@]}")"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on this machine skews both tools)"
echo "cold, base unpacked: berth's base layers already in snapshots, as in buildah's storage (same buildah time)"
exit "$failed"
