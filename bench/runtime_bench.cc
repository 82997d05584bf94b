// Runtime latencies the engine pays per RUN step, printed as medians:
//   - runc start + exit of `true` through executor::RuncExecutor (bundle, spec, spawn, wait);
//   - overlayfs mount + unmount of a snapshot with 10 lower layers through mount(2).
// Needs root, runc and /bin/busybox (busybox-static). Usage: runtime_bench [RUNS]
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "executor/runc_executor.h"
#include "snapshot/fs_util.h"
#include "snapshot/mount.h"
#include "snapshot/overlay_snapshotter.h"

namespace {

using Clock = std::chrono::steady_clock;
using berth::Context;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double Ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

int Fail(const std::string& what) {
  std::fprintf(stderr, "error: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int runs = argc > 1 ? std::atoi(argv[1]) : 20;
  if (runs < 1) {
    return Fail("RUNS must be positive");
  }
  if (::geteuid() != 0) {
    return Fail("runtime_bench needs root (runc, mount)");
  }
  Context ctx = Context::Background();
  auto tmp = berth::snapshot::MakeTempDir("berth-runtime-bench-");
  if (!tmp.ok()) {
    return Fail(tmp.error().ToString());
  }
  std::string dir = *tmp;
  std::string rootfs = dir + "/rootfs";
  std::string cmd = "set -e; mkdir -p " + rootfs + "/bin " + rootfs + "/etc " + rootfs + "/proc " +
                    rootfs + "/sys " + rootfs + "/dev; cp /bin/busybox " + rootfs +
                    "/bin/; ln -s busybox " + rootfs + "/bin/true; ln -s busybox " + rootfs +
                    "/bin/sh; echo root:x:0:0:root:/root:/bin/sh > " + rootfs + "/etc/passwd";
  if (std::system(cmd.c_str()) != 0) {  // NOLINT(concurrency-mt-unsafe)
    return Fail("cannot make a busybox rootfs (is busybox-static installed?)");
  }

  // 1. runc: start + exit of `true`.
  auto executor = berth::executor::RuncExecutor::Create(
      {.state_dir = dir + "/runc", .bundle_dir = dir + "/bundles"});
  if (!executor.ok()) {
    return Fail(executor.error().ToString());
  }
  std::vector<double> runc_ms;
  for (int i = 0; i < runs + 1; ++i) {
    berth::StringWriter out;
    berth::StringWriter err;
    auto start = Clock::now();
    auto code = (*executor)->Run(ctx, {rootfs, {.args = {"/bin/true"}}}, out, err);
    auto took = Clock::now() - start;
    if (!code.ok() || *code != 0) {
      return Fail("runc run: " + (code.ok() ? err.data() : code.error().ToString()));
    }
    if (i > 0) {  // the first run warms caches
      runc_ms.push_back(Ms(took));
    }
  }

  // 2. overlay mount + unmount with 10 lowers.
  auto sn = berth::snapshot::OverlaySnapshotter::Open(dir + "/snapshots");
  if (!sn.ok()) {
    return Fail(sn.error().ToString());
  }
  std::string parent;
  for (int i = 0; i < 10; ++i) {
    // (std::string("l").append(...): g++ 12 -O3 warns falsely on "l" + std::string, PR 105329.)
    std::string key = std::string("l").append(std::to_string(i));
    if (!(*sn)->Prepare(ctx, key + "-a", parent).ok() ||
        !(*sn)->Commit(ctx, key, key + "-a").ok()) {
      return Fail("preparing the layer chain");
    }
    parent = key;
  }
  auto mounts = (*sn)->Prepare(ctx, "top", parent);
  if (!mounts.ok()) {
    return Fail(mounts.error().ToString());
  }
  auto view = (*sn)->View(ctx, "view", parent);
  if (!view.ok()) {
    return Fail(view.error().ToString());
  }
  std::string target = dir + "/mnt";
  ::mkdir(target.c_str(), 0755);
  int mount_runs = std::max(runs * 5, 100);
  // Unmounting a writable overlay syncs its upper file system; a read-only view has none.
  struct Sample {
    std::vector<double> mount, unmount, total;
  };
  auto measure = [&](const std::vector<berth::snapshot::Mount>& ms, Sample* s) -> bool {
    for (int i = 0; i < mount_runs; ++i) {
      auto start = Clock::now();
      auto m = berth::snapshot::MountAll(ms, target);
      if (!m.ok()) {
        std::fprintf(stderr, "error: %s\n", m.error().ToString().c_str());
        return false;
      }
      auto mounted = Clock::now();
      if (auto r = m->Unmount(); !r.ok()) {
        std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
        return false;
      }
      auto end = Clock::now();
      s->mount.push_back(Ms(mounted - start));
      s->unmount.push_back(Ms(end - mounted));
      s->total.push_back(Ms(end - start));
    }
    return true;
  };
  Sample rw;
  Sample ro;
  if (!measure(*mounts, &rw) || !measure(*view, &ro)) {
    return 1;
  }

  std::printf(
      "runc start+exit of `true` (RuncExecutor::Run), median of %d: %.1f ms (min %.1f, "
      "max %.1f)\n",
      runs, Median(runc_ms), *std::min_element(runc_ms.begin(), runc_ms.end()),
      *std::max_element(runc_ms.begin(), runc_ms.end()));
  std::printf("overlay, 10 lowers, mount(2), medians of %d:\n", mount_runs);
  std::printf("  active (upper+work): mount %.3f ms, unmount %.3f ms, total %.3f ms\n",
              Median(rw.mount), Median(rw.unmount), Median(rw.total));
  std::printf("  view (lowers only):  mount %.3f ms, unmount %.3f ms, total %.3f ms\n",
              Median(ro.mount), Median(ro.unmount), Median(ro.total));
  (void)berth::snapshot::RemoveAll(dir);
  return 0;
}
