// Ctrl-C for long-running commands: the first SIGINT or SIGTERM cancels a Context (the build
// stops its steps, kills their containers and leaves the store consistent), a second one exits
// at once with 130.
#pragma once

#include <atomic>
#include <thread>

#include "base/context.h"

namespace berth::cmd {

class InterruptWatcher {
 public:
  // Blocks SIGINT and SIGTERM in the calling thread, so construct it before starting threads
  // (they inherit the mask); a watcher thread takes the signals instead.
  explicit InterruptWatcher(Context ctx);
  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;
  ~InterruptWatcher();

  // The signal that cancelled the context, or 0.
  int signal() const { return signal_.load(); }

 private:
  Context ctx_;
  std::atomic<bool> stop_{false};
  std::atomic<int> signal_{0};
  std::thread thread_;
};

}  // namespace berth::cmd
