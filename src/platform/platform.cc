#include "platform/platform.h"

#include <sys/utsname.h>

#include <cctype>
#include <vector>

#include "base/strings.h"

namespace berth::platform {

std::string Platform::ToString() const {
  std::string out = os + "/" + architecture;
  if (!variant.empty()) {
    out += "/" + variant;
  }
  return out;
}

Platform Normalize(Platform p) {
  p.os = ToLower(p.os);
  p.architecture = ToLower(p.architecture);
  p.variant = ToLower(p.variant);
  if (p.os == "macos") {
    p.os = "darwin";
  }
  const std::string& a = p.architecture;
  if (a == "i386" || a == "x86") {
    p.architecture = "386";
  } else if (a == "x86_64" || a == "x86-64") {
    p.architecture = "amd64";
  } else if (a == "aarch64" || a == "arm64") {
    p.architecture = "arm64";
    if (p.variant == "8" || p.variant == "v8" || p.variant == "v8.0") {
      p.variant.clear();
    }
  } else if (a == "armhf") {
    p.architecture = "arm";
    p.variant = "v7";
  } else if (a == "armel") {
    p.architecture = "arm";
    p.variant = "v6";
  } else if (a == "arm") {
    if (p.variant.empty() || p.variant == "7") {
      p.variant = "v7";
    } else if (p.variant == "5" || p.variant == "6" || p.variant == "8") {
      p.variant = "v" + p.variant;
    }
  }
  return p;
}

Result<Platform> ParsePlatform(std::string_view text) {
  std::vector<std::string> parts = StrSplit(text, '/');
  for (const std::string& part : parts) {
    if (part.empty()) {
      return Error::InvalidArgument("invalid platform \"" + std::string(text) +
                                    "\": want os/arch[/variant]");
    }
    for (char c : part) {
      if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.') {
        return Error::InvalidArgument("invalid platform \"" + std::string(text) +
                                      "\": unexpected character");
      }
    }
  }
  Platform p;
  if (parts.size() == 1) {
    p.os = "linux";
    p.architecture = parts[0];
  } else if (parts.size() == 2 || parts.size() == 3) {
    p.os = parts[0];
    p.architecture = parts[1];
    if (parts.size() == 3) {
      p.variant = parts[2];
    }
  } else {
    return Error::InvalidArgument("invalid platform \"" + std::string(text) +
                                  "\": want os/arch[/variant]");
  }
  return Normalize(p);
}

Platform HostPlatform() {
  struct utsname u {};
  Platform p{"linux", "amd64", ""};
  if (::uname(&u) == 0) {
    p.architecture = u.machine;
  }
  return Normalize(p);
}

}  // namespace berth::platform
