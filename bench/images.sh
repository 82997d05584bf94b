#!/usr/bin/env bash
# Side-by-side image transfer benchmark on the ~200 MB Debian minbase root filesystem that
# `debootstrap --variant=minbase bookworm` makes (kept whole: scripts/make-debian-rootfs
# --keep-apt-files), in one run:
#   export: `berth image import DIR` (tar + gzip + diff-ID and blob SHA-256 + store)
#           vs `tar -c | igzip -1` and `tar -c | gzip -6` (compression only, no hashing/storing);
#   push:   `berth image push` vs `skopeo copy oci-archive:... docker://...` (each tool to its own
#           fresh docker-registry on loopback), and a repeated push of the unchanged image;
#   pull:   `berth image pull` (fetch + verify + store) vs `skopeo copy docker://... oci:DIR`;
#   pull+unpack: `berth image pull` then `berth image unpack` into a directory
#           vs `skopeo copy docker://... oci:DIR` then `umoci unpack` into a bundle.
# Prints each time (median of RUNS) and the ratio berth/peer. Needs root, debootstrap (first
# run only: the rootfs is cached in $BENCH_DIR), docker-registry, skopeo, umoci, isal and a
# Release berth (built by this script in $BUILD_DIR, default build/release).
#
# Usage: bench/images.sh [RUNS]   (default 3; BENCH_DIR defaults to /var/tmp/berth-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bench_dir=${BENCH_DIR:-/var/tmp/berth-bench}
build_dir=${BUILD_DIR:-build/release}
mkdir -p "$bench_dir"

# Quiet unless the build fails (ninja prints its errors on stdout).
if ! out=$({ cmake --preset release -B "$build_dir" && cmake --build "$build_dir" --target berth; } 2>&1); then
  echo "$out" >&2
  exit 1
fi
berth=$PWD/$build_dir/bin/berth

rootfs=$bench_dir/debian-rootfs-debootstrap
if [[ ! -d $rootfs/usr ]]; then
  rm -rf "$rootfs"
  scripts/make-debian-rootfs --keep-apt-files "$rootfs"
fi
size_mb=$(du -sm "$rootfs" | cut -f1)

work=$(mktemp -d /var/tmp/berth-bench-run-XXXXXX)
cleanup() {
  # Registries write their pid beside their config (start_registry runs in a command
  # substitution's subshell, so a shell array would not reach here).
  local f
  for f in "$work"/*/pid; do
    [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
# Unpacked trees are moved aside, not deleted, between runs: on this machine's ext4, unpacking
# right after deleting a similar tree runs many times slower (DESIGN.md, measured facts), which
# would charge one tool for the other's clean-up. They go with $work at the end.
mkdir -p "$work/trash"
set_aside() { [[ ! -e $1 ]] || mv "$1" "$(mktemp -d "$work/trash/XXXXXX")/"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
start_registry() {  # NAME -> prints host:port
  local dir=$work/$1 port
  port=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/config.yml" <<CONF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: 127.0.0.1:$port}
CONF
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break
    sleep 0.05
  done
  echo "127.0.0.1:$port"
}

# time_cmd CMD... -> seconds (wall) of one run
time_cmd() {
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
report() {  # LABEL BERTH_SECONDS PEER_LABEL PEER_SECONDS
  printf '%-34s berth %7.3f s   %-22s %7.3f s   ratio %.2f\n' "$1" "$2" "$3" "$4" \
    "$(echo "$2 / $4" | bc -l)"
}

echo "rootfs: $rootfs ($size_mb MB), runs: $runs (medians)"
export BERTH_ROOT=$work/berth-root

# ---- export ----
b=(); i=(); g=()
for r in $(seq "$runs"); do
  rm -rf "$BERTH_ROOT"
  b+=("$(time_cmd "$berth" image import --no-unpack "$rootfs" bench/debian:1)")
  i+=("$(time_cmd sh -c "tar -C '$rootfs' -cf - . | igzip -1 -c > /dev/null")")
  g+=("$(time_cmd sh -c "tar -C '$rootfs' -cf - . | gzip -6 -c > /dev/null")")
done
be=$(printf '%s\n' "${b[@]}" | median)
report "export (import a rootfs)" "$be" "tar | igzip -1" "$(printf '%s\n' "${i[@]}" | median)"
report "export (import a rootfs)" "$be" "tar | gzip -6" "$(printf '%s\n' "${g[@]}" | median)"

# ---- push ----
"$berth" image save --format oci -o "$work/debian.oci.tar" bench/debian:1
b=(); s=(); again=()
for r in $(seq "$runs"); do
  rb=$(start_registry "reg-berth-$r")
  rs=$(start_registry "reg-skopeo-$r")
  "$berth" image import "$rootfs" "$rb/bench/debian:1" >/dev/null 2>&1
  b+=("$(time_cmd "$berth" image push "$rb/bench/debian:1")")
  again+=("$(time_cmd "$berth" image push "$rb/bench/debian:1")")
  s+=("$(time_cmd skopeo copy --dest-tls-verify=false "oci-archive:$work/debian.oci.tar" "docker://$rs/bench/debian:1")")
done
report "push" "$(printf '%s\n' "${b[@]}" | median)" "skopeo copy" "$(printf '%s\n' "${s[@]}" | median)"
printf '%-34s berth %7.3f s\n' "push again (unchanged)" "$(printf '%s\n' "${again[@]}" | median)"

# ---- pull ----
b=(); s=()
for r in $(seq "$runs"); do
  "$berth" image rm "$rb/bench/debian:1" >/dev/null 2>&1 || true
  rm -rf "$BERTH_ROOT"
  b+=("$(time_cmd "$berth" image pull --no-unpack "$rb/bench/debian:1")")
  rm -rf "$work/skopeo-oci"
  s+=("$(time_cmd skopeo copy --src-tls-verify=false "docker://$rb/bench/debian:1" "oci:$work/skopeo-oci:1")")
done
report "pull (fetch, verify, store)" "$(printf '%s\n' "${b[@]}" | median)" "skopeo copy" "$(printf '%s\n' "${s[@]}" | median)"

# ---- pull + unpack ----
b=(); s=()
for r in $(seq "$runs"); do
  "$berth" image rm "$rb/bench/debian:1" >/dev/null 2>&1 || true
  set_aside "$BERTH_ROOT"
  set_aside "$work/berth-unpacked"
  b+=("$(time_cmd sh -c "'$berth' image pull -q --no-unpack '$rb/bench/debian:1' &&
                         '$berth' image unpack '$rb/bench/debian:1' '$work/berth-unpacked'")")
  set_aside "$work/skopeo-oci"
  set_aside "$work/umoci-bundle"
  s+=("$(time_cmd sh -c "skopeo copy --src-tls-verify=false 'docker://$rb/bench/debian:1' \
                           'oci:$work/skopeo-oci:1' &&
                         umoci unpack --image '$work/skopeo-oci:1' '$work/umoci-bundle'")")
done
# Both trees must hold the same files, or the times compare different work.
if ! diff -r --no-dereference "$work/berth-unpacked" "$work/umoci-bundle/rootfs" >/dev/null; then
  echo "error: berth and umoci unpacked different trees" >&2
  exit 1
fi
report "pull + unpack" "$(printf '%s\n' "${b[@]}" | median)" "skopeo copy + umoci" "$(printf '%s\n' "${s[@]}" | median)"
