#!/usr/bin/env bash
# berthd's registry against Debian's docker-registry, side by side, with the same client:
# `skopeo copy` of one image (the ~200 MB Debian minbase tree that bench/images.sh uses, one
# gzip layer made by umoci, cached in $BENCH_DIR) into each registry, the same push again
# (every blob already there), and a pull back into an OCI layout. Each run starts both
# registries fresh on loopback and gives skopeo a fresh HOME (no blob-info cache carried over).
# Prints the median of RUNS for each and the ratio berthd/docker-registry. Needs root, skopeo,
# umoci, docker-registry, debootstrap (first run only) and a Release berthd (built here in
# $BUILD_DIR, default build/release).
#
# Usage: bench/registry.sh [RUNS]   (default 3; BENCH_DIR defaults to /var/tmp/berth-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
bench_dir=${BENCH_DIR:-/var/tmp/berth-bench}
build_dir=${BUILD_DIR:-build/release}
mkdir -p "$bench_dir"

if [[ ! -x $build_dir/bin/berthd || -n ${BUILD:-} ]]; then
  if ! out=$({ cmake --preset release -B "$build_dir" && cmake --build "$build_dir" --target berthd; } 2>&1); then
    echo "$out" >&2
    exit 1
  fi
fi
berthd=$PWD/$build_dir/bin/berthd

rootfs=$bench_dir/debian-rootfs-debootstrap
if [[ ! -d $rootfs/usr ]]; then
  rm -rf "$rootfs"
  scripts/make-debian-rootfs --keep-apt-files "$rootfs"
fi
layout=$bench_dir/registry-layout
if [[ ! -f $layout/index.json ]] || ! grep -q '"v1"' "$layout/index.json"; then
  rm -rf "$layout"
  umoci init --layout "$layout" >/dev/null
  umoci new --image "$layout:v1" >/dev/null
  umoci insert --image "$layout:v1" "$rootfs" / >/dev/null
fi
size_mb=$(du -sm "$layout/blobs" | cut -f1)

work=$(mktemp -d /var/tmp/berth-bench-registry-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 200); do curl -s -o /dev/null "http://$1/v2/" && return 0; sleep 0.05; done; return 1; }

# The servers start in this shell (not in a $(...) subshell) so that their PIDs reach `pids`
# and the clean-up stops them.
start_docker_registry() {  # DIR -> sets $reg to host:port
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  cat >"$dir/config.yml" <<CONF
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: 127.0.0.1:$port}
CONF
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  pids+=($!)
  wait_up "127.0.0.1:$port"
  reg=127.0.0.1:$port
}

admin=bench-admin-token-0123456789
start_berthd() {  # DIR -> sets $bh to host:port
  local dir=$1 port
  port=$(free_port)
  mkdir -p "$dir"
  BERTHD_ADMIN_TOKEN=$admin "$berthd" --listen "127.0.0.1:$port" --root "$dir/root" >"$dir/log" 2>&1 &
  pids+=($!)
  wait_up "127.0.0.1:$port"
  bh=127.0.0.1:$port
}

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
declare -A times
record() { times[$1]+="$2"$'\n'; }
timed() {  # NAME COMMAND...
  local name=$1 t0 t1
  shift
  t0=$(now)
  "$@" >/dev/null 2>&1 || { echo "bench: $name failed: $*" >&2; exit 1; }
  t1=$(now)
  record "$name" "$(echo "$t1 - $t0" | bc -l)"
}

for run in $(seq "$runs"); do
  d=$work/run$run
  start_docker_registry "$d/docker-registry"
  start_berthd "$d/berthd"
  project=$(curl -s -H "Authorization: Bearer $admin" -d '{"name":"bench"}' "http://$bh/api/v1/projects" |
    python3 -c 'import sys,json; print(json.load(sys.stdin)["id"])')
  token=$(curl -s -H "Authorization: Bearer $admin" -d '{"name":"bench"}' \
    "http://$bh/api/v1/projects/$project/tokens" | python3 -c 'import sys,json; print(json.load(sys.stdin)["secret"])')
  for side in docker-registry berthd; do
    export HOME=$d/home-$side
    mkdir -p "$HOME"
    if [[ $side == berthd ]]; then
      dest=docker://$bh/$project/app:v1 creds=(--dest-creds "x-token:$token") src_creds=(--src-creds "x-token:$token")
    else
      dest=docker://$reg/app:v1 creds=() src_creds=()
    fi
    timed "push $side" skopeo copy --dest-tls-verify=false "${creds[@]}" "oci:$layout:v1" "$dest"
    timed "push again $side" skopeo copy --dest-tls-verify=false "${creds[@]}" "oci:$layout:v1" "$dest"
    timed "pull $side" skopeo copy --src-tls-verify=false "${src_creds[@]}" "$dest" "oci:$d/out-$side:v1"
  done
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
done

echo "registry: skopeo copy of a ${size_mb} MB image, median of $runs run(s), seconds"
printf '%-12s %10s %16s %8s\n' "" "berthd" "docker-registry" "ratio"
for op in push "push again" pull; do
  b=$(printf '%s' "${times["$op berthd"]}" | median)
  r=$(printf '%s' "${times["$op docker-registry"]}" | median)
  printf '%-12s %10.3f %16.3f %8.2f\n' "$op" "$b" "$r" "$(echo "$b / $r" | bc -l)"
done
