#include "cmd/berth/interrupt.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

namespace berth::cmd {
namespace {

// SIGUSR2 only wakes the watcher when it is to stop (so that a build's end does not wait for
// its next tick).
constexpr int kWakeSignal = SIGUSR2;

sigset_t InterruptSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, kWakeSignal);
  return set;
}

}  // namespace

InterruptWatcher::InterruptWatcher(Context ctx) : ctx_(std::move(ctx)) {
  sigset_t set = InterruptSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] {
    sigset_t wait_set = InterruptSignals();
    const timespec tick{0, 100 * 1000 * 1000};
    while (!stop_.load()) {
      int sig = sigtimedwait(&wait_set, nullptr, &tick);
      if (sig < 0 || sig == kWakeSignal) {
        continue;  // EAGAIN (the tick), EINTR, or the destructor's wake-up
      }
      if (signal_.exchange(sig) != 0) {
        static const char kMsg[] = "\nerror: interrupted again: exiting\n";
        (void)::write(STDERR_FILENO, kMsg, sizeof(kMsg) - 1);
        _exit(130);
      }
      std::fprintf(stderr, "\ncancelling (%s); interrupt again to exit at once\n",
                   sig == SIGINT ? "SIGINT" : "SIGTERM");
      ctx_.Cancel(sig == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)");
    }
  });
}

InterruptWatcher::~InterruptWatcher() {
  stop_.store(true);
  if (thread_.joinable()) {
    pthread_kill(thread_.native_handle(), kWakeSignal);
    thread_.join();
  }
  sigset_t set = InterruptSignals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

}  // namespace berth::cmd
