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
