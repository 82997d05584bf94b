// Helpers for the bake tests: load in-memory files and look at the --print document.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "frontend/bake/model.h"

namespace berth::frontend::bake::testing {

inline Result<Selection> LoadAndResolve(const std::vector<BakeFile>& files,
                                        const std::vector<std::string>& names = {},
                                        const LoadOptions& options = {}) {
  Resolved r = BERTH_TRY(Load(files, options));
  return Resolve(r, names);
}

// The --print document as JSON; an error fails the test and yields null.
inline nlohmann::json PrintOf(const std::vector<BakeFile>& files,
                              const std::vector<std::string>& names = {},
                              const LoadOptions& options = {}) {
  Result<Selection> s = LoadAndResolve(files, names, options);
  EXPECT_TRUE(s.ok()) << (s.ok() ? "" : s.error().ToString());
  if (!s.ok()) {
    return nullptr;
  }
  return nlohmann::json::parse(PrintJson(*s));
}

// The error message of loading and resolving; "" (and a test failure) when it succeeds.
inline std::string ErrorOf(const std::vector<BakeFile>& files,
                           const std::vector<std::string>& names = {},
                           const LoadOptions& options = {}) {
  Result<Selection> s = LoadAndResolve(files, names, options);
  EXPECT_FALSE(s.ok()) << "expected an error";
  return s.ok() ? "" : s.error().ToString();
}

}  // namespace berth::frontend::bake::testing
