#!/usr/bin/env bash
# Saved builds (issue 6): `berth push` of a saved ~200 MB build from berthd to a local
# docker-registry, against `skopeo copy` of the same image from berthd's registry to the same
# docker-registry (each to a fresh repository, so every blob travels), side by side; then a
# repeated `berth push` of the unchanged image (every blob already there).
# Goals: berth push no slower than skopeo copy; a repeated push under 100 ms.
#
# Needs root (overlay mounts, runc), busybox-static, docker-registry, skopeo, curl and bc.
# Usage: bench/push.sh [RUNS]   (default 3; Release builds of berth and berthd)
set -euo pipefail
self=$(realpath "$0")
cd "$(dirname "$self")/.."
# shellcheck source=bench/lib.sh
. bench/lib.sh
runs=${1:-3}

if [[ $(id -u) -ne 0 ]]; then
  echo "error: bench/push.sh needs root (overlay mounts, runc)" >&2
  exit 1
fi
cmake --preset release >/dev/null
cmake --build --preset release --target berth berthd >/dev/null
berth=$PWD/build/release/bin/berth
berthd=$PWD/build/release/bin/berthd

work=$(mktemp -d /var/tmp/berth-bench-push-XXXXXX)
server_pid=
cleanup() {
  for pid in $server_pid $(cat "$work/registry.pids" 2>/dev/null); do
    kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  done
  bench_remove_work "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

scripts/make-busybox-rootfs "$work/busybox" >/dev/null
BERTH_ROOT=$work/server/builder "$berth" image import "$work/busybox" busybox:latest \
  >/dev/null 2>&1

token=bench-admin-token-$RANDOM$RANDOM
bench_start_berthd "$berthd" "$work/server" "$token"
server_pid=$berthd_pid port=$berthd_port project=$berthd_project
# A fresh docker-registry per push measured: skopeo remembers where it saw a blob (its blob info
# cache) and would mount it from an earlier run's repository instead of uploading it.
start_registry() { bench_start_registry "$work" "$1"; }

# Four layers of 50 MB of incompressible bytes.
mkdir -p "$work/ctx"
cat >"$work/ctx/Dockerfile" <<'EOF'
FROM busybox
RUN head -c 52428800 /dev/urandom > /a
RUN head -c 52428800 /dev/urandom > /b
RUN head -c 52428800 /dev/urandom > /c
RUN head -c 52428800 /dev/urandom > /d
EOF
BERTH_NO_SUMMARY_LINK=1 "$berth" build --progress plain --save --host "127.0.0.1:$port" \
  --token "$token" --project "$project" "$work/ctx" >"$work/build.out" 2>"$work/build.err"
build=$(sed -n 's/^remote build \(b_[a-z2-7]*\):.*/\1/p' "$work/build.err")
if [[ -z $build ]]; then
  cat "$work/build.err" >&2
  exit 1
fi

berth_push() {  # TARGET
  "$berth" push -q "$build" -t "$1" --host "127.0.0.1:$port" --token "$token" \
    --project "$project" >/dev/null
}
skopeo_copy() {  # TARGET
  skopeo copy -q --src-tls-verify=false --dest-tls-verify=false \
    --src-creds "x-token:$token" "docker://127.0.0.1:$port/$project:$build" "docker://$1" \
    >/dev/null
}

declare -a b=() s=() again=()
for ((i = 0; i < runs; i++)); do
  reg_b=$(start_registry "berth-registry-$i")
  reg_s=$(start_registry "skopeo-registry-$i")
  t0=$(bench_now)
  berth_push "$reg_b/app:v1"
  t1=$(bench_now)
  skopeo_copy "$reg_s/app:v1"
  t2=$(bench_now)
  berth_push "$reg_b/app:v1"
  t3=$(bench_now)
  b+=("$(echo "$t1 - $t0" | bc)")
  s+=("$(echo "$t2 - $t1" | bc)")
  again+=("$(echo "$t3 - $t2" | bc)")
done
bm=$(printf '%s\n' "${b[@]}" | bench_median)
sm=$(printf '%s\n' "${s[@]}" | bench_median)
am=$(printf '%s\n' "${again[@]}" | bench_median)
size=$(du -sm "$work/berth-registry-0/data" | cut -f1)
printf '%-28s %10s %10s %8s\n' "push of a saved build" berth skopeo ratio
printf '%-28s %9.3fs %9.3fs %7.2fx\n' "~200 MB, fresh repository" "$bm" "$sm" \
  "$(echo "$bm / $sm" | bc -l)"
printf '%-28s %9.0fms\n' "unchanged, again (berth)" "$(echo "$am * 1000" | bc)"
echo "a registry holds ${size} MB; goals: berth no slower than skopeo, again under 100 ms" \
  "($runs runs each, medians)"
