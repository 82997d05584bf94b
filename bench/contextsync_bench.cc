// contextsync_bench: incremental context sync of a generated 10,000-file / ~200 MB context,
// client and server in one process, with the bundle passed through memory (no network).
//
//   contextsync_bench [DIR] [FILES] [MB]
//
// Generates FILES (default 10,000) files totalling about MB (default 200) megabytes in 100
// directories under DIR (default a fresh directory in $TMPDIR or /var/tmp, removed at the end),
// then times each phase of
//   1. the first sync: cold scan (every file hashed), manifest JSON out and in, Missing,
//      WriteBundle, ReadBundle, Materialize;
//   2. a second sync of the unchanged context (stat cache warm: nothing hashed, nothing sent);
//   3. a sync after one file changed (one file hashed and sent).
// The goal: the second sync under 200 ms. Build it in a Release tree
// (cmake --preset bench). The page cache is warm throughout: the files were just written.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "base/io.h"
#include "contextsync/contextsync.h"

namespace {

using berth::Context;
using berth::Result;
using berth::StringReader;
using berth::StringWriter;
namespace cs = berth::contextsync;
using Clock = std::chrono::steady_clock;

template <typename T>
T Check(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "contextsync_bench: %s: %s\n", what, r.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

// CPU milliseconds (user + system) of all of this process's threads so far.
double CpuMs() {
  struct rusage ru {};
  ::getrusage(RUSAGE_SELF, &ru);
  auto ms = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) * 1e3 + static_cast<double>(tv.tv_usec) / 1e3;
  };
  return ms(ru.ru_utime) + ms(ru.ru_stime);
}

double Ms(Clock::time_point since) {
  return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
}

void WriteBytes(const std::string& path, const std::string& data) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || std::fwrite(data.data(), 1, data.size(), f) != data.size() ||
      std::fclose(f) != 0) {
    std::fprintf(stderr, "contextsync_bench: cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

// Half-compressible content: a random run and a repeated text run, as source trees are.
std::string Content(std::mt19937_64& rng, size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    s[i] = i < size / 2 ? static_cast<char>(rng()) : static_cast<char>('a' + i % 23);
  }
  return s;
}

struct Phase {
  const char* name;
  double ms;
  double cpu_ms;
};

struct SyncResult {
  std::vector<Phase> phases;
  cs::ScanStats scan;
  cs::BundleStats bundle;
  cs::MaterializeStats materialize;
  size_t manifest_bytes = 0;
  double total_ms = 0;
  double total_cpu_ms = 0;
};

SyncResult SyncOnce(const std::string& dir, const cs::ScanOptions& options, cs::FileStore& store,
                    const std::string& dest) {
  Context ctx = Context::Background();
  SyncResult r;
  auto t = Clock::now();
  auto start = t;
  double cpu = CpuMs();
  double cpu_start = cpu;
  auto phase = [&](const char* name) {
    double now_cpu = CpuMs();
    r.phases.push_back({name, Ms(t), now_cpu - cpu});
    t = Clock::now();
    cpu = now_cpu;
  };
  cs::Manifest m = Check(cs::Scan(ctx, dir, {}, options, &r.scan), "scan");
  phase("scan");
  std::string json = cs::ManifestToJson(m);
  r.manifest_bytes = json.size();
  phase("manifest to json");
  cs::Manifest received = Check(cs::ParseManifestJson(json), "parse manifest");
  phase("manifest from json");
  std::vector<berth::digest::Digest> missing = Check(store.Missing(received), "missing");
  phase("missing");
  StringWriter wire;
  Check(cs::WriteBundle(ctx, dir, m, missing, wire), "write bundle");
  phase("write bundle");
  StringReader in(wire.Take());
  r.bundle = Check(cs::ReadBundle(ctx, in, store, received, missing), "read bundle");
  phase("read bundle");
  r.materialize = Check(store.Materialize(ctx, received, dest), "materialize");
  phase("materialize");
  r.total_ms = Ms(start);
  r.total_cpu_ms = CpuMs() - cpu_start;
  return r;
}

void Print(const char* title, const SyncResult& r) {
  std::printf("%s: %.1f ms wall, %.1f ms CPU\n", title, r.total_ms, r.total_cpu_ms);
  for (const Phase& p : r.phases) {
    std::printf("  %-22s %9.1f ms wall %9.1f ms CPU\n", p.name, p.ms, p.cpu_ms);
  }
  std::printf(
      "  scanned %llu files (%.1f MB): %llu hashed (%.1f MB), %llu from the stat cache; "
      "manifest %zu bytes\n",
      static_cast<unsigned long long>(r.scan.files), static_cast<double>(r.scan.bytes) / 1e6,
      static_cast<unsigned long long>(r.scan.hashed_files),
      static_cast<double>(r.scan.hashed_bytes) / 1e6,
      static_cast<unsigned long long>(r.scan.cache_hits), r.manifest_bytes);
  std::printf(
      "  sent %llu files, %llu bytes (%llu on the wire); materialized %llu linked, "
      "%llu copied\n",
      static_cast<unsigned long long>(r.bundle.files),
      static_cast<unsigned long long>(r.bundle.bytes),
      static_cast<unsigned long long>(r.bundle.wire_bytes),
      static_cast<unsigned long long>(r.materialize.linked),
      static_cast<unsigned long long>(r.materialize.copied));
}

}  // namespace

int main(int argc, char** argv) {
  std::string base;
  bool remove = false;
  if (argc > 1) {
    base = argv[1];
  } else {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/var/tmp") +
                        "/berth-contextsync-bench-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::perror("mkdtemp");
      return 1;
    }
    base = templ;
    remove = true;
  }
  size_t files = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 10000;
  size_t mb = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 200;
  std::string ctx_dir = base + "/context";
  std::filesystem::create_directories(ctx_dir);
  for (const char* stale : {"/store", "/dest1", "/dest2", "/dest3", "/statcache"}) {
    std::filesystem::remove_all(base + stale);
  }

  std::mt19937_64 rng(42);
  size_t avg = mb * 1000 * 1000 / std::max<size_t>(files, 1);
  auto gen_start = Clock::now();
  // A DIR given twice reuses the context generated the first time (and a fresh store).
  bool reuse = std::filesystem::exists(ctx_dir + "/dir0");
  for (size_t i = 0; i < (reuse ? 0 : files); ++i) {
    std::string dir = ctx_dir + "/dir" + std::to_string(i % 100);
    if (i < 100) {
      std::filesystem::create_directories(dir);
    }
    // Sizes spread from avg/4 to 7*avg/4.
    size_t size = avg / 4 + static_cast<size_t>(rng() % (avg * 3 / 2 + 1));
    WriteBytes(dir + "/file" + std::to_string(i) + ".dat", Content(rng, size));
  }
  std::printf("%s %zu files, about %zu MB, in %s (%.0f ms)\n", reuse ? "reused" : "generated",
              files, mb, ctx_dir.c_str(), Ms(gen_start));
  // Past the file system clock's tick, so the first scan can cache every file.
  ::usleep(100 * 1000);

  cs::ScanOptions options;
  options.cache_dir = base + "/statcache";
  auto store = Check(cs::FileStore::Open(base + "/store"), "open store");

  SyncResult first = SyncOnce(ctx_dir, options, *store, base + "/dest1");
  Print("first sync (cold scan, everything sent)", first);
  SyncResult second = SyncOnce(ctx_dir, options, *store, base + "/dest2");
  Print("second sync (unchanged)", second);
  // Unique content, so that a reused context really changes.
  std::string changed = Content(rng, avg);
  changed += std::to_string(std::chrono::system_clock::now().time_since_epoch().count());
  WriteBytes(ctx_dir + "/dir7/file7.dat", changed);
  SyncResult third = SyncOnce(ctx_dir, options, *store, base + "/dest3");
  Print("third sync (one file changed)", third);
  // The sync proper ends when the server holds every content; materializing the tree for the
  // build is reported on its own.
  auto sync_ms = [](const SyncResult& r) {
    return r.total_ms - r.phases.back().ms;
  };
  std::printf(
      "sync without materialize: first %.1f ms, unchanged %.1f ms, one file changed "
      "%.1f ms (goal for the second sync: under 200 ms)\n",
      sync_ms(first), sync_ms(second), sync_ms(third));
  double load[3] = {0, 0, 0};
  if (::getloadavg(load, 3) > 0) {
    std::printf("load average %.1f on %ld CPUs: wall times grow with it\n", load[0],
                ::sysconf(_SC_NPROCESSORS_ONLN));
  }
  if (remove) {
    std::filesystem::remove_all(base);
  }
  return 0;
}
