// RUN --mount values: "type=cache,target=/root/.cache,sharing=locked" and friends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"
#include "graph/graph.h"

namespace berth::frontend::dockerfile::convert {

struct MountSpec {
  graph::MountType type = graph::MountType::kBind;
  std::string from;    // stage, image or named context; "" = the build context (bind, cache: none)
  std::string source;  // path inside `from`
  std::string target;
  bool readonly = true;
  std::string id;  // cache id, secret id or ssh id
  graph::CacheSharing sharing = graph::CacheSharing::kShared;
  std::optional<uint32_t> mode;
  std::optional<uint32_t> uid;
  std::optional<uint32_t> gid;
  bool required = false;
  std::string env;    // secret exposed as an environment variable
  uint64_t size = 0;  // tmpfs, bytes
};

// Parses one (already expanded) --mount value with BuildKit's rules and defaults: bind is
// read-only unless rw; cache ids default to the target; secret targets default to
// /run/secrets/<id> and ids to the target's base name; ssh ids default to "default".
// InvalidArgument names the offending key.
Result<MountSpec> ParseMount(std::string_view value);

// Parses a size like "64m", "1g", "1048576" into bytes.
Result<uint64_t> ParseSize(std::string_view text);

}  // namespace berth::frontend::dockerfile::convert
