// Flag helpers shared by berth's commands.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::cmd {

// Parses repeated KEY=VALUE flags (`flag` names them in errors). With `from_env`, a bare KEY
// takes its value from the environment, as docker does for --build-arg, and is skipped when the
// variable is unset.
Result<std::map<std::string, std::string>> KeyValues(const std::vector<std::string>& items,
                                                     const std::string& flag, bool from_env);

// Bytes as docker's --memory and --shm-size take them: a number with an optional b, k, m, g, t
// or p suffix (kb/kib... too, any case), binary units. InvalidArgument names `flag`.
Result<int64_t> ParseByteSize(const std::string& flag, const std::string& text);

}  // namespace berth::cmd
