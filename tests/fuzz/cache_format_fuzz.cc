// libFuzzer target for the cache export document (cache/export_format.h), which `--cache-from`
// reads from any registry or directory a user names: untrusted input.
//
// Besides crashes, hangs and sanitizer reports, the target traps when a config that parsed does
// not survive a round trip: its serialisation must parse back to the same value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cache/export_format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  berth::Result<berth::cache::CacheConfig> parsed = berth::cache::ParseCacheConfig(input);
  if (!parsed.ok()) {
    return 0;
  }
  berth::Result<berth::cache::CacheConfig> again =
      berth::cache::ParseCacheConfig(berth::cache::SerializeCacheConfig(*parsed));
  if (!again.ok() || !(*again == *parsed)) {
    __builtin_trap();
  }
  return 0;
}
