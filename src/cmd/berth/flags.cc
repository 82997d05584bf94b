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

}  // namespace berth::cmd
