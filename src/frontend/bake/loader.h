// Internals shared by the bake loaders (hcl_loader.cc, compose_loader.cc) and model.cc; not a
// public interface.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "frontend/bake/model.h"

namespace berth::frontend::bake::internal {

// HCL and JSON bake files (in order) -> targets and groups; fills `variables`.
Result<Config> LoadHcl(const std::vector<const BakeFile*>& files, const LoadOptions& options,
                       std::vector<VariableInfo>* variables);

// Compose files (in order) -> one target per service with `build`, and the `default` group.
// `env` is the environment compose interpolates with (process environment, .env, --var).
Result<Config> LoadCompose(const std::vector<const BakeFile*>& files,
                           const std::map<std::string, std::string>& env);

// Whether `text` is a compose document (a YAML mapping with `services` or `secrets`).
bool LooksLikeCompose(std::string_view text);

// Parses a .env file (KEY=VALUE lines, `export`, quotes, comments, ${VAR} expansion from `env`).
Result<std::map<std::string, std::string>> ParseDotEnv(
    std::string_view text, const std::map<std::string, std::string>& env);

// buildx's target name rule: [a-zA-Z0-9_-]+.
bool IsValidTargetName(std::string_view name);
// Compose service names may contain dots; buildx replaces them with underscores.
std::string SanitizeTargetName(std::string_view name);
// Go's path.Match (`*`, `?`, `[...]`; `/` is not matched by wildcards). A malformed pattern
// matches nothing.
bool PathMatch(std::string_view pattern, std::string_view name);

// buildx's mergeConfig: groups merge their target lists, targets merge with Target::Merge.
void MergeConfig(Config* into, Config from);

// The key by which attest (type=), secret and ssh (id) entries replace each other.
std::string EntryKey(std::string_view field, const std::string& entry);

}  // namespace berth::frontend::bake::internal
