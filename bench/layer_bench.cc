// berth-layer-bench: exports a directory as a layer and compares the throughput with the peer
// pipeline `tar -c DIR | igzip -1 > /dev/null` (or `zstd -1 -T2`) in the same run.
//
//   berth-layer-bench DIR [gzip|zstd] [runs]
//
// Prints MB/s of uncompressed tar per second (MB = 10^6 bytes) for: the two-thread ExportLayer,
// the same chain on one thread, and the peer shell pipeline; the best of `runs` (default 3)
// after one warm-up run that fills the page cache. Build it in a Release tree.
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "archive/export.h"
#include "archive/tar_writer.h"
#include "compress/compress.h"
#include "digest/hashing_writer.h"

namespace {

using berth::Context;
using berth::Result;
using Clock = std::chrono::steady_clock;

// CPU seconds (user + system) of this process's threads, or of its waited-for children.
double CpuSeconds(int who) {
  struct rusage ru;
  getrusage(who, &ru);
  auto sec = [](const struct timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

struct Timing {
  double wall = 1e9;  // best of the runs
  double cpu = 0;     // CPU seconds of that best run
};

// Runs `fn` (returning false on failure) `runs` times after a warm-up; keeps the best wall time.
template <typename Fn>
Timing Measure(int runs, int who, Fn fn) {
  Timing best;
  for (int i = 0; i <= runs; ++i) {
    double cpu0 = CpuSeconds(who);
    Clock::time_point start = Clock::now();
    if (!fn()) {
      std::exit(1);
    }
    double wall = std::chrono::duration<double>(Clock::now() - start).count();
    double cpu = CpuSeconds(who) - cpu0;
    if (i > 0 && wall < best.wall) {
      best = {wall, cpu};
    }
  }
  return best;
}

bool Check(const Result<>& r) {
  if (!r.ok()) {
    std::fprintf(stderr, "error: %s\n", r.error().ToString().c_str());
  }
  return r.ok();
}

// The export chain on the calling thread alone: the baseline the pipeline beats.
Result<> ExportOneThread(const std::string& dir, berth::compress::Format format) {
  berth::DiscardWriter sink;
  berth::digest::HashingWriter blob(sink);
  auto compressor = BERTH_TRY(berth::compress::NewWriter(format, blob));
  berth::digest::HashingWriter diff(*compressor);
  BERTH_TRY(berth::archive::WriteLayerTar(Context::Background(), dir, diff));
  return compressor->Close();
}

bool Shell(const std::string& command) {
  int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe, cert-env33-c)
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "peer command failed: %s\n", command.c_str());
    return false;
  }
  return true;
}

void Print(const char* what, const Timing& t, double mb) {
  std::printf("%-58s %6.3f s %5.0f MB/s   cpu %5.2f s %5.0f MB/cpu-s\n", what, t.wall, mb / t.wall,
              t.cpu, mb / t.cpu);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [gzip|zstd] [runs]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  auto format = berth::compress::ParseFormat(argc > 2 ? argv[2] : "gzip");
  if (!format.ok() || *format == berth::compress::Format::kNone) {
    std::fprintf(stderr, "format must be gzip or zstd\n");
    return 2;
  }
  std::string name(berth::compress::FormatName(*format));
  int runs = argc > 3 ? std::max(1, std::atoi(argv[3])) : 3;
  std::string peer =
      "tar -cf - -C '" + dir + "' . | " +
      (*format == berth::compress::Format::kGzip ? "igzip -1 -c" : "zstd -1 -T2 -c") +
      " > /dev/null";

  berth::archive::ExportOptions options;
  options.compression = *format;
  berth::archive::ExportedLayer layer;
  Timing exported = Measure(runs, RUSAGE_SELF, [&] {
    berth::DiscardWriter sink;
    auto r = berth::archive::ExportLayer(Context::Background(), dir, sink, options);
    if (r.ok()) {
      layer = *r;
    }
    return Check(r.ok() ? Result<>() : r.error());
  });
  Timing single = Measure(runs, RUSAGE_SELF, [&] { return Check(ExportOneThread(dir, *format)); });
  Timing tar_only = Measure(runs, RUSAGE_SELF, [&] {
    berth::DiscardWriter sink;
    auto r = berth::archive::WriteLayerTar(Context::Background(), dir, sink);
    return Check(r.ok() ? Result<>() : r.error());
  });
  Timing peer_t = Measure(runs, RUSAGE_CHILDREN, [&] { return Shell(peer); });
  Timing peer_tar = Measure(runs, RUSAGE_CHILDREN, [&] {
    // Through a pipe: GNU tar writing to /dev/null skips reading the files.
    return Shell("tar -cf - -C '" + dir + "' . | cat > /dev/null");
  });

  double mb = static_cast<double>(layer.uncompressed_size) / 1e6;
  std::printf("layer of %s: %.1f MB tar -> %.1f MB %s, %llu entries (best of %d runs)\n",
              dir.c_str(), mb, static_cast<double>(layer.compressed_size) / 1e6, name.c_str(),
              static_cast<unsigned long long>(layer.tar.entries), runs);
  Print(("berth ExportLayer, 2 threads (tar+sha256 | " + name + "+sha256)").c_str(), exported, mb);
  Print("berth the same chain on 1 thread", single, mb);
  Print("berth WriteLayerTar alone (no hash, no compression)", tar_only, mb);
  Print(("peer " + peer).c_str(), peer_t, mb);
  Print("peer tar -c DIR | cat", peer_tar, mb);
  std::printf(
      "ratio berth ExportLayer / peer pipeline: %.2fx wall, %.2fx cpu "
      "(berth also hashes both streams)\n",
      peer_t.wall / exported.wall, peer_t.cpu / exported.cpu);
  return 0;
}
