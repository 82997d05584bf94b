// The conformance suite for metastore::Store: the behaviour every backend must show (CRUD,
// uniqueness, not-found, token authentication, listing order and pages, build status rules,
// crash recovery, concurrent writers, migrations on reopen).
//
// Run it against a backend by instantiating the parameterised suite in that backend's test file
// and linking berth::metastore_testing:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Sqlite, StoreConformanceTest,
//       ::testing::Values(StoreFactory{"sqlite", [](const std::string& dir) {
//         return Result<std::string>("sqlite://" + dir + "/meta.db");
//       }}),
//       StoreFactoryName);
//
// The suite opens stores through metastore::Open(url), so it tests the URL factory too.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "metastore/store.h"

namespace berth::metastore::testing {

struct StoreFactory {
  std::string name;
  // The URL of a fresh, empty store. `dir` is a fresh directory the suite creates and removes
  // (a file backend keeps its file there; a server backend creates a new database and may
  // ignore it). Opening the URL twice gives two handles on one store, as two processes would.
  std::function<Result<std::string>(const std::string& dir)> new_url;
};

inline void PrintTo(const StoreFactory& factory, std::ostream* os) {
  *os << factory.name;
}

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Another handle on the store at `url` (default: this test's), reading the fake clock.
  std::unique_ptr<Store> Reopen(const std::string& url = {});
  // A fresh empty store's URL, in a new directory under this test's.
  std::string NewUrl();

  // A fake clock: starts at a fixed instant, moves only with Advance().
  Time Now() const;
  void Advance(std::chrono::seconds s);

  Context ctx_ = Context::Background();
  std::string dir_;
  std::string url_;
  std::atomic<int64_t> now_seconds_{1'800'000'000};
  std::unique_ptr<Store> store_;
  int dirs_ = 0;
};

}  // namespace berth::metastore::testing
