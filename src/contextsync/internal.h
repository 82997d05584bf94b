// Helpers shared by the contextsync sources; not part of the component's interface.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::contextsync::internal {

// The names in the directory open at `dir_fd`, without "." and "..", unsorted. `what` names the
// directory in errors.
Result<std::vector<std::string>> ListNames(int dir_fd, const std::string& what);

// Opens `path` (a validated manifest path) beneath the directory `root` with `flags` (which
// should hold O_NOFOLLOW and O_CLOEXEC), following no symlink on the way: openat2 with
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or one component at a time before Linux 5.6. So a tree
// changed behind our back cannot lead us outside it.
Result<UniqueFd> OpenBeneath(int root, const std::string& path, int flags);

// Lower-case hex of `bytes`.
std::string HexEncode(std::string_view bytes);

}  // namespace berth::contextsync::internal
