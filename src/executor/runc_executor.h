// RuncExecutor: the Executor on runc, as BuildKit's default worker.
//
// For each Run it writes an OCI bundle (config.json from executor/spec.h, /etc/hosts,
// /etc/resolv.conf, secret files on a private tmpfs) into a fresh directory, starts
// `runc --root STATE run --bundle DIR ID` with posix_spawn and the process's stdout/stderr on
// pipes that it drains into the writers, and always leaves no container state behind
// (`runc delete -f` when runc did not clean up itself). On cancellation it runs
// `runc kill ID KILL`, which ends the whole pid namespace.
//
// crun is not offered yet: on these hosts it refuses the mixed cgroup v1/v2 layout unless it
// runs in a private mount namespace with the cgroup2 mount removed (DESIGN.md, measured facts).
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "executor/executor.h"

namespace berth::executor {

struct RuncOptions {
  // runc's --root (container state); created if missing. Under berth's root, e.g.
  // $BERTH_ROOT/runc.
  std::string state_dir;
  // Where the per-run bundle directories go; created if missing. e.g. $BERTH_ROOT/bundles.
  std::string bundle_dir;
  // The runtime binary, runc or crun (the same command line): "" finds runc
  // (FindRuntime("runc")).
  std::string runtime;
  // Set by Create: what runs the runtime (empty: nothing, it runs directly).
  std::vector<std::string> command_prefix;
};

// Finds an executable runtime: an absolute path as is, else /usr/sbin/<name>, else $PATH.
// NotFound when there is none.
Result<std::string> FindRuntime(const std::string& name);

class RuncExecutor final : public Executor {
 public:
  static Result<std::unique_ptr<RuncExecutor>> Create(RuncOptions options);

  Result<int> Run(const Context& ctx, const RunSpec& spec, Writer& out, Writer& err) override;

  const std::string& runtime() const { return options_.runtime; }

  // Kills and deletes every container the state directory still holds (those of a process that
  // died: a kill -9 of berthd leaves its running steps behind). Returns how many went.
  Result<size_t> RemoveLeftovers();

 private:
  explicit RuncExecutor(RuncOptions options) : options_(std::move(options)) {}

  std::string NewId();

  RuncOptions options_;
  std::atomic<uint64_t> counter_{0};
};

}  // namespace berth::executor
