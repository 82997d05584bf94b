// ScopeExit: runs a callable when the scope ends, unless cancelled.
//
//   auto cleanup = ScopeExit([&] { unlink(tmp.c_str()); });
//   ... on success: cleanup.Cancel();
#pragma once

#include <utility>

namespace berth {

template <typename F>
class [[nodiscard]] ScopeExit {
 public:
  explicit ScopeExit(F fn) : fn_(std::move(fn)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ScopeExit(ScopeExit&&) = delete;
  ScopeExit& operator=(ScopeExit&&) = delete;
  ~ScopeExit() {
    if (armed_) {
      fn_();
    }
  }
  void Cancel() { armed_ = false; }

 private:
  F fn_;
  bool armed_ = true;
};

}  // namespace berth
