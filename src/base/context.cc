#include "base/context.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace berth {

struct Context::State {
  std::mutex mu;
  std::condition_variable cv;
  bool cancelled = false;
  std::string reason;
  Clock::time_point deadline = Clock::time_point::max();
  std::vector<std::weak_ptr<State>> children;
};

Context Context::Background() {
  return Context(std::make_shared<State>());
}

Context Context::MakeChild(Clock::time_point deadline) const {
  auto child = std::make_shared<State>();
  std::string reason;
  bool cancelled = false;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    child->deadline = std::min(deadline, state_->deadline);
    cancelled = state_->cancelled;
    reason = state_->reason;
    if (!cancelled) {
      // Drop expired children so a long-lived parent does not accumulate them.
      auto& kids = state_->children;
      kids.erase(std::remove_if(kids.begin(), kids.end(),
                                [](const std::weak_ptr<State>& w) { return w.expired(); }),
                 kids.end());
      kids.push_back(child);
    }
  }
  Context ctx(child);
  if (cancelled) {
    ctx.Cancel(reason);
  }
  return ctx;
}

Context Context::WithCancel() const {
  return MakeChild(Clock::time_point::max());
}

Context Context::WithDeadline(Clock::time_point deadline) const {
  return MakeChild(deadline);
}

void Context::Cancel(const std::string& reason) const {
  std::vector<std::weak_ptr<State>> children;
  {
    std::lock_guard<std::mutex> lock(state_->mu);
    if (state_->cancelled) {
      return;
    }
    state_->cancelled = true;
    state_->reason = reason;
    children.swap(state_->children);
  }
  state_->cv.notify_all();
  for (auto& weak : children) {
    if (auto child = weak.lock()) {
      Context(child).Cancel(reason);
    }
  }
}

bool Context::Done() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->cancelled || Clock::now() >= state_->deadline;
}

Result<> Context::Check() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  if (state_->cancelled) {
    return Error::Cancelled(state_->reason);
  }
  if (Clock::now() >= state_->deadline) {
    return Error(ErrorCode::kDeadlineExceeded, "deadline exceeded");
  }
  return {};
}

bool Context::WaitFor(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(state_->mu);
  auto until = std::min(Clock::now() + timeout, state_->deadline);
  state_->cv.wait_until(lock, until, [&] { return state_->cancelled; });
  return state_->cancelled || Clock::now() >= state_->deadline;
}

Context::Clock::time_point Context::deadline() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return state_->deadline;
}

}  // namespace berth
