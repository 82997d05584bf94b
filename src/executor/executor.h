// Executor: runs one process (a RUN step) in a container over a mounted root file system.
//
// The solver mounts the step's snapshot (snapshot::MountAll), asks an Executor to run the
// command in it, unmounts and commits: whatever the process wrote is then the snapshot's diff.
#pragma once

#include <string>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "executor/spec.h"

namespace berth::executor {

struct RunSpec {
  // Host path of the mounted root file system. The executor writes into it only what the
  // process writes (mount points it had to create are removed again when they stay empty).
  // REQUIRES: no other Run uses the same rootfs at the same time (each RUN step mounts its own
  // snapshot): one run's removal of such a mount point would race another's mount on it.
  std::string rootfs;
  ProcessSpec process;
};

class Executor {
 public:
  Executor() = default;
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;
  Executor(Executor&&) = delete;
  Executor& operator=(Executor&&) = delete;
  virtual ~Executor() = default;

  // Runs `spec` to completion, streaming its stdout and stderr to `out` and `err` as they
  // arrive (neither is closed). Returns the process's exit code (128 + signal when killed).
  // When `ctx` is cancelled the container is killed and Cancelled (or DeadlineExceeded) is
  // returned. Errors: InvalidArgument for a bad spec or unknown user, Internal/Unavailable when
  // the runtime fails to start the container, errors from the writers. Thread-safe: several
  // Runs may proceed at once.
  virtual Result<int> Run(const Context& ctx, const RunSpec& spec, Writer& out, Writer& err) = 0;
};

}  // namespace berth::executor
