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

#include <cstdio>
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
  std::string text;    // kLog: one output line; kError: the message
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

// Turns solver events and output lines into StepUpdates for a renderer (nullptr: discard).
class Progress {
 public:
  Progress(const graph::Graph& graph, Renderer* renderer) : graph_(graph), renderer_(renderer) {}

  void Event(const solver::VertexEvent& event);
  // One line of a step's output.
  void Log(graph::VertexId vertex, std::string_view line);

 private:
  int NumberLocked(graph::VertexId vertex, bool* fresh);
  void Describe(graph::VertexId id, StepUpdate& update) const;

  const graph::Graph& graph_;
  Renderer* renderer_;
  std::mutex mu_;
  std::map<graph::VertexId, int> numbers_;
};

}  // namespace berth::engine
