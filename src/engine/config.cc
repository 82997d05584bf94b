#include "engine/config.h"

#include <toml++/toml.h>

#include "base/strings.h"
#include "os/file.h"

namespace berth::engine {

Result<EngineConfig> ParseEngineConfig(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Error::InvalidArgument("config.toml:" + std::to_string(where.line) + ":" +
                                  std::to_string(where.column) + ": " +
                                  std::string(e.description()));
  }
  EngineConfig config;
  const toml::node* executor = root.get("executor");
  if (executor == nullptr) {
    return config;
  }
  const toml::table* table = executor->as_table();
  if (table == nullptr) {
    return Error::InvalidArgument("config.toml: executor: expected a table");
  }
  for (const auto& [key, value] : *table) {
    std::string where = "config.toml:" + std::to_string(value.source().begin.line) + ": executor." +
                        std::string(key.str());
    if (key.str() == "runtime") {
      std::optional<std::string> runtime = value.value<std::string>();
      if (!runtime || runtime->empty()) {
        return Error::InvalidArgument(where + ": expected a runtime name or path");
      }
      config.runtime = *runtime;
    } else {
      return Error::InvalidArgument(where + ": unknown key");
    }
  }
  return config;
}

Result<EngineConfig> LoadEngineConfig(const std::string& berth_root) {
  std::string path = berth_root + "/config.toml";
  if (berth_root.empty() || !os::Exists(path)) {
    return EngineConfig{};
  }
  std::string text = BERTH_TRY(os::ReadFile(path));
  Result<EngineConfig> config = ParseEngineConfig(text);
  if (!config.ok()) {
    return std::move(config).error().AddContext(path);
  }
  return config;
}

Result<std::string> ChooseRuntime(const std::string& flag, const EngineConfig& config) {
  std::string runtime = !flag.empty() ? flag : config.runtime;
  if (runtime.empty()) {
    return std::string("runc");
  }
  if (runtime.starts_with('/') || runtime == "runc" || runtime == "crun") {
    return runtime;
  }
  return Error::InvalidArgument("runtime " + QuoteString(runtime) +
                                ": want runc, crun or an absolute path to either");
}

}  // namespace berth::engine
