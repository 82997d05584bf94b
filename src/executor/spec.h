// OCI runtime specs for RUN steps: what a process sees inside the container.
//
// ProcessSpec is the engine's description of one command (from a graph ExecOp); GenerateSpec
// turns it into the runtime's config.json. The isolation follows DESIGN.md (Execution) and
// Docker's defaults, so a Dockerfile behaves as under `docker build`:
//   - new pid, ipc, uts and mount namespaces, and a network namespace (only `lo`) for
//     network=none; the host's network otherwise;
//   - /proc, /dev (tmpfs with the standard devices, which runc creates), /dev/pts, /dev/shm,
//     /dev/mqueue, /sys read-only; Docker's masked and read-only paths below /proc and /sys;
//   - /etc/hosts (localhost, the hostname, extra hosts) and /etc/resolv.conf (the host's),
//     bind-mounted read-only from files in the bundle;
//   - Docker's default capability set (effective only for uid 0), no_new_privileges, rlimits
//     within the host's hard limits (RLIMIT_NOFILE 1048576 or the hard limit if lower);
//   - the user resolved against the rootfs' /etc/passwd and /etc/group (read through
//     openat2(RESOLVE_IN_ROOT), so symlinks in the image cannot point outside it), with its
//     supplementary groups; HOME from passwd and a default PATH unless env sets them.
// No seccomp profile yet (Docker's default profile is the next step) and no cgroup limits; the
// executor puts every container below the cgroup /berth.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace berth::executor {

enum class Network { kHost, kNone };

struct MountSpec {
  enum class Type {
    kBind,   // `source` (a host path) at `dest`
    kTmpfs,  // a fresh tmpfs of `size` bytes (0: the kernel's default, half of RAM)
    kFile,   // a file holding `data` (secrets): written to a tmpfs in the bundle, bound read-only
  };
  Type type = Type::kBind;
  std::string source;
  std::string dest;
  bool readonly = false;
  uint64_t size = 0;
  std::string data;
  uint32_t mode = 0400;  // kFile
  uint32_t uid = 0;      // kFile
  uint32_t gid = 0;      // kFile
};

// One resource limit (--ulimit): `type` is the RLIMIT_ name ("RLIMIT_NOFILE").
struct Rlimit {
  std::string type;
  uint64_t soft = 0;
  uint64_t hard = 0;
};

// "nofile" -> "RLIMIT_NOFILE" for the limits Docker's --ulimit accepts; InvalidArgument
// otherwise.
Result<std::string> RlimitType(const std::string& name);

struct ProcessSpec {
  std::vector<std::string> args;
  std::vector<std::string> env;  // "K=V"
  std::string cwd = "/";
  // "" (root), "name", "uid", "name:group", "uid:gid" and mixes: resolved against the rootfs.
  std::string user;
  std::string hostname = "berth";
  Network network = Network::kHost;
  std::vector<std::string> extra_hosts;  // "name=ip" or "name:ip"
  std::vector<MountSpec> mounts;
  bool readonly_rootfs = false;
  uint64_t shm_size = 64ull << 20;
  // Replace the defaults of the same type (RLIMIT_NOFILE 1048576). Limits above the host's hard
  // limit are an error, since the runtime could not set them.
  std::vector<Rlimit> rlimits;
};

struct ResolvedUser {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::vector<uint32_t> additional_gids;
  std::string home = "/";
};

// Resolves `user` against <rootfs>/etc/passwd and <rootfs>/etc/group as Docker does: a name
// must exist in passwd; a numeric uid need not (then gid 0 and home "/"); a group (name or
// gid) replaces the primary group; supplementary groups are those that list the user by name.
// Errors: InvalidArgument naming the user or group that does not exist.
Result<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& user);

// Host-side files the spec refers to, prepared in the bundle by the executor.
struct SpecPaths {
  std::string rootfs;       // the mounted root file system
  std::string hosts;        // file for /etc/hosts
  std::string resolv_conf;  // file for /etc/resolv.conf
  // One per MountSpec of type kFile, in order: the file written for it.
  std::vector<std::string> files;
  // linux.cgroupsPath ("" leaves it to the runtime, which names the cgroup after the id).
  std::string cgroups_path;
};

// The contents of /etc/hosts for `process`.
std::string HostsFile(const ProcessSpec& process);

// config.json for `process`, run as `user`. InvalidArgument for an empty args list, a relative
// cwd or mount destination, or a bad extra host.
Result<std::string> GenerateSpec(const ProcessSpec& process, const ResolvedUser& user,
                                 const SpecPaths& paths);

}  // namespace berth::executor
