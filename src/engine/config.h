// The engine's settings in `$BERTH_ROOT/config.toml` (the registry component reads its own
// `[registry."host"]` tables from the same file):
//
//   [executor]
//   runtime = "crun"      # the OCI runtime for RUN: runc (default), crun, or an absolute path
//
//   [cache]
//   cap = "20g"           # the embedded default's cache size cap: after each build the least
//                         # recently used entries go until the rest fit (bytes, or a number
//                         # with k, m, g or t: binary units); none by default
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::engine {

struct EngineConfig {
  std::string runtime;          // "" = runc
  int64_t cache_cap_bytes = 0;  // 0 = no cap
};

// Parses the TOML text of a config.toml; only the `executor` and `cache` tables are read.
// InvalidArgument names the file, line and key.
Result<EngineConfig> ParseEngineConfig(std::string_view text);
// Reads `<berth_root>/config.toml`; a missing file gives the defaults.
Result<EngineConfig> LoadEngineConfig(const std::string& berth_root);

// The runtime a build uses: `flag` (--runtime) when set, else the config's, else runc. A name
// must be runc or crun (berth drives them through the same command line); a path is taken as
// is. InvalidArgument for any other name.
Result<std::string> ChooseRuntime(const std::string& flag, const EngineConfig& config);

}  // namespace berth::engine
