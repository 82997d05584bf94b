// Helpers shared by the contextsync sources; not part of the component's interface.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::contextsync::internal {

// The names in the directory open at `dir_fd`, without "." and "..", unsorted. `what` names the
// directory in errors.
Result<std::vector<std::string>> ListNames(int dir_fd, const std::string& what);

// Lower-case hex of `bytes`.
std::string HexEncode(std::string_view bytes);

}  // namespace berth::contextsync::internal
