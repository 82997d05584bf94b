// Platforms ("linux/arm64", "linux/arm/v7"): what an image or a build step runs on.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::platform {

struct Platform {
  std::string os;
  std::string architecture;
  std::string variant;
  std::string ToString() const;  // "linux/arm64", "linux/arm/v7"
  friend bool operator==(const Platform&, const Platform&) = default;
};

// Parses "os/arch[/variant]" (or "arch" alone, meaning linux) and normalises it the way
// containerd does: x86_64 = amd64, aarch64 = arm64, arm64/v8 = arm64, arm = arm/v7.
Result<Platform> ParsePlatform(std::string_view text);
Platform Normalize(Platform p);
// The platform this process runs on.
Platform HostPlatform();

}  // namespace berth::platform
