// Plain progress output for a build, BuildKit's `--progress plain` shape:
//   #3 [build 2/4] RUN make
//   #3 0.215 make: Nothing to be done
//   #3 DONE 0.4s          (or "#3 CACHED", "#3 ERROR: ...")
// Steps are numbered in the order they first report. Thread-safe.
#pragma once

#include <cstdio>
#include <map>
#include <mutex>
#include <string>

#include "graph/graph.h"
#include "solver/solver.h"

namespace berth::engine {

class Progress {
 public:
  Progress(const graph::Graph& graph, FILE* out) : graph_(graph), out_(out) {}

  void Event(const solver::VertexEvent& event);
  // One line of a step's output.
  void Log(graph::VertexId vertex, std::string_view line);

 private:
  int NumberLocked(graph::VertexId vertex, bool* fresh);

  const graph::Graph& graph_;
  FILE* out_;
  std::mutex mu_;
  std::map<graph::VertexId, int> numbers_;
};

}  // namespace berth::engine
