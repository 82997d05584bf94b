// Dockerfile -> build graph: BuildKit's dockerfile2llb for berth.
//
// Convert() parses a Dockerfile, resolves global ARGs and stage names, walks only the stages
// reachable from the target (detecting cycles), expands words with each stage's ENV/ARG scope,
// and emits graph ops: images and the context become Source ops, RUN an Exec op (with its
// --mount list), COPY/ADD/WORKDIR File ops, COPY --link a Merge. Metadata instructions (ENV, CMD,
// ENTRYPOINT, USER, WORKDIR, LABEL, EXPOSE, VOLUME, HEALTHCHECK, STOPSIGNAL, SHELL, ONBUILD)
// become the target stage's image config. Errors name the file and line:
// "Dockerfile:7: COPY: unknown flag: --frm".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "graph/graph.h"

namespace berth::frontend::dockerfile::convert {

struct Healthcheck {
  std::vector<std::string> test;
  int64_t interval = 0;  // nanoseconds
  int64_t timeout = 0;
  int64_t start_period = 0;
  int64_t start_interval = 0;
  int retries = 0;
};

struct HistoryEntry {
  std::string created_by;
  std::string comment;
  bool empty_layer = false;
};

// The parts of an OCI image config a Dockerfile controls, plus history.
struct ImageConfig {
  std::vector<std::string> env;  // "K=V"
  std::vector<std::string> cmd;
  std::vector<std::string> entrypoint;
  std::vector<std::string> shell;  // SHELL; empty = the default ["/bin/sh", "-c"]
  std::string user;
  std::string working_dir;
  std::string stop_signal;
  std::string author;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted, unique
  std::vector<std::string> volumes;        // sorted, unique
  std::optional<Healthcheck> healthcheck;
  std::vector<std::string> on_build;
  std::vector<HistoryEntry> history;
  graph::Platform platform;
};

// What the converter learns about a base image. Implementations resolve from the local image
// store and registries (the engine) or not at all (debug tools).
class ImageResolver {
 public:
  struct Resolved {
    std::string reference;  // normalised, e.g. "docker.io/library/busybox:latest"
    std::string digest;     // manifest digest, "" if unknown
    ImageConfig config;
  };
  virtual ~ImageResolver() = default;
  // NotFound if the image does not exist; other errors pass through.
  virtual Result<Resolved> Resolve(const std::string& reference,
                                   const graph::Platform& platform) const = 0;
};

struct Options {
  std::string file_name = "Dockerfile";
  std::map<std::string, std::string> build_args;
  std::string target;                              // stage name; "" = the last stage
  std::optional<graph::Platform> target_platform;  // default: the build platform
  std::optional<graph::Platform> build_platform;   // default: the host
  std::map<std::string, std::string> labels;       // --label, applied to the target
  bool no_cache = false;
  std::vector<std::string> no_cache_filter;  // stage names
  // .dockerignore patterns, applied to the local context.
  std::vector<std::string> context_excludes;
  // --build-context name=value: "docker-image://ref", or a local directory path.
  std::map<std::string, std::string> build_contexts;
  // Resolves base images' configs (ENV, WORKDIR, USER, ONBUILD, ...). nullptr: bases are not
  // resolved and start with an empty config, as `berth debug graph` does offline.
  const ImageResolver* resolver = nullptr;
  // --network and --add-host defaults for RUN.
  graph::NetworkMode network = graph::NetworkMode::kDefault;
  std::vector<std::string> extra_hosts;
};

struct Warning {
  std::string message;
  int line = 0;  // 0 when not tied to a line
};

struct StageInfo {
  std::string name;  // as written, or its index
  int index = 0;
  std::string base;  // the expanded base name
  graph::Ref ref;    // the stage's final filesystem
};

struct ConvertResult {
  graph::Graph graph;
  graph::Ref target;
  ImageConfig config;             // of the target stage, with --label applied
  std::vector<StageInfo> stages;  // the stages that entered the graph, in conversion order
  std::vector<Warning> warnings;
  std::vector<std::string> secrets;  // secret ids RUN mounts ask for
  std::vector<std::string> ssh;      // ssh ids RUN mounts ask for
};

// Converts `dockerfile` (its text) under `options`.
Result<ConvertResult> Convert(std::string_view dockerfile, const Options& options);

// The image config as pretty JSON (for `berth debug graph`).
std::string ConfigToJson(const ImageConfig& config);

}  // namespace berth::frontend::dockerfile::convert
