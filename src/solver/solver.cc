#include "solver/solver.h"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "base/single_flight.h"
#include "digest/digest.h"

namespace berth::solver {

struct Solver::Shared {
  SingleFlight<std::string, std::vector<std::string>> flight;
};

Solver::Solver(OpRunner& runner, ResultCache& cache)
    : runner_(&runner), cache_(cache), shared_(std::make_unique<Shared>()) {}

Solver::Solver(ResultCache& cache)
    : runner_(nullptr), cache_(cache), shared_(std::make_unique<Shared>()) {}

Solver::~Solver() = default;

std::string Solver::CacheKey(const graph::Vertex& vertex, const std::vector<Input>& inputs,
                             const std::string& content_key) {
  // Versioned, NUL-separated: no two different tuples give the same bytes.
  digest::Sha256 h;
  h.Update("berth-cache-key-v1");
  h.Update(std::string_view("\0", 1));
  h.Update(vertex.digest.ToString());
  for (const Input& in : inputs) {
    h.Update(std::string_view("\0", 1));
    if (in.result == nullptr) {
      h.Update("scratch");
    } else {
      h.Update(in.result->cache_key + "#" + std::to_string(in.output));
    }
  }
  h.Update(std::string_view("\0\0", 2));
  h.Update(content_key);
  return h.Finish().ToString();
}

namespace {

using Clock = std::chrono::steady_clock;

// The state of one Solve: a ready queue over the target's closure.
class Run {
 public:
  Run(const Context& ctx, const graph::Graph& graph, const std::vector<graph::VertexId>& closure,
      const SolveOptions& options)
      : ctx_(ctx.WithCancel()), graph_(graph), options_(options) {
    for (graph::VertexId id : closure) {
      Node& node = nodes_[id];
      for (const graph::Ref& in : graph.vertex(id).op.inputs) {
        if (!in.scratch() && !node.deps.contains(in.vertex)) {
          node.deps.insert(in.vertex);
          nodes_[in.vertex].dependents.push_back(id);
        }
      }
    }
    for (auto& [id, node] : nodes_) {
      node.waiting = node.deps.size();
      if (node.waiting == 0) {
        ready_.push_back(id);
      }
    }
  }

  // Runs every vertex; `work` solves one. Returns the first error.
  Result<> Execute(const std::function<Result<VertexResult>(const Context&, graph::VertexId,
                                                            const std::vector<Input>&)>& work) {
    size_t threads = std::max<size_t>(1, std::min(options_.parallelism, nodes_.size()));
    std::vector<std::thread> workers;
    workers.reserve(threads);
    for (size_t i = 0; i < threads; ++i) {
      workers.emplace_back([this, &work] { Work(work); });
    }
    for (std::thread& t : workers) {
      t.join();
    }
    if (first_error_) {
      return *first_error_;
    }
    return {};
  }

  const VertexResult& result(graph::VertexId id) const { return nodes_.at(id).result; }

 private:
  struct Node {
    std::set<graph::VertexId> deps;
    std::vector<graph::VertexId> dependents;
    size_t waiting = 0;
    VertexResult result;
  };

  void Work(const std::function<Result<VertexResult>(const Context&, graph::VertexId,
                                                     const std::vector<Input>&)>& work) {
    for (;;) {
      graph::VertexId id = -1;
      std::vector<Input> inputs;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !ready_.empty() || done_ == nodes_.size() || failed_; });
        if (failed_ || ready_.empty()) {
          return;
        }
        id = ready_.front();
        ready_.pop_front();
        for (const graph::Ref& in : graph_.vertex(id).op.inputs) {
          inputs.push_back(Input{in.scratch() ? nullptr : &nodes_.at(in.vertex).result, in.output});
        }
      }
      Result<VertexResult> r = work(ctx_, id, inputs);
      std::lock_guard<std::mutex> lock(mu_);
      if (!r.ok()) {
        if (!first_error_) {
          first_error_ = std::move(r).error();
        }
        failed_ = true;
        ctx_.Cancel("another step failed");
        cv_.notify_all();
        return;
      }
      Node& node = nodes_.at(id);
      node.result = std::move(r).value();
      ++done_;
      for (graph::VertexId d : node.dependents) {
        if (--nodes_.at(d).waiting == 0) {
          ready_.push_back(d);
        }
      }
      cv_.notify_all();
    }
  }

  Context ctx_;
  const graph::Graph& graph_;
  const SolveOptions& options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<graph::VertexId, Node> nodes_;
  std::deque<graph::VertexId> ready_;
  size_t done_ = 0;
  bool failed_ = false;
  std::optional<Error> first_error_;
};

}  // namespace

Result<VertexResult> Solver::Solve(const Context& ctx, const graph::Graph& graph, graph::Ref target,
                                   const SolveOptions& options) {
  if (target.scratch()) {
    return VertexResult{};
  }
  std::vector<graph::VertexId> closure = graph.Closure(target);
  OpRunner* chosen = options.runner != nullptr ? options.runner : runner_;
  if (chosen == nullptr) {
    return Error::InvalidArgument("solver: no runner for this solve");
  }
  OpRunner& runner = *chosen;
  Run run(ctx, graph, closure, options);
  auto emit = [&](graph::VertexId id, VertexEvent::Kind kind, Clock::time_point start,
                  const std::string& error, const std::string& cache_key = "") {
    if (options.progress) {
      options.progress(VertexEvent{id, kind, Clock::now() - start, error, cache_key});
    }
  };
  BERTH_TRY(run.Execute([&](const Context& c, graph::VertexId id,
                            const std::vector<Input>& inputs) -> Result<VertexResult> {
    BERTH_TRY(c.Check());
    const graph::Vertex& vertex = graph.vertex(id);
    Clock::time_point start = Clock::now();
    Result<std::string> content = runner.ContentKey(c, vertex, inputs);
    if (!content.ok()) {
      emit(id, VertexEvent::Kind::kFailed, start, content.error().ToString());
      return std::move(content).error();
    }
    VertexResult result;
    result.cache_key = CacheKey(vertex, inputs, *content);
    bool ran = false;
    Result<std::vector<std::string>> outputs =
        shared_->flight.Do(result.cache_key, [&]() -> Result<std::vector<std::string>> {
          std::unique_ptr<ResultCache::KeyLock> lock;
          if (!vertex.metadata.ignore_cache) {
            Result<std::vector<std::string>> hit = cache_.Lookup(c, result.cache_key);
            if (hit.ok()) {
              return hit;
            }
            if (hit.error().code() != ErrorCode::kNotFound) {
              return std::move(hit).error();
            }
            // Another process may be making the same key: wait for it, then look again.
            lock = BERTH_TRY(cache_.LockKey(c, result.cache_key));
            if (lock != nullptr) {
              hit = cache_.Lookup(c, result.cache_key);
              if (hit.ok()) {
                return hit;
              }
              if (hit.error().code() != ErrorCode::kNotFound) {
                return std::move(hit).error();
              }
            }
          }
          emit(id, VertexEvent::Kind::kStarted, start, "");
          ran = true;
          std::vector<std::string> made = BERTH_TRY(runner.Run(c, vertex, inputs));
          if (vertex.metadata.ignore_cache) {
            return cache_.Replace(c, result.cache_key, made);
          }
          return cache_.Put(c, result.cache_key, made);
        });
    if (!outputs.ok()) {
      emit(id, VertexEvent::Kind::kFailed, start, outputs.error().ToString());
      return std::move(outputs).error();
    }
    result.outputs = std::move(outputs).value();
    emit(id, ran ? VertexEvent::Kind::kDone : VertexEvent::Kind::kCached, start, "",
         result.cache_key);
    return result;
  }));
  return run.result(target.vertex);
}

}  // namespace berth::solver
