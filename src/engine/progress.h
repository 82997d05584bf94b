// Build progress: the solver's vertex events and the steps' output lines become a stream of
// StepUpdates (steps numbered in the order they first report), which a Renderer shows:
//   plain    BuildKit's `--progress plain` lines, for CI logs:
//              #3 [build 2/4] RUN make
//              #3 make: Nothing to be done
//              #3 DONE 0.4s          (or "#3 CACHED", "#3 ERROR: ...")
//   tty      a live view redrawn in place, as buildx shows on a terminal: a header with the
//            elapsed time and steps done, one line per step with its state and time, and the
//            last lines of output of running steps; the final screen stays.
//   rawjson  one JSON object per update and line (newline-delimited), the form berthd streams
//            to clients, which render it with the same renderers.
// Everything here is thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"
#include "graph/graph.h"
#include "solver/solver.h"

namespace berth::engine {

struct StepUpdate {
  enum class Kind { kStarted, kCached, kDone, kError, kLog };
  int step = 0;        // 1-based
  std::string name;    // the vertex description: "[build 2/4] RUN make"
  std::string vertex;  // the vertex digest ("sha256:..."), stable across builds
  int line = 0;        // the Dockerfile line the step comes from; 0 if none
  // Loading a source (an image's metadata, the context, a URL), not a Dockerfile step: it has
  // no cache entry of its own and "runs" every build.
  bool source = false;
  Kind kind = Kind::kStarted;
  double seconds = 0;  // kDone / kError: how long the step took
  // kDone / kCached: the size in bytes of the layer (snapshot) the step made; 0 when it made
  // none or it is not known.
  int64_t layer_size = 0;
  std::string text;  // kLog: one output line; kError: the message
};

// One update as a single-line JSON object, and back (InvalidArgument names the bad field).
std::string ToJson(const StepUpdate& update);
Result<StepUpdate> StepUpdateFromJson(std::string_view line);

class Renderer {
 public:
  virtual ~Renderer() = default;
  virtual void Update(const StepUpdate& update) = 0;
  // The build ended: draw the final state (the tty view stops redrawing).
  virtual void Finish() {}
};

enum class ProgressMode { kPlain, kTty, kJson };

// "auto" (tty when `out` is a terminal, else plain), "plain", "tty", "rawjson".
Result<ProgressMode> ParseProgressMode(std::string_view text, FILE* out);

std::unique_ptr<Renderer> NewRenderer(ProgressMode mode, FILE* out);

// Step numbers shared by the Progress of several builds that draw on one renderer (the targets
// of a bake), so that every step has its own number.
class StepNumbers {
 public:
  int Next() { return ++last_; }
  std::mutex& mu() { return mu_; }

 private:
  std::mutex mu_;
  int last_ = 0;
};

// The name of a step of bake target `target`, as buildx bake shows it: "[app build 2/4] RUN
// make", "[app] load metadata for ...". An empty target leaves the name as it is.
std::string TargetStepName(const std::string& target, const std::string& name);

// A renderer for one of several builds drawing on `shared` (the remote targets of a bake):
// step names carry `target` and steps are renumbered with `numbers`; Finish does nothing (the
// caller finishes `shared` once every build has ended). Both must outlive it.
std::unique_ptr<Renderer> NewTargetRenderer(Renderer& shared, std::string target,
                                            StepNumbers& numbers);

// Turns solver events and output lines into StepUpdates for a renderer (nullptr: discard).
// With a `target` name, step names carry it as buildx bake shows them: "[app build 2/4] RUN
// make", "[app] load metadata for ..."; with `numbers`, steps are numbered with the other builds
// sharing them.
class Progress {
 public:
  Progress(const graph::Graph& graph, Renderer* renderer, std::string target = "",
           StepNumbers* numbers = nullptr)
      : graph_(graph),
        renderer_(renderer),
        target_(std::move(target)),
        numbers_shared_(numbers != nullptr ? numbers : &own_numbers_) {}

  // Where the size of a step's layer comes from: its cache key -> bytes (the cache index's
  // record). Unset: sizes stay 0.
  void set_layer_size(std::function<int64_t(const std::string& cache_key)> fn) {
    layer_size_ = std::move(fn);
  }

  void Event(const solver::VertexEvent& event);
  // One line of a step's output.
  void Log(graph::VertexId vertex, std::string_view line);

 private:
  int NumberLocked(graph::VertexId vertex, bool* fresh);
  void Describe(graph::VertexId id, StepUpdate& update) const;

  const graph::Graph& graph_;
  Renderer* renderer_;
  std::string target_;
  StepNumbers own_numbers_;
  StepNumbers* numbers_shared_;  // its mutex is held while rendering
  std::function<int64_t(const std::string&)> layer_size_;
  std::map<graph::VertexId, int> numbers_;
};

}  // namespace berth::engine
