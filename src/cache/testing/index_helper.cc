// cache_index_helper: a second process for the cache index's multi-process tests.
//
//   cache_index_helper put DB PROJECT SNAPSHOT KEYS START_FILE
//     waits until START_FILE exists (so that several processes start together), then puts
//     "key-0" .. "key-<KEYS-1>" with snapshot SNAPSHOT and prints "<key> <stored snapshot>" for
//     each. Exits 1 with "error: ..." on stderr at the first failure.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "cache/sqlite_index.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "error: %s\n", message.c_str());
  return 1;
}

int Put(char** argv) {
  const std::string path = argv[2];
  const std::string project = argv[3];
  const std::string snapshot = argv[4];
  const int keys = std::atoi(argv[5]);
  const std::string start_file = argv[6];

  berth::Result<std::unique_ptr<berth::cache::SqliteIndex>> index =
      berth::cache::SqliteIndex::Open({.path = path});
  if (!index.ok()) {
    return Fail(index.error().ToString());
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (::access(start_file.c_str(), F_OK) != 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Fail("timed out waiting for " + start_file);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  berth::Context ctx = berth::Context::Background();
  for (int k = 0; k < keys; ++k) {
    std::string key = "key-" + std::to_string(k);
    berth::cache::Record record;
    record.snapshot = snapshot;
    record.size = 1;
    berth::Result<berth::cache::Record> stored = (*index)->Put(ctx, project, key, record);
    if (!stored.ok()) {
      return Fail(stored.error().ToString());
    }
    std::printf("%s %s\n", key.c_str(), stored->snapshot.c_str());
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::string(argv[1]) == "put") {
    return Put(argv);
  }
  std::fprintf(stderr, "usage: cache_index_helper put DB PROJECT SNAPSHOT KEYS START_FILE\n");
  return 2;
}
