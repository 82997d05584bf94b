#include "cmd/berth/debug.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "cmd/berth/flags.h"
#include "frontend/dockerfile/convert/convert.h"
#include "frontend/dockerfile/parser/parser.h"
#include "os/file.h"
#include "patternmatcher/ignorefile.h"

namespace berth::cmd {
namespace {

namespace df = frontend::dockerfile;

Result<std::string> ReadInput(const std::string& path) {
  if (path == "-") {
    std::string text((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return text;
  }
  return os::ReadFile(path);
}

}  // namespace

Result<> DebugParse(const std::string& file) {
  std::string text = BERTH_TRY(ReadInput(file));
  std::string name = file == "-" ? "Dockerfile" : file;
  df::parser::Ast ast = BERTH_TRY(df::parser::Parse(text, name));
  std::fputs(df::parser::Dump(ast).c_str(), stdout);
  return {};
}

Result<> DebugGraph(const GraphFlags& flags) {
  std::string file = flags.file.empty() ? flags.context + "/Dockerfile" : flags.file;
  std::string text = BERTH_TRY_CONTEXT(ReadInput(file), "reading the Dockerfile");

  df::convert::Options options;
  options.file_name = file == "-" ? "Dockerfile" : file.substr(file.rfind('/') + 1);
  options.target = flags.target;
  options.build_args = BERTH_TRY(KeyValues(flags.build_args, "--build-arg", true));
  options.labels = BERTH_TRY(KeyValues(flags.labels, "--label", false));
  options.build_contexts = BERTH_TRY(KeyValues(flags.build_contexts, "--build-context", false));
  options.no_cache = flags.no_cache;
  options.no_cache_filter = flags.no_cache_filter;
  if (!flags.platform.empty()) {
    if (flags.platform.find(',') != std::string::npos) {
      return Error::InvalidArgument("--platform: one platform at a time for now");
    }
    options.target_platform = BERTH_TRY_CONTEXT(graph::ParsePlatform(flags.platform), "--platform");
  }
  // <Dockerfile>.dockerignore beside the Dockerfile replaces the context's .dockerignore.
  std::string ignore_path = file != "-" && os::Exists(file + ".dockerignore")
                                ? file + ".dockerignore"
                                : flags.context + "/.dockerignore";
  if (os::Exists(ignore_path)) {
    std::string ignore = BERTH_TRY(os::ReadFile(ignore_path));
    options.context_excludes =
        BERTH_TRY_CONTEXT(patternmatcher::ReadIgnoreFile(ignore), "reading " + ignore_path);
  }

  df::convert::ConvertResult result = BERTH_TRY(df::convert::Convert(text, options));
  for (const df::convert::Warning& w : result.warnings) {
    if (w.line > 0) {
      std::fprintf(stderr, "warning: %s:%d: %s\n", options.file_name.c_str(), w.line,
                   w.message.c_str());
    } else {
      std::fprintf(stderr, "warning: %s\n", w.message.c_str());
    }
  }
  nlohmann::json out = nlohmann::json::parse(result.graph.ToJson(result.target));
  out["config"] = nlohmann::json::parse(df::convert::ConfigToJson(result.config));
  nlohmann::json stages = nlohmann::json::array();
  for (const auto& s : result.stages) {
    stages.push_back({{"name", s.name}, {"index", s.index}, {"base", s.base}});
  }
  out["stages"] = stages;
  std::string dumped = out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::puts(dumped.c_str());
  return {};
}

}  // namespace berth::cmd
