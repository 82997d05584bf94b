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
