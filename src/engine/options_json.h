// BuildOptions as JSON: what a remote build sends to berthd, and what berthd stores as the
// build's options (without secret values).
//
// Only the options that mean the same on another machine travel: the Dockerfile and its name,
// .dockerignore patterns, build args, named contexts that are images (docker-image://),
// target, tags, cache flags, --pull, labels, annotations, network, hosts, ulimits, shm size,
// outputs, SOURCE_DATE_EPOCH, and (only when asked) secret values. Paths on the client (the
// context, local named contexts, ssh sockets) and local settings (root, progress, parallelism)
// do not.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "engine/engine.h"

namespace berth::engine {

// `with_secrets` includes secret values (base64); the stored record never has them.
std::string OptionsToJson(const BuildOptions& options, bool with_secrets);

// Parses what OptionsToJson wrote; untrusted input: InvalidArgument names the bad field.
// Fields it does not set keep BuildOptions' defaults.
Result<BuildOptions> OptionsFromJson(std::string_view text);

}  // namespace berth::engine
