#include "oci/platform.h"

#include <charconv>
#include <utility>

#include "base/strings.h"
#include "oci/media_types.h"

namespace berth::oci {
namespace {

// Parses a non-negative decimal number that is all of `text`.
std::optional<int> ParseNumber(std::string_view text) {
  int v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0) {
    return std::nullopt;
  }
  return v;
}

// "v7" -> 7, "7" -> 7 (Go's strconv.Atoi after trimming one "v").
std::optional<int> VariantNumber(std::string_view variant) {
  if (!variant.empty() && variant.front() == 'v') {
    variant.remove_prefix(1);
  }
  return ParseNumber(variant);
}

platform::Platform With(const platform::Platform& base, std::string arch, std::string variant) {
  platform::Platform p = base;
  p.architecture = std::move(arch);
  p.variant = std::move(variant);
  return p;
}

// The ordered list of platforms `p` (normalised or not) can run, `p` first. Each entry is
// normalised before comparison, so "arm64/v8" in the list meets "arm64" in an index.
void AppendVector(const platform::Platform& p, std::vector<platform::Platform>& out) {
  out.push_back(p);
  const std::string& arch = p.architecture;
  if (arch == "amd64") {
    std::optional<int> level = VariantNumber(p.variant);
    if (level.has_value() && *level > 1) {
      for (int v = *level - 1; v >= 1; --v) {
        out.push_back(With(p, "amd64", "v" + std::to_string(v)));
      }
    }
    out.push_back(With(p, "386", ""));
  } else if (arch == "arm") {
    std::optional<int> level = VariantNumber(p.variant);
    if (level.has_value() && *level > 5) {
      for (int v = *level - 1; v >= 5; --v) {
        out.push_back(With(p, "arm", "v" + std::to_string(v)));
      }
    }
  } else if (arch == "arm64") {
    std::string variant = p.variant.empty() ? "v8" : p.variant;
    bool found = false;
    auto [major_text, minor_text] = SplitOnce(variant, '.', &found);
    std::optional<int> major = VariantNumber(major_text);
    if (major.has_value() && *major >= 8) {
      int minor = 0;
      // Only a single-digit minor counts ("v8.5"), as containerd reads it.
      if (found && variant.size() == 4) {
        minor = ParseNumber(minor_text).value_or(0);
      }
      auto name = [](int maj, int min) {
        return min == 0 ? "v" + std::to_string(maj)
                        : "v" + std::to_string(maj) + "." + std::to_string(min);
      };
      int maj = *major;
      if (maj == 9) {
        for (int m = minor - 1; m >= 0; --m) {
          out.push_back(With(p, "arm64", name(9, m)));
        }
        // v9.0 branched from v8.5: v9.x runs what v8.(x+5) runs.
        minor += 5;
        maj = 8;
        out.push_back(With(p, "arm64", "v8." + std::to_string(minor)));
      }
      for (int m = minor - 1; m >= 0; --m) {
        out.push_back(With(p, "arm64", name(maj, m)));
      }
    }
    if (variant.starts_with("v8.") || variant.starts_with("v9.")) {
      variant = "v8";
    }
    AppendVector(With(p, "arm", variant), out);
  }
}

// major.minor.build of a Windows os.version ("10.0.17763.5329" -> "10.0.17763").
std::string WindowsBuild(std::string_view version) {
  std::vector<std::string> parts = StrSplit(version, '.');
  if (parts.size() > 3) {
    parts.resize(3);
  }
  return StrJoin(parts, ".");
}

}  // namespace

platform::Platform NormalizePlatform(platform::Platform p) {
  p = platform::Normalize(std::move(p));
  if (p.architecture == "amd64" && p.variant == "v1") {
    p.variant.clear();
  } else if (p.architecture == "386") {
    p.variant.clear();
  } else if (p.architecture == "arm64" &&
             (p.variant == "9" || p.variant == "9.0" || p.variant == "v9.0")) {
    p.variant = "v9";
  }
  return p;
}

PlatformMatcher PlatformMatcher::Compatible(const platform::Platform& wanted,
                                            std::string os_version) {
  PlatformMatcher m;
  std::vector<platform::Platform> raw;
  AppendVector(NormalizePlatform(wanted), raw);
  for (platform::Platform& p : raw) {
    m.preferences_.push_back(NormalizePlatform(std::move(p)));
  }
  m.os_version_ = std::move(os_version);
  return m;
}

PlatformMatcher PlatformMatcher::Exact(const platform::Platform& wanted, std::string os_version) {
  PlatformMatcher m;
  m.preferences_.push_back(NormalizePlatform(wanted));
  m.os_version_ = std::move(os_version);
  return m;
}

std::optional<size_t> PlatformMatcher::Rank(const platform::Platform& candidate,
                                            std::string_view os_version) const {
  platform::Platform c = NormalizePlatform(candidate);
  for (size_t i = 0; i < preferences_.size(); ++i) {
    const platform::Platform& want = preferences_[i];
    if (want != c) {
      continue;
    }
    if (want.os == "windows" && !os_version_.empty() &&
        WindowsBuild(os_version) != WindowsBuild(os_version_)) {
      continue;
    }
    return i;
  }
  return std::nullopt;
}

Result<Descriptor> SelectManifest(const Index& index, const PlatformMatcher& matcher) {
  const Descriptor* best = nullptr;
  size_t best_rank = 0;
  const Descriptor* unplatformed = nullptr;
  std::vector<std::string> offered;
  for (const Descriptor& d : index.manifests) {
    if (!IsManifestMediaType(d.media_type) && !IsIndexMediaType(d.media_type)) {
      continue;
    }
    if (!d.platform.has_value()) {
      if (unplatformed == nullptr) {
        unplatformed = &d;
      }
      continue;
    }
    offered.push_back(d.platform->ToString());
    std::optional<size_t> rank = matcher.Rank(*d.platform);
    if (rank.has_value() && (best == nullptr || *rank < best_rank)) {
      best = &d;
      best_rank = *rank;
    }
  }
  if (best != nullptr) {
    return *best;
  }
  if (unplatformed != nullptr) {
    return *unplatformed;
  }
  std::string wanted = matcher.preferences().empty() ? "?" : matcher.preferences()[0].ToString();
  return Error::NotFound("no manifest for platform " + wanted + " in the index (it has: " +
                         (offered.empty() ? std::string("none") : StrJoin(offered, ", ")) + ")");
}

}  // namespace berth::oci
