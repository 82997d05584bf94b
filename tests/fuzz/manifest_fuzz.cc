// libFuzzer target for the OCI document parsers (oci/image.h), which read manifests, indexes and
// image configs pulled from registries and image archives: untrusted input.
//
// The input goes to every parser. Besides crashes, hangs and sanitizer reports, the target traps
// when a document that parsed does not survive a round trip: its canonical serialisation must
// parse back to the same value and serialise to the same bytes (what keeps digests stable).
// Indexes also go through platform selection.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "graph/graph.h"
#include "oci/image.h"
#include "oci/platform.h"

namespace {

namespace oci = berth::oci;

void Check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

template <typename T, typename Parse>
void RoundTrip(std::string_view input, Parse parse) {
  berth::Result<T> first = parse(input);
  if (!first.ok()) {
    Check(first.error().code() == berth::ErrorCode::kInvalidArgument);
    Check(!first.error().message().empty());
    return;
  }
  const std::string canonical = oci::Serialize(*first);
  berth::Result<T> second = parse(canonical);
  Check(second.ok());
  Check(*second == *first);
  Check(oci::Serialize(*second) == canonical);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  RoundTrip<oci::Manifest>(input, [](std::string_view s) { return oci::ParseManifest(s); });
  RoundTrip<oci::Index>(input, [](std::string_view s) { return oci::ParseIndex(s); });
  RoundTrip<oci::ImageConfig>(input, [](std::string_view s) { return oci::ParseImageConfig(s); });
  RoundTrip<oci::Descriptor>(input, [](std::string_view s) { return oci::ParseDescriptor(s); });

  berth::Result<oci::Index> index = oci::ParseIndex(input);
  if (index.ok()) {
    for (const char* wanted :
         {"linux/amd64/v3", "linux/arm64/v9.2", "linux/arm/v6", "windows/amd64"}) {
      berth::Result<berth::graph::Platform> p = berth::graph::ParsePlatform(wanted);
      Check(p.ok());
      oci::PlatformMatcher matcher = oci::PlatformMatcher::Compatible(*p, "10.0.17763.1");
      berth::Result<oci::Descriptor> picked = oci::SelectManifest(*index, matcher);
      if (picked.ok()) {
        Check(!picked->platform.has_value() || matcher.Match(*picked->platform));
      } else {
        Check(picked.error().code() == berth::ErrorCode::kNotFound);
      }
    }
  }
  return 0;
}
