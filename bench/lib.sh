# Shell helpers shared by the bench/*.sh scripts (sourced, not run).

# Unmounts everything mounted below DIR (deepest first), then removes DIR: the cleanup of a
# bench's work directory, whose builds may have left overlay mounts behind when interrupted.
bench_remove_work() {  # DIR
  local m
  for m in $(awk -v w="$1" 'index($5, w) == 1 {print $5}' /proc/self/mountinfo | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$1"
}

# Seconds since the epoch, with nanoseconds.
bench_now() { date +%s.%N; }

# The median of the numbers on stdin, one per line.
bench_median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Starts BERTHD (a berthd binary) on a random loopback port with root ROOT and admin token TOKEN,
# logging to ROOT.log, waits for /healthz, and creates project "bench". Sets berthd_pid,
# berthd_port and berthd_project; the caller stops it by berthd_pid.
bench_start_berthd() {  # BERTHD ROOT TOKEN
  berthd_port=$((20000 + RANDOM % 10000))
  BERTHD_ADMIN_TOKEN=$3 "$1" --listen "127.0.0.1:$berthd_port" --root "$2" >"$2.log" 2>&1 &
  berthd_pid=$!
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$berthd_port/healthz" >/dev/null 2>&1 && break
    sleep 0.05
  done
  berthd_project=$(curl -fs -H "Authorization: Bearer $3" -d '{"name":"bench"}' \
    "http://127.0.0.1:$berthd_port/api/v1/projects" | sed 's/.*"id":"\([^"]*\)".*/\1/')
}

# Starts a docker-registry on a random loopback port storing under WORK/NAME, records its PID in
# WORK/registry.pids (the caller kills those), waits for /v2/, and prints HOST:PORT.
bench_start_registry() {  # WORK NAME
  local dir=$1/$2 port
  port=$((30000 + RANDOM % 20000))
  mkdir -p "$dir/data"
  cat >"$dir/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
EOF
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  echo $! >>"$1/registry.pids"
  for _ in $(seq 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.05
  done
  echo "127.0.0.1:$port"
}
