// Fuzzes the whole frontend: parse, instructions, expansion, stage resolution, mounts and graph
// conversion. Any input must give a graph or an error, never a crash, hang or leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "frontend/dockerfile/convert/convert.h"
#include "frontend/dockerfile/convert/mount.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace convert = berth::frontend::dockerfile::convert;
  std::string text(reinterpret_cast<const char*>(data), size);
  convert::Options options;
  options.build_platform = berth::graph::Platform{"linux", "amd64", ""};
  options.build_args["A"] = "x";
  auto result = convert::Convert(text, options);
  if (result.ok()) {
    // The serialisation must be total, too.
    (void)result->graph.ToJson(result->target);
    (void)convert::ConfigToJson(result->config);
  }
  // The first line doubles as a --mount value.
  (void)convert::ParseMount(text.substr(0, text.find('\n')));
  return 0;
}
