// A real registry for integration tests: Debian's docker-registry (the CNCF distribution server)
// on 127.0.0.1, started from a test and stopped (by PID) when the object dies.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/result.h"

namespace berth::registry::test {

// A free TCP port on 127.0.0.1 (bound, read and released; racy in theory, fine for tests).
int FreePort();

// The first IPv4 address of this machine's interfaces that is up and not loopback, or "" when
// there is none: for registries that must not count as loopback (insecure-registry tests).
std::string NonLoopbackIPv4();

class DockerRegistry {
 public:
  static constexpr const char* kBinary = "/usr/bin/docker-registry";

  // Whether the binary is installed.
  static bool Available();

  // Starts a registry storing under `dir` (created if needed), listening on `address` (an IPv4
  // address of this machine). With a non-empty `htpasswd_path` it requires basic authentication
  // against that file. Waits until /v2/ answers. FailedPrecondition, saying what installs it, when
  // the binary is missing.
  static Result<std::unique_ptr<DockerRegistry>> Start(const std::string& dir,
                                                       const std::string& htpasswd_path = "",
                                                       const std::string& address = "127.0.0.1");
  DockerRegistry(const DockerRegistry&) = delete;
  DockerRegistry& operator=(const DockerRegistry&) = delete;
  ~DockerRegistry();

  // "ADDRESS:PORT", e.g. "127.0.0.1:5000".
  const std::string& host() const { return host_; }
  const std::string& log_path() const { return log_path_; }

 private:
  DockerRegistry() = default;
  pid_t pid_ = -1;
  std::string host_;
  std::string log_path_;
};

// Writes an htpasswd file with one bcrypt entry, through `htpasswd -B` (apache2-utils) or,
// without it, Python's crypt module. FailedPrecondition when neither is available.
Result<> WriteHtpasswd(const std::string& path, const std::string& user,
                       const std::string& password);

}  // namespace berth::registry::test
