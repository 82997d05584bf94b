// The builder inside berthd: runs a project's builds on the engine with that project's own cache,
// at most `max_concurrent` at once (the rest wait, queued), and records each build in the
// metastore as it goes: status and timings, every step (name, Dockerfile line, cached or not,
// duration, its log, bounded), and the first step that missed the cache. After each build it
// evicts the project's least recently used cache entries down to the project's cache cap
// (engine/cache_admin.h), keeping what the project's builds still running use.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>

#include "base/context.h"
#include "base/result.h"
#include "engine/engine.h"
#include "engine/progress.h"
#include "metastore/store.h"

namespace berth::service {

class Builder {
 public:
  struct Options {
    std::string root;           // the engine's state ($BERTH_ROOT of the builder)
    size_t max_concurrent = 2;  // builds running at once
    // The OCI runtime of every build (berthd's --runtime); "" = the root's config.toml, else
    // runc. Clients cannot choose it.
    std::string runtime;
  };

  Builder(metastore::Store& store, Options options) : store_(store), options_(std::move(options)) {}

  // Runs build `build_id` (created queued in the store) of `project` with `options`, whose
  // context directory is set. Progress goes to `client` too (may be nullptr). The build ends
  // success, failed (with the error) or canceled (when `ctx` is cancelled: the client went away
  // or the server stops). The engine's root and the project id are set here.
  Result<engine::BuildResult> Run(const Context& ctx, const metastore::Project& project,
                                  const std::string& build_id, engine::BuildOptions options,
                                  engine::Renderer* client);

  // The engine's state directory.
  const std::string& root() const { return options_.root; }

 private:
  // Forgets build `mine` as running and evicts its project's cache down to the cap.
  void Evict(const metastore::Project& project,
             std::multimap<std::string, std::chrono::system_clock::time_point>::iterator mine);

  metastore::Store& store_;
  Options options_;
  std::mutex mu_;
  std::condition_variable slot_free_;
  size_t running_ = 0;
  // Start times of the builds running now, by project: eviction keeps what they used.
  std::multimap<std::string, std::chrono::system_clock::time_point> started_;
};

}  // namespace berth::service
