// libFuzzer target for the bake model (frontend/bake): the input is split at "\n---8<---\n"
// into up to three texts, loaded as docker-bake.hcl, docker-bake.json and compose.yaml (each
// alone, then all three together, as buildx merges them), with a few --set overrides; what
// loads is resolved (every target, then the default group) and printed. Besides crashes, hangs
// and sanitizer reports, the target traps when an error from an HCL or JSON file lacks its
// "<file>:" prefix, or when the printed document is not valid JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "frontend/bake/model.h"

namespace {

namespace bake = berth::frontend::bake;

void Check(bool condition) {
  if (!condition) {
    __builtin_trap();
  }
}

void Run(const std::vector<bake::BakeFile>& files, bool check_prefix) {
  bake::LoadOptions options;
  options.env = {{"TAG", "1"}, {"FOO", "a,b"}};
  options.overrides = {"*.args.X=1", "*.tags+=extra"};
  options.max_eval_work = 200000;
  options.max_string_bytes = 1 << 16;
  berth::Result<bake::Resolved> r = bake::Load(files, options);
  if (!r.ok()) {
    // Overrides name no target when there are none; that error has no file.
    const std::string& m = r.error().message();
    if (check_prefix && m.find("could not find any target") == std::string::npos) {
      Check(m.starts_with(files[0].name + ":"));
    }
    return;
  }
  (void)bake::ListTargets(r->config);
  (void)bake::ListVariables(r->variables);
  std::vector<std::string> names;
  for (const bake::Target& t : r->config.targets) {
    names.push_back(t.name);
    if (names.size() >= 16) {
      break;
    }
  }
  for (const std::vector<std::string>& request : {names, std::vector<std::string>{}}) {
    berth::Result<bake::Selection> s = bake::Resolve(*r, request);
    if (s.ok()) {
      std::string out = bake::PrintJson(*s);
      Check(nlohmann::json::accept(out));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> parts;
  constexpr std::string_view kSep = "\n---8<---\n";
  while (parts.size() < 2) {
    size_t at = input.find(kSep);
    if (at == std::string_view::npos) {
      break;
    }
    parts.emplace_back(input.substr(0, at));
    input.remove_prefix(at + kSep.size());
  }
  parts.emplace_back(input);
  parts.resize(3);
  const std::vector<bake::BakeFile> files = {
      {"docker-bake.hcl", parts[0]}, {"docker-bake.json", parts[1]}, {"compose.yaml", parts[2]}};
  for (const bake::BakeFile& f : files) {
    Run({f}, f.name != "compose.yaml");
  }
  // The whole input as each kind, then the three together.
  const std::string whole(reinterpret_cast<const char*>(data), size);
  Run({{"docker-bake.hcl", whole}}, true);
  Run({{"compose.yaml", whole}}, false);
  Run(files, false);
  return 0;
}
