// Context: cancellation and deadline for blocking work, passed first to every blocking call.
//
// A Context is a cheap, copyable handle on shared state. Children made by WithCancel() or
// WithDeadline() are cancelled when their parent is; cancelling a child leaves the parent alone.
// All methods are thread-safe.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "base/result.h"

namespace berth {

class Context {
 public:
  using Clock = std::chrono::steady_clock;

  // The root context: never cancelled, no deadline.
  static Context Background();

  // A child that can be cancelled on its own.
  Context WithCancel() const;
  // A child that is done at `deadline` (or the parent's, whichever is earlier).
  Context WithDeadline(Clock::time_point deadline) const;
  Context WithTimeout(std::chrono::milliseconds timeout) const {
    return WithDeadline(Clock::now() + timeout);
  }

  // Cancels this context and all its descendants. Idempotent; the first reason wins.
  void Cancel(const std::string& reason = "cancelled") const;

  // True once cancelled or past the deadline.
  bool Done() const;
  // Ok while live; Cancelled or DeadlineExceeded once done.
  Result<> Check() const;
  // Blocks until done or `timeout` passes; returns Done().
  bool WaitFor(std::chrono::milliseconds timeout) const;
  // The effective deadline, or time_point::max() if none.
  Clock::time_point deadline() const;

 private:
  struct State;
  explicit Context(std::shared_ptr<State> state) : state_(std::move(state)) {}
  Context MakeChild(Clock::time_point deadline) const;

  std::shared_ptr<State> state_;
};

}  // namespace berth
