#include "registry/progress.h"

#include <map>
#include <memory>
#include <mutex>
#include <utility>

namespace berth::registry {

bool IsFinal(BlobProgress::State state) {
  return state == BlobProgress::State::kDone || state == BlobProgress::State::kExists ||
         state == BlobProgress::State::kMounted;
}

ProgressFn ThrottledProgress(ProgressFn inner, std::chrono::milliseconds interval,
                             std::function<std::chrono::steady_clock::time_point()> now) {
  struct State {
    ProgressFn inner;
    std::chrono::milliseconds interval;
    std::function<std::chrono::steady_clock::time_point()> now;
    std::mutex mu;
    // When each blob in flight last passed a report; entries go with the final report.
    std::map<digest::Digest, std::chrono::steady_clock::time_point> last;
  };
  auto state = std::make_shared<State>();
  state->inner = std::move(inner);
  state->interval = interval;
  state->now = std::move(now);
  return [state](const BlobProgress& p) {
    if (!state->inner) {
      return;
    }
    {
      std::lock_guard lock(state->mu);
      auto t = state->now();
      if (p.state == BlobProgress::State::kTransferring) {
        auto [it, inserted] = state->last.try_emplace(p.digest, t);
        if (inserted || t - it->second < state->interval) {
          return;
        }
        it->second = t;
      } else if (IsFinal(p.state)) {
        state->last.erase(p.digest);
      } else {
        state->last[p.digest] = t;
      }
    }
    // Outside the lock: `inner` does I/O.
    state->inner(p);
  };
}

}  // namespace berth::registry
