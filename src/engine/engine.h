// engine: one `berth build` in-process, the embedded default (DESIGN.md, "Data flow of one
// build"). Joins the parts: the Dockerfile frontend (with a resolver over the local image store
// and registries), the solver (with an OpRunner over overlay snapshots, runc and file ops, and a
// ResultCache over the SQLite cache index), and an exporter to the local image store.
//
// State under $BERTH_ROOT: content/ and images/ (images::Root), snapshots/ (the overlay
// snapshotter), cache.db (the cache index, project ""), cache-mounts/<id> (RUN cache mounts),
// runc/ and bundles/ (the executor), tmp/ (mount points).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"

namespace berth::engine {

struct BuildOptions {
  std::string root;             // $BERTH_ROOT, resolved by the caller
  std::string context;          // the build context directory
  std::string dockerfile_text;  // the Dockerfile's contents
  std::string dockerfile_name = "Dockerfile";
  std::vector<std::string> context_excludes;  // .dockerignore patterns
  std::map<std::string, std::string> build_args;
  std::string target;
  std::vector<std::string> tags;  // names to store the image under
  bool no_cache = false;
  std::vector<std::string> no_cache_filter;   // stages whose steps ignore the cache
  std::map<std::string, std::string> labels;  // --label, added to the image config
  std::optional<int64_t> source_date_epoch;
  size_t parallelism = 2;
  // Where plain progress lines go ("#3 [build 2/4] RUN make", "#3 CACHED", "#3 DONE 0.4s").
  FILE* progress = stderr;
};

struct BuildResult {
  std::string manifest_digest;  // "sha256:..."
  std::string config_digest;
  std::vector<std::string> tags;  // normalised names stored
};

// Runs the whole build. Errors name the Dockerfile line of a failing step.
Result<BuildResult> Build(const Context& ctx, const BuildOptions& options);

}  // namespace berth::engine
