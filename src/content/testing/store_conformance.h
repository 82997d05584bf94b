// The conformance suite for content::Store: the behaviour every implementation must show
// (ingest, verification, concurrent commits, resumable ingests, leases, garbage collection).
//
// Run it against an implementation by instantiating the parameterised suite in that
// implementation's test file and linking berth::content_testing:
//
//   INSTANTIATE_TEST_SUITE_P(
//       Local, StoreConformanceTest,
//       ::testing::Values(StoreFactory{"local", [](const std::string& dir) -> ... {
//         return LocalStore::Open(dir);
//       }}),
//       StoreFactoryName);
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "content/store.h"

namespace berth::content::testing {

struct StoreFactory {
  std::string name;
  // Makes a store in `dir`, a fresh empty directory the suite creates and removes. Calling it
  // twice with the same `dir` must give two handles on the same content (for tests that reopen).
  std::function<Result<std::unique_ptr<Store>>(const std::string& dir)> make;
};

inline std::string StoreFactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Writes `data` through ingest `ref` and commits it, asserting success (AlreadyExists counts).
  Digest Put(const std::string& data, const std::string& ref = "");

  Context ctx_ = Context::Background();
  std::string dir_;
  std::unique_ptr<Store> store_;
};

}  // namespace berth::content::testing
