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
#include "engine/output.h"
#include "engine/progress.h"

namespace berth::engine {

// A --ulimit: NAME=SOFT[:HARD], e.g. nofile=1024:2048.
struct Ulimit {
  std::string name;  // "nofile", "nproc", "core", ... (RLIMIT_ without the prefix, lower case)
  int64_t soft = 0;
  int64_t hard = 0;
};

struct BuildOptions {
  // The bake target this build is ("" for `berth build`): progress names its steps with it.
  std::string name;
  std::string root;  // $BERTH_ROOT, resolved by the caller
  // The project whose cache the build uses (berthd); "" is the embedded default's own cache.
  std::string project;
  std::string context;          // the build context directory
  std::string dockerfile_text;  // the Dockerfile's contents
  std::string dockerfile_name = "Dockerfile";
  std::vector<std::string> context_excludes;  // .dockerignore patterns
  std::map<std::string, std::string> build_args;
  // --build-context name=DIR | docker-image://REF. A directory's own .dockerignore applies.
  // In BuildAll, also target:NAME: the image another of the builds makes.
  std::map<std::string, std::string> build_contexts;
  std::string target;
  std::vector<std::string> tags;  // -t: names for the image outputs
  bool no_cache = false;
  std::vector<std::string> no_cache_filter;   // stages whose steps ignore the cache
  bool pull = false;                          // --pull: resolve every base image at its registry
  std::map<std::string, std::string> labels;  // --label, added to the image config
  // --annotation, added to the image manifest (only manifest annotations exist for a
  // single-platform build).
  std::map<std::string, std::string> annotations;
  // --secret id=...: the secret values by id (files read, env vars looked up by the caller).
  // They reach RUN --mount=type=secret on tmpfs only: never a layer, a cache key or a log.
  std::map<std::string, std::string> secrets;
  // --ssh id=SOCKET: agent sockets by id ("default" for RUN --mount=type=ssh without id).
  std::map<std::string, std::string> ssh;
  std::string network = "default";       // --network: default|host|none
  std::vector<std::string> extra_hosts;  // --add-host name=ip / name:ip
  std::vector<Ulimit> ulimits;           // --ulimit
  uint64_t shm_size = 0;                 // --shm-size bytes; 0 = 64 MiB
  // Where the result goes; empty = type=image (the local store) under `tags`.
  std::vector<Output> outputs;
  // --cache-from / --cache-to values (see cache_io.h): caches to import results from, and to
  // export this build's results to once it is built.
  std::vector<std::string> cache_from;
  std::vector<std::string> cache_to;
  // --attest values (with --provenance and --sbom folded in; see attest.h): attestations made
  // for the image outputs.
  std::vector<std::string> attests;
  // Build only, export nothing (bake's cacheonly: a target built as another's context).
  bool cache_only = false;
  std::optional<int64_t> source_date_epoch;
  size_t parallelism = 2;
  // The OCI runtime for RUN: runc, crun or an absolute path; "" = config.toml's [executor]
  // runtime, else runc (see engine/config.h).
  std::string runtime;
  // Where progress goes (nullptr: nowhere), drawn as `progress_mode` says (see progress.h).
  FILE* progress = stderr;
  ProgressMode progress_mode = ProgressMode::kPlain;
  // When set, progress goes here instead (berthd streams it to the client).
  Renderer* renderer = nullptr;
  // Where outputs with dest=- write (a tar stream).
  FILE* stdout_stream = stdout;
};

struct BuildResult {
  // Set when an output made an image (image, registry, oci, docker).
  std::string manifest_digest;  // "sha256:..."
  std::string config_digest;
  int64_t manifest_size = 0;
  std::string manifest_media_type;
  std::string platform;           // "linux/amd64"
  std::vector<std::string> tags;  // normalised names stored or pushed
  std::vector<std::string> pushed;
};

// Unpacks the stored image `name` (for the host platform) into the shared snapshot chains that
// builds start from, as `buildah from` does, so that the first build on it needs no unpacking.
// `berth image import` and `pull` call it. Returns the number of layers.
Result<size_t> UnpackStoredImage(const Context& ctx, const std::string& root,
                                 const std::string& name);

// Runs the whole build. Errors name the Dockerfile line of a failing step.
Result<BuildResult> Build(const Context& ctx, const BuildOptions& options);

// Runs several builds as one (the targets of a bake): one solver, so a step they have in common
// runs once and the others take its result; targets build in parallel, each with its own
// context; progress of all goes to one renderer with steps named by target. A build whose
// build_contexts has NAME=target:OTHER starts once OTHER (one of `builds`, by name) is built and
// reads its image. Store, project, parallelism and progress settings are the first build's. The
// first failure cancels the rest and is the error returned. Results are in the order of `builds`
// (empty for cache_only builds).
Result<std::vector<BuildResult>> BuildAll(const Context& ctx,
                                          const std::vector<BuildOptions>& builds);

}  // namespace berth::engine
