#include "executor/spec.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "os/file.h"

namespace berth::executor {
namespace {

using nlohmann::json;

// Docker's default capability set (moby/oci/caps/defaults.go).
constexpr const char* kDefaultCapabilities[] = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE",
};

// Docker's masked and read-only paths (moby/oci/defaults.go).
constexpr const char* kMaskedPaths[] = {
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
constexpr const char* kReadonlyPaths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

constexpr std::string_view kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

std::optional<uint32_t> ParseId(std::string_view s) {
  if (s.empty()) {
    return std::nullopt;
  }
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return std::nullopt;
  }
  return v;
}

std::vector<std::string_view> SplitView(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// Reads `rel` inside `rootfs` with symlinks resolved as if rootfs were "/". nullopt if missing.
Result<std::optional<std::string>> ReadInRoot(const std::string& rootfs, const char* rel) {
  UniqueFd root(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    return Error::FromErrno("open " + rootfs, errno);
  }
  struct open_how how {};
  how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root.get(), rel, &how, sizeof(how));
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return std::optional<std::string>();
    }
    return Error::FromErrno(std::string("open ") + rel + " in " + rootfs, errno);
  }
  UniqueFd file(static_cast<int>(fd));
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) {
    return Error::FromErrno(std::string("stat ") + rel, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Error::InvalidArgument(std::string(rel) + " in the image is not a regular file");
  }
  if (st.st_size > (64 << 20)) {
    return Error::InvalidArgument(std::string(rel) + " in the image is too large");
  }
  return std::optional<std::string>(BERTH_TRY(os::ReadAll(file.get())));
}

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
};

struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

// Lines of a passwd/group file, skipping blanks, comments and malformed lines (as libc does).
std::vector<std::vector<std::string_view>> Records(std::string_view text) {
  std::vector<std::vector<std::string_view>> out;
  for (std::string_view line : SplitView(text, '\n')) {
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() || line[0] == '#') {
      continue;
    }
    out.push_back(SplitView(line, ':'));
  }
  return out;
}

std::vector<PasswdEntry> ParsePasswd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (const auto& f : Records(text)) {
    if (f.size() < 7) {
      continue;
    }
    std::optional<uint32_t> uid = ParseId(f[2]);
    std::optional<uint32_t> gid = ParseId(f[3]);
    if (!uid || !gid) {
      continue;
    }
    out.push_back({std::string(f[0]), *uid, *gid, std::string(f[5])});
  }
  return out;
}

std::vector<GroupEntry> ParseGroup(std::string_view text) {
  std::vector<GroupEntry> out;
  for (const auto& f : Records(text)) {
    if (f.size() < 4) {
      continue;
    }
    std::optional<uint32_t> gid = ParseId(f[2]);
    if (!gid) {
      continue;
    }
    GroupEntry g{std::string(f[0]), *gid, {}};
    if (!f[3].empty()) {
      for (std::string_view m : SplitView(f[3], ',')) {
        g.members.emplace_back(m);
      }
    }
    out.push_back(std::move(g));
  }
  return out;
}

}  // namespace

Result<ResolvedUser> ResolveUser(const std::string& rootfs, const std::string& user) {
  std::string_view spec = user;
  std::string_view user_part = spec;
  std::string_view group_part;
  bool has_group = false;
  if (size_t colon = spec.find(':'); colon != std::string_view::npos) {
    user_part = spec.substr(0, colon);
    group_part = spec.substr(colon + 1);
    has_group = true;
  }
  if (user_part.empty()) {
    user_part = "0";
  }
  std::optional<std::string> passwd_text = BERTH_TRY(ReadInRoot(rootfs, "etc/passwd"));
  std::optional<std::string> group_text = BERTH_TRY(ReadInRoot(rootfs, "etc/group"));
  std::vector<PasswdEntry> passwd = ParsePasswd(passwd_text.value_or(""));
  std::vector<GroupEntry> groups = ParseGroup(group_text.value_or(""));

  ResolvedUser out;
  std::optional<uint32_t> uid = ParseId(user_part);
  const PasswdEntry* match = nullptr;
  for (const PasswdEntry& p : passwd) {
    if (p.name == user_part) {
      match = &p;
      break;
    }
  }
  if (match == nullptr && uid) {
    for (const PasswdEntry& p : passwd) {
      if (p.uid == *uid) {
        match = &p;
        break;
      }
    }
  }
  if (match != nullptr) {
    out.uid = match->uid;
    out.gid = match->gid;
    out.home = match->home.empty() ? "/" : match->home;
  } else if (uid) {
    out.uid = *uid;
  } else {
    return Error::InvalidArgument("unable to find user " + std::string(user_part) +
                                  ": no matching entries in passwd file");
  }

  if (has_group) {
    if (group_part.empty()) {
      return Error::InvalidArgument("invalid user " + user + ": empty group");
    }
    const GroupEntry* g = nullptr;
    for (const GroupEntry& e : groups) {
      if (e.name == group_part) {
        g = &e;
        break;
      }
    }
    std::optional<uint32_t> gid = ParseId(group_part);
    if (g == nullptr && gid) {
      out.gid = *gid;
    } else if (g != nullptr) {
      out.gid = g->gid;
    } else {
      return Error::InvalidArgument("unable to find group " + std::string(group_part) +
                                    ": no matching entries in group file");
    }
  } else if (match != nullptr) {
    // Supplementary groups only in the implicit form, as Docker (moby/sys/user) does.
    for (const GroupEntry& e : groups) {
      if (std::find(e.members.begin(), e.members.end(), match->name) != e.members.end() &&
          std::find(out.additional_gids.begin(), out.additional_gids.end(), e.gid) ==
              out.additional_gids.end()) {
        out.additional_gids.push_back(e.gid);
      }
    }
  }
  return out;
}

std::string HostsFile(const ProcessSpec& process) {
  std::string out = "127.0.0.1\tlocalhost";
  if (!process.hostname.empty()) {
    out += " " + process.hostname;
  }
  out += "\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const std::string& h : process.extra_hosts) {
    size_t sep = h.find('=');
    if (sep == std::string::npos) {
      sep = h.find(':');
    }
    if (sep == std::string::npos || sep == 0 || sep + 1 == h.size()) {
      continue;  // GenerateSpec rejects these
    }
    out += h.substr(sep + 1) + "\t" + h.substr(0, sep) + "\n";
  }
  return out;
}

Result<std::string> RlimitType(const std::string& name) {
  static const char* const kNames[] = {
      "as",   "core",   "cpu",   "data", "fsize",  "locks",  "memlock",    "msgqueue",
      "nice", "nofile", "nproc", "rss",  "rtprio", "rttime", "sigpending", "stack"};
  for (const char* known : kNames) {
    if (name == known) {
      std::string upper;
      for (char c : name) {
        upper += static_cast<char>(c - 'a' + 'A');
      }
      return "RLIMIT_" + upper;
    }
  }
  return Error::InvalidArgument("unknown ulimit type \"" + name + "\"");
}

Result<std::string> GenerateSpec(const ProcessSpec& process, const ResolvedUser& user,
                                 const SpecPaths& paths) {
  if (process.args.empty()) {
    return Error::InvalidArgument("no command to run");
  }
  if (process.cwd.empty() || process.cwd[0] != '/') {
    return Error::InvalidArgument("working directory must be absolute: " + process.cwd);
  }
  for (const std::string& h : process.extra_hosts) {
    size_t sep = h.find('=');
    if (sep == std::string::npos) {
      sep = h.find(':');
    }
    if (sep == std::string::npos || sep == 0 || sep + 1 == h.size()) {
      return Error::InvalidArgument("bad extra host " + h + " (want name=ip)");
    }
  }
  size_t file_index = 0;
  for (const MountSpec& m : process.mounts) {
    if (m.dest.empty() || m.dest[0] != '/') {
      return Error::InvalidArgument("mount destination must be absolute: " + m.dest);
    }
    if (m.type == MountSpec::Type::kFile) {
      file_index++;
    }
  }
  if (file_index != paths.files.size()) {
    return Error::InvalidArgument("spec paths list " + std::to_string(paths.files.size()) +
                                  " files for " + std::to_string(file_index) + " file mounts");
  }

  try {
    json env = json::array();
    bool has_path = false;
    bool has_home = false;
    for (const std::string& e : process.env) {
      has_path = has_path || e.starts_with("PATH=");
      has_home = has_home || e.starts_with("HOME=");
    }
    if (!has_path) {
      env.push_back(kDefaultPath);
    }
    if (!has_home) {
      env.push_back("HOME=" + user.home);
    }
    for (const std::string& e : process.env) {
      env.push_back(e);
    }

    json caps = json::array();
    for (const char* c : kDefaultCapabilities) {
      caps.push_back(c);
    }
    // A non-root user gets no effective capabilities (as in Docker); the bounding set stays so
    // setuid binaries in the image work. Inheritable stays empty (CVE-2022-24769).
    json effective = user.uid == 0 ? caps : json::array();

    struct rlimit nofile {};
    uint64_t nofile_limit = 1048576;
    if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_max != RLIM_INFINITY &&
        nofile.rlim_max < nofile_limit) {
      nofile_limit = nofile.rlim_max;
    }

    json rlimits = json::array();
    bool nofile_set = false;
    for (const Rlimit& r : process.rlimits) {
      nofile_set = nofile_set || r.type == "RLIMIT_NOFILE";
      rlimits.push_back({{"type", r.type}, {"hard", r.hard}, {"soft", r.soft}});
    }
    if (!nofile_set) {
      rlimits.push_back(
          {{"type", "RLIMIT_NOFILE"}, {"hard", nofile_limit}, {"soft", nofile_limit}});
    }

    json j;
    j["ociVersion"] = "1.0.2";
    j["process"] = {
        {"terminal", false},
        {"user", {{"uid", user.uid}, {"gid", user.gid}, {"additionalGids", user.additional_gids}}},
        {"args", process.args},
        {"env", env},
        {"cwd", process.cwd},
        {"capabilities", {{"bounding", caps}, {"effective", effective}, {"permitted", effective}}},
        {"rlimits", rlimits},
        {"noNewPrivileges", true},
    };
    j["root"] = {{"path", paths.rootfs}, {"readonly", process.readonly_rootfs}};
    j["hostname"] = process.hostname;

    json mounts = json::array();
    auto add = [&mounts](const std::string& dest, const std::string& type,
                         const std::string& source, json options) {
      mounts.push_back(
          {{"destination", dest}, {"type", type}, {"source", source}, {"options", options}});
    };
    add("/proc", "proc", "proc", json::array({"nosuid", "noexec", "nodev"}));
    add("/dev", "tmpfs", "tmpfs",
        json::array({"nosuid", "strictatime", "mode=755", "size=65536k"}));
    add("/dev/pts", "devpts", "devpts",
        json::array({"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}));
    add("/dev/shm", "tmpfs", "shm",
        json::array({"nosuid", "noexec", "nodev", "mode=1777",
                     "size=" + std::to_string(process.shm_size)}));
    add("/dev/mqueue", "mqueue", "mqueue", json::array({"nosuid", "noexec", "nodev"}));
    add("/sys", "sysfs", "sysfs", json::array({"nosuid", "noexec", "nodev", "ro"}));
    add("/etc/hosts", "bind", paths.hosts, json::array({"rbind", "ro"}));
    add("/etc/resolv.conf", "bind", paths.resolv_conf, json::array({"rbind", "ro"}));
    file_index = 0;
    for (const MountSpec& m : process.mounts) {
      switch (m.type) {
        case MountSpec::Type::kBind:
          add(m.dest, "bind", m.source, json::array({"rbind", m.readonly ? "ro" : "rw"}));
          break;
        case MountSpec::Type::kTmpfs: {
          json options = json::array({"nosuid", "nodev", "strictatime", "mode=1777"});
          if (m.size > 0) {
            options.push_back("size=" + std::to_string(m.size));
          }
          if (m.readonly) {
            options.push_back("ro");
          }
          add(m.dest, "tmpfs", "tmpfs", options);
          break;
        }
        case MountSpec::Type::kFile:
          add(m.dest, "bind", paths.files[file_index++], json::array({"rbind", "ro"}));
          break;
      }
    }
    j["mounts"] = mounts;

    json namespaces =
        json::array({{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}});
    if (process.network == Network::kNone) {
      namespaces.push_back({{"type", "network"}});
    }
    json masked = json::array();
    for (const char* p : kMaskedPaths) {
      masked.push_back(p);
    }
    json readonly = json::array();
    for (const char* p : kReadonlyPaths) {
      readonly.push_back(p);
    }
    j["linux"] = {
        {"namespaces", namespaces},
        {"maskedPaths", masked},
        {"readonlyPaths", readonly},
        // Deny every device; runc adds back the standard ones (null, zero, full, tty, random,
        // urandom, the pts) that it creates in /dev.
        {"resources", {{"devices", json::array({{{"allow", false}, {"access", "rwm"}}})}}},
    };
    if (!paths.cgroups_path.empty()) {
      j["linux"]["cgroupsPath"] = paths.cgroups_path;
    }
    return j.dump(2, ' ', false, json::error_handler_t::replace);
  } catch (const std::exception& e) {
    return Error::Internal(std::string("generating the runtime spec: ") + e.what());
  }
}

}  // namespace berth::executor
