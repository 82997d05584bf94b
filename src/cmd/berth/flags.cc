#include "cmd/berth/flags.h"

#include <cstdlib>

#include "base/strings.h"

namespace berth::cmd {

Result<std::map<std::string, std::string>> KeyValues(const std::vector<std::string>& items,
                                                     const std::string& flag, bool from_env) {
  std::map<std::string, std::string> out;
  for (const std::string& item : items) {
    bool found = false;
    auto [key, value] = SplitOnce(item, '=', &found);
    if (key.empty() || (!found && !from_env)) {
      return Error::InvalidArgument(flag + ": invalid value \"" + item + "\": want KEY=VALUE");
    }
    if (!found) {
      const char* env = std::getenv(key.c_str());  // NOLINT(concurrency-mt-unsafe)
      if (env == nullptr) {
        continue;
      }
      value = env;
    }
    out[key] = value;
  }
  return out;
}

Result<int64_t> ParseByteSize(const std::string& flag, const std::string& text) {
  auto bad = [&] {
    return Error::InvalidArgument(flag + " " + text +
                                  ": want a size in bytes, such as 50000000000, 500m or 20g");
  };
  char* end = nullptr;
  double value = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || value < 0 || text.starts_with('-') || text.starts_with('+')) {
    return bad();
  }
  std::string unit = ToLower(Trim(end));
  if (unit.ends_with("ib")) {
    unit = unit.substr(0, unit.size() - 2);
  } else if (unit.size() == 2 && unit.ends_with('b')) {
    unit.pop_back();
  }
  double scale = 1;
  static constexpr std::pair<const char*, double> kUnits[] = {{"", 1},
                                                              {"b", 1},
                                                              {"k", 1024.0},
                                                              {"m", 1048576.0},
                                                              {"g", 1073741824.0},
                                                              {"t", 1099511627776.0},
                                                              {"p", 1125899906842624.0}};
  bool known = false;
  for (const auto& [name, s] : kUnits) {
    if (unit == name) {
      scale = s;
      known = true;
    }
  }
  double bytes = value * scale;
  if (!known || bytes >= 9.2e18) {
    return bad();
  }
  return static_cast<int64_t>(bytes);
}

}  // namespace berth::cmd
