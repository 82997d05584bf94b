// Subprocess: a child started with posix_spawn(3), owned through a pidfd. Internal to executor/.
//
// posix_spawn, not fork(): berth is threaded, and a forked child of a threaded program may only
// call async-signal-safe functions. The destructor kills (SIGKILL) and reaps a child that was not
// waited for, so no child outlives its owner as a zombie.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "base/result.h"
#include "base/unique_fd.h"

namespace berth::executor {

class Subprocess {
 public:
  // Starts `argv[0]` (an absolute path) with `argv`, the current environment, and the given
  // descriptors as its stdin, stdout and stderr (-1: /dev/null). The child's signal mask is
  // empty and its signal dispositions default.
  static Result<Subprocess> Spawn(const std::vector<std::string>& argv, int stdin_fd, int stdout_fd,
                                  int stderr_fd);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) = delete;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }
  // Readable once the child has exited (for poll(2)).
  int pidfd() const { return pidfd_.get(); }

  // Sends `signal` (through the pidfd, so never to a recycled pid).
  Result<> Kill(int signal);
  // Waits for the child; returns its exit code, or 128 + the signal that killed it.
  Result<int> Wait();

 private:
  Subprocess(pid_t pid, UniqueFd pidfd) : pid_(pid), pidfd_(std::move(pidfd)) {}

  pid_t pid_ = -1;
  UniqueFd pidfd_;
};

// Runs `argv` to completion with stdout/stderr captured together; returns exit code and output.
struct RunOutput {
  int exit_code = 0;
  std::string output;
};
Result<RunOutput> RunCommand(const std::vector<std::string>& argv);

}  // namespace berth::executor
