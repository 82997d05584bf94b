// Platform matching: which manifests of an index can run on a wanted platform, best first.
//
// Follows containerd's matcher (platforms.Only / OnlyStrict) so images resolve the way docker
// and BuildKit resolve them:
//   - platforms compare after normalisation: aarch64 = arm64 = arm64/v8, arm = arm/v7,
//     x86_64 = amd64 = amd64/v1, i386 = 386;
//   - a platform also runs older ones, preferred in this order:
//       amd64/vN  -> amd64/vN-1 ... amd64 -> 386
//       arm/vN    -> arm/vN-1 ... arm/v5                         (N > 5)
//       arm64/v8.x -> arm64/v8.x-1 ... arm64 -> arm/v8 ... arm/v5
//       arm64/v9.x -> arm64/v9.x-1 ... v9 -> arm64/v8.x+5 ... arm64 -> arm/v8 ... arm/v5
//   - Windows: when the wanted platform names an os.version, a candidate must share its
//     major.minor.build.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oci/image.h"
#include "platform/platform.h"

namespace berth::oci {

// platform::Normalize plus the rules it leaves out: amd64/v1 is amd64, 386 has no variant, and
// arm64/v9.0 is arm64/v9.
platform::Platform NormalizePlatform(platform::Platform p);

// Matches candidate platforms against a wanted one. A value; cheap to copy.
class PlatformMatcher {
 public:
  // The wanted platform and every platform it can run (containerd's Only).
  static PlatformMatcher Compatible(const platform::Platform& wanted, std::string os_version = "");
  // The wanted platform only, after normalisation (containerd's OnlyStrict).
  static PlatformMatcher Exact(const platform::Platform& wanted, std::string os_version = "");

  // Whether `candidate` (normalised here) is acceptable.
  bool Match(const platform::Platform& candidate, std::string_view os_version = {}) const {
    return Rank(candidate, os_version).has_value();
  }
  bool Match(const Platform& candidate) const { return Match(candidate, candidate.os_version); }

  // 0 for the wanted platform itself, higher for less preferred fallbacks; nullopt when
  // `candidate` is not acceptable.
  std::optional<size_t> Rank(const platform::Platform& candidate,
                             std::string_view os_version = {}) const;
  std::optional<size_t> Rank(const Platform& candidate) const {
    return Rank(candidate, candidate.os_version);
  }

  // The acceptable platforms, normalised, most preferred first.
  const std::vector<platform::Platform>& preferences() const { return preferences_; }

 private:
  std::vector<platform::Platform> preferences_;
  std::string os_version_;
};

// Picks the manifest of `index` best matching `matcher`: the lowest rank wins, ties go to the
// earlier entry. Entries without a platform are taken only when no entry matches (an index of
// one single-platform image often leaves it out); entries that are neither manifests nor
// indexes (attestations carry "unknown/unknown" and are skipped by platform anyway) are
// ignored. NotFound lists the platforms the index offers.
Result<Descriptor> SelectManifest(const Index& index, const PlatformMatcher& matcher);

}  // namespace berth::oci
