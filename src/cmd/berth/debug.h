// `berth debug ...`: commands that show what the frontend makes of a Dockerfile.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::cmd {

// `berth debug parse FILE`: prints the AST in the parser-testfiles dump format.
Result<> DebugParse(const std::string& file);

struct GraphFlags {
  std::string context = ".";
  std::string file;  // -f; "" = CONTEXT/Dockerfile; "-" = stdin
  std::string target;
  std::vector<std::string> build_args;  // "K=V" or "K" (value from the environment)
  std::string platform;
  std::vector<std::string> build_contexts;  // "name=value"
  std::vector<std::string> labels;          // "K=V"
  bool no_cache = false;
  std::vector<std::string> no_cache_filter;
};

// `berth debug graph`: prints the build graph and image config as JSON.
Result<> DebugGraph(const GraphFlags& flags);

}  // namespace berth::cmd
