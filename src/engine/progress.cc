#include "engine/progress.h"

#include <chrono>

namespace berth::engine {

int Progress::NumberLocked(graph::VertexId vertex, bool* fresh) {
  auto [it, inserted] = numbers_.emplace(vertex, static_cast<int>(numbers_.size()) + 1);
  *fresh = inserted;
  return it->second;
}

void Progress::Event(const solver::VertexEvent& event) {
  if (out_ == nullptr) {
    return;
  }
  std::lock_guard lock(mu_);
  bool fresh = false;
  int n = NumberLocked(event.vertex, &fresh);
  if (fresh) {
    std::fprintf(out_, "#%d %s\n", n, graph_.vertex(event.vertex).metadata.description.c_str());
  }
  double seconds = std::chrono::duration<double>(event.duration).count();
  switch (event.kind) {
    case solver::VertexEvent::Kind::kStarted:
      break;
    case solver::VertexEvent::Kind::kCached:
      std::fprintf(out_, "#%d CACHED\n", n);
      break;
    case solver::VertexEvent::Kind::kDone:
      std::fprintf(out_, "#%d DONE %.1fs\n", n, seconds);
      break;
    case solver::VertexEvent::Kind::kFailed:
      std::fprintf(out_, "#%d ERROR: %s\n", n, event.error.c_str());
      break;
  }
  std::fflush(out_);
}

void Progress::Log(graph::VertexId vertex, std::string_view line) {
  if (out_ == nullptr) {
    return;
  }
  std::lock_guard lock(mu_);
  bool fresh = false;
  int n = NumberLocked(vertex, &fresh);
  std::fprintf(out_, "#%d %.*s\n", n, static_cast<int>(line.size()), line.data());
  std::fflush(out_);
}

}  // namespace berth::engine
