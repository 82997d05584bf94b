// The solver: walks a build graph from a target and produces its result, reusing cached results.
//
// For each vertex in the target's closure, once its inputs are solved, the solver computes a
// cache key — the vertex digest (the op and its inputs' definitions), the inputs' cache keys, and
// a content key the runner derives from the inputs' results (the checksums of the files a COPY
// selects, say) — looks it up, and on a miss runs the op. Independent vertices run in parallel,
// at most `parallelism` at a time; identical keys of concurrent solves in one process run once
// (single-flight); the first failure cancels the rest. What running means (snapshots, runc,
// file copies) belongs to the OpRunner; where results are remembered belongs to the ResultCache.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "graph/graph.h"

namespace berth::solver {

// The result of one vertex: a reference per output (snapshot keys, for the engine).
struct VertexResult {
  std::string cache_key;
  std::vector<std::string> outputs;
};

// An input of a vertex, as the runner sees it: the result of the input vertex, and which output
// the op reads (empty `outputs` = scratch).
struct Input {
  const VertexResult* result = nullptr;  // nullptr for scratch
  int32_t output = 0;
  // The output reference, or "" for scratch.
  std::string ref() const {
    return result == nullptr ? std::string() : result->outputs.at(static_cast<size_t>(output));
  }
};

class OpRunner {
 public:
  virtual ~OpRunner() = default;
  // The content-dependent part of the vertex's cache key, computed from its solved inputs (e.g.
  // checksums of copied files, the resolved commit of a git ref). "" when the op has none.
  virtual Result<std::string> ContentKey(const Context& ctx, const graph::Vertex& vertex,
                                         const std::vector<Input>& inputs) = 0;
  // Runs the op; returns one reference per output.
  virtual Result<std::vector<std::string>> Run(const Context& ctx, const graph::Vertex& vertex,
                                               const std::vector<Input>& inputs) = 0;
};

class ResultCache {
 public:
  virtual ~ResultCache() = default;
  // The outputs stored under `key`, or NotFound.
  virtual Result<std::vector<std::string>> Lookup(const Context& ctx, const std::string& key) = 0;
  // Stores outputs under `key`; a concurrent Put of the same key keeps the first and returns it.
  virtual Result<std::vector<std::string>> Put(const Context& ctx, const std::string& key,
                                               const std::vector<std::string>& outputs) = 0;

  // Stores outputs under `key` in place of what is there: a vertex made again on purpose
  // (--no-cache) replaces its stale result, so that later steps and builds use the fresh one.
  // The default keeps the first (Put).
  virtual Result<std::vector<std::string>> Replace(const Context& ctx, const std::string& key,
                                                   const std::vector<std::string>& outputs) {
    return Put(ctx, key, outputs);
  }

  // Held while one vertex is made; released when destroyed.
  class KeyLock {
   public:
    virtual ~KeyLock() = default;
  };
  // Serialises making `key` with other solvers that share this cache, in other processes too
  // (single-flight within a process is the solver's own): the solver takes it after a miss,
  // looks up again, and runs only if the key is still missing. The default does not lock.
  virtual Result<std::unique_ptr<KeyLock>> LockKey(const Context& ctx, const std::string& key) {
    return std::unique_ptr<KeyLock>();
  }
};

struct VertexEvent {
  enum class Kind { kStarted, kCached, kDone, kFailed };
  graph::VertexId vertex = -1;
  Kind kind = Kind::kStarted;
  std::chrono::nanoseconds duration{0};
  std::string error;
  std::string cache_key;  // kCached, kDone: the vertex's cache key
};

struct SolveOptions {
  size_t parallelism = 2;
  // Called from worker threads, one event at a time per vertex; must be thread-safe.
  std::function<void(const VertexEvent&)> progress;
  // Runs this solve's ops instead of the solver's own runner (nullptr: the solver's). Solves of
  // different graphs (the targets of one bake) then share single-flight and the cache while
  // each reads its own contexts.
  OpRunner* runner = nullptr;
};

class Solver {
 public:
  // `runner` and `cache` must outlive the solver. Thread-safe: several Solve calls may run at
  // once and share single-flight.
  Solver(OpRunner& runner, ResultCache& cache);
  // A solver without a runner of its own: every Solve names one (SolveOptions::runner).
  explicit Solver(ResultCache& cache);
  Solver(const Solver&) = delete;
  Solver& operator=(const Solver&) = delete;
  ~Solver();

  // Solves `target` of `graph`. The result of scratch is an empty VertexResult.
  Result<VertexResult> Solve(const Context& ctx, const graph::Graph& graph, graph::Ref target,
                             const SolveOptions& options = {});

  // The cache key of a vertex from its digest, its inputs' keys and its content key.
  static std::string CacheKey(const graph::Vertex& vertex, const std::vector<Input>& inputs,
                              const std::string& content_key);

 private:
  struct Shared;
  OpRunner* runner_;  // nullptr: each solve names its runner
  ResultCache& cache_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace berth::solver
