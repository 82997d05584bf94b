// The conformance suite for cache::Index: the behaviour every implementation must show (records
// per project, first-writer-wins Put, layers, LRU eviction, two-phase removal, GC roots,
// concurrent writers, reopening).
//
// Run it against an implementation by instantiating the parameterised suite in that
// implementation's test file and linking berth::cache_testing:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Sqlite, IndexConformanceTest,
//       ::testing::Values(IndexFactory{"sqlite", [](const std::string& dir, auto clock) {
//         return ... SqliteIndex::Open({.path = dir + "/index.db", .clock = clock}) ...;
//       }}),
//       IndexFactoryName);
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "cache/index.h"

namespace berth::cache::testing {

struct IndexFactory {
  std::string name;
  // Makes an index in `dir`, a fresh empty directory the suite creates and removes, reading time
  // from `clock`. Calling it twice with the same `dir` must give two handles on the same index
  // (as two processes would have).
  std::function<Result<std::unique_ptr<Index>>(const std::string& dir, std::function<Time()> clock)>
      make;
};

// Names the parameter in gtest's messages (instead of a byte dump).
inline void PrintTo(const IndexFactory& factory, std::ostream* os) {
  *os << factory.name;
}

inline std::string IndexFactoryName(const ::testing::TestParamInfo<IndexFactory>& info) {
  return info.param.name;
}

class IndexConformanceTest : public ::testing::TestWithParam<IndexFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Another handle on the same index (a second process, or the index after a restart).
  std::unique_ptr<Index> Reopen();

  // A fake clock: starts at a fixed instant and moves only when Advance() is called.
  Time Now() const;
  void Advance(std::chrono::seconds s);

  Context ctx_ = Context::Background();
  std::string dir_;
  std::atomic<int64_t> now_seconds_{1'800'000'000};
  std::unique_ptr<Index> index_;
};

// A record with the given snapshot and size and some metadata.
Record MakeRecord(const std::string& snapshot, int64_t size = 100);
// A gzip layer whose digests derive from `seed`.
Layer MakeLayer(const std::string& seed, const std::string& compression = "gzip");

}  // namespace berth::cache::testing
