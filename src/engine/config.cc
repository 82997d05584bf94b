#include "engine/config.h"

#include <limits>
#include <utility>

#include <toml++/toml.h>

#include "base/strings.h"
#include "os/file.h"

namespace berth::engine {
namespace {

// A size: a non-negative integer of bytes, or a string "512", "100k", "20g" (k, m, g, t, with an
// optional b or ib; binary units, any case).
Result<int64_t> ByteSize(const std::string& where, const toml::node& value) {
  auto bad = [&] {
    return Error::InvalidArgument(where +
                                  ": expected a size such as 20g, 512m or a number of bytes");
  };
  if (std::optional<int64_t> n = value.value_exact<int64_t>()) {
    if (*n < 0) {
      return bad();
    }
    return *n;
  }
  std::optional<std::string> text = value.value_exact<std::string>();
  if (!text || text->empty()) {
    return bad();
  }
  size_t digits = text->find_first_not_of("0123456789");
  if (digits == 0 || digits > 15) {
    return bad();
  }
  int64_t number = std::stoll(text->substr(0, digits == std::string::npos ? text->size() : digits));
  std::string unit = digits == std::string::npos ? "" : ToLower(text->substr(digits));
  static constexpr std::pair<const char*, int> kUnits[] = {
      {"", 0},     {"b", 0},  {"k", 10},  {"kb", 10},  {"kib", 10}, {"m", 20},  {"mb", 20},
      {"mib", 20}, {"g", 30}, {"gb", 30}, {"gib", 30}, {"t", 40},   {"tb", 40}, {"tib", 40}};
  for (const auto& [name, shift] : kUnits) {
    if (unit == name) {
      if (number > (std::numeric_limits<int64_t>::max() >> shift)) {
        return bad();
      }
      return number << shift;
    }
  }
  return bad();
}

}  // namespace

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
  for (const char* name : {"executor", "cache"}) {
    const toml::node* node = root.get(name);
    if (node == nullptr) {
      continue;
    }
    const toml::table* table = node->as_table();
    if (table == nullptr) {
      return Error::InvalidArgument(std::string("config.toml: ") + name + ": expected a table");
    }
    for (const auto& [key, value] : *table) {
      std::string where = "config.toml:" + std::to_string(value.source().begin.line) + ": " + name +
                          "." + std::string(key.str());
      if (std::string_view(name) == "executor" && key.str() == "runtime") {
        std::optional<std::string> runtime = value.value<std::string>();
        if (!runtime || runtime->empty()) {
          return Error::InvalidArgument(where + ": expected a runtime name or path");
        }
        config.runtime = *runtime;
      } else if (std::string_view(name) == "cache" && key.str() == "cap") {
        config.cache_cap_bytes = BERTH_TRY(ByteSize(where, value));
      } else {
        return Error::InvalidArgument(where + ": unknown key");
      }
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
