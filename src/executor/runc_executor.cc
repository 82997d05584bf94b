#include "executor/runc_executor.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <random>
#include <string_view>
#include <vector>

#include "base/log.h"
#include "base/scope_exit.h"
#include "executor/subprocess.h"
#include "os/file.h"
#include "snapshot/fs_util.h"
#include "snapshot/mount.h"

namespace berth::executor {
namespace {

using Clock = std::chrono::steady_clock;

// Resolves `rel` (relative, no leading "/") inside the root directory `root_fd` as if it were
// "/", returning an O_PATH descriptor, or an invalid one if it does not exist.
UniqueFd OpenInRoot(int root_fd, const std::string& rel, int flags) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags) | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  long fd = ::syscall(SYS_openat2, root_fd, rel.empty() ? "." : rel.c_str(), &how, sizeof(how));
  return UniqueFd(fd < 0 ? -1 : static_cast<int>(fd));
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string::npos) {
      end = path.size();
    }
    std::string part = path.substr(start, end - start);
    if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  return parts;
}

// Mount points the runtime creates in the rootfs for paths that do not exist there (/proc in an
// empty image, /etc/hosts, a bind mount's target) would end up in the layer. Like BuildKit's
// executor stubs, record them before the run and remove them afterwards if they stayed empty.
class Stubs {
 public:
  Stubs(const std::string& rootfs, const std::vector<std::string>& dests) {
    root_.Reset(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_) {
      return;
    }
    for (const std::string& dest : dests) {
      std::vector<std::string> parts = SplitPath(dest);
      std::string rel;
      for (const std::string& part : parts) {
        rel += (rel.empty() ? "" : "/") + part;
        if (!OpenInRoot(root_.get(), rel, O_PATH | O_NOFOLLOW)) {
          // This component and all below it are new. Remember the times of the directory
          // that holds them: creating and removing the stub changes its mtime.
          std::string parent = rel.substr(0, rel.size() - part.size());
          if (!parent.empty()) {
            parent.pop_back();
          }
          if (UniqueFd p = OpenInRoot(root_.get(), parent, O_RDONLY | O_DIRECTORY)) {
            struct stat st {};
            if (::fstat(p.get(), &st) == 0) {
              parents_.push_back({parent, st.st_atim, st.st_mtim});
            }
          }
          std::string missing = rel;
          paths_.push_back(missing);
          for (size_t i = &part - parts.data() + 1; i < parts.size(); ++i) {
            missing += "/" + parts[i];
            paths_.push_back(missing);
          }
          break;
        }
      }
    }
  }

  // Removes the recorded paths that exist now as empty files or directories, deepest first.
  void Clean() {
    if (!root_) {
      return;
    }
    for (auto it = paths_.rbegin(); it != paths_.rend(); ++it) {
      const std::string& rel = *it;
      size_t slash = rel.rfind('/');
      std::string parent = slash == std::string::npos ? "" : rel.substr(0, slash);
      std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
      UniqueFd dir = OpenInRoot(root_.get(), parent, O_PATH | O_DIRECTORY);
      if (!dir) {
        continue;
      }
      struct stat st {};
      if (::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        continue;
      }
      if (S_ISDIR(st.st_mode)) {
        ::unlinkat(dir.get(), name.c_str(), AT_REMOVEDIR);  // fails when not empty: kept
      } else if (S_ISREG(st.st_mode) && st.st_size == 0) {
        ::unlinkat(dir.get(), name.c_str(), 0);
      }
    }
    // Put the parents' times back, so that on an overlay the copied-up directory matches its
    // lower again (a differ can then tell it is unchanged).
    for (auto it = parents_.rbegin(); it != parents_.rend(); ++it) {
      if (UniqueFd p = OpenInRoot(root_.get(), it->rel, O_RDONLY | O_DIRECTORY)) {
        struct timespec times[2] = {it->atime, it->mtime};
        ::futimens(p.get(), times);
      }
    }
  }

 private:
  struct ParentTimes {
    std::string rel;
    struct timespec atime;
    struct timespec mtime;
  };

  UniqueFd root_;
  std::vector<std::string> paths_;
  std::vector<ParentTimes> parents_;
};

// The error runc logged (JSON lines with "level":"error"), or "".
std::string RuncLogError(const std::string& log_path) {
  Result<std::string> text = os::ReadFile(log_path);
  if (!text.ok()) {
    return "";
  }
  std::string last;
  size_t start = 0;
  while (start < text->size()) {
    size_t end = text->find('\n', start);
    if (end == std::string::npos) {
      end = text->size();
    }
    std::string_view line(text->data() + start, end - start);
    if (line.find("\"level\":\"error\"") != std::string_view::npos) {
      size_t msg = line.find("\"msg\":\"");
      if (msg != std::string_view::npos) {
        std::string_view rest = line.substr(msg + 7);
        std::string out;
        for (size_t i = 0; i < rest.size() && rest[i] != '"'; ++i) {
          if (rest[i] == '\\' && i + 1 < rest.size()) {
            ++i;
          }
          out.push_back(rest[i]);
        }
        last = out;
      } else {
        last = std::string(line);
      }
    }
    start = end + 1;
  }
  return last;
}

// Writes a bundle file. No fsync and no rename: the bundle lives for one run and is never read
// after a crash, and each fsync costs milliseconds per RUN step.
Result<> WriteBundleFile(const std::string& path, std::string_view data, int mode) {
  UniqueFd fd = BERTH_TRY(os::Open(path, O_WRONLY | O_CREAT | O_TRUNC, mode));
  if (::fchmod(fd.get(), static_cast<mode_t>(mode)) != 0) {  // exactly `mode`, whatever the umask
    return Error::FromErrno("chmod " + path, errno);
  }
  BERTH_TRY(os::WriteAll(fd.get(), data));
  return fd.Close();
}

bool IsExecutable(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

Result<std::string> FindRuntime(const std::string& name) {
  if (!name.empty() && name[0] == '/') {
    if (IsExecutable(name)) {
      return name;
    }
    return Error::NotFound("runtime " + name + " is not an executable file");
  }
  if (IsExecutable("/usr/sbin/" + name)) {
    return "/usr/sbin/" + name;
  }
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe)
  std::string_view dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
  while (!dirs.empty()) {
    size_t colon = dirs.find(':');
    std::string dir(dirs.substr(0, colon));
    dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
    if (!dir.empty() && IsExecutable(dir + "/" + name)) {
      return dir + "/" + name;
    }
  }
  return Error::NotFound("cannot find the container runtime " + name +
                         " in /usr/sbin or $PATH (install runc)");
}

namespace {

// Whether cgroups are in hybrid mode (v1 hierarchies, and cgroup2 at /sys/fs/cgroup/unified)
// with controllers on the cgroup2 side: crun refuses to run there ("cgroups in hybrid mode not
// supported"), runc does not care.
bool HybridWithV2Controllers() {
  struct statfs fs {};
  if (::statfs("/sys/fs/cgroup", &fs) != 0 || fs.f_type == CGROUP2_SUPER_MAGIC) {
    return false;
  }
  if (::statfs("/sys/fs/cgroup/unified", &fs) != 0 || fs.f_type != CGROUP2_SUPER_MAGIC) {
    return false;
  }
  Result<std::string> controllers = os::ReadFile("/sys/fs/cgroup/unified/cgroup.controllers");
  return controllers.ok() && controllers->find_first_not_of(" \n") != std::string::npos;
}

}  // namespace

Result<std::unique_ptr<RuncExecutor>> RuncExecutor::Create(RuncOptions options) {
  if (options.state_dir.empty() || options.bundle_dir.empty()) {
    return Error::InvalidArgument("runc executor needs a state and a bundle directory");
  }
  options.runtime = BERTH_TRY(FindRuntime(options.runtime.empty() ? "runc" : options.runtime));
  if (options.runtime.substr(options.runtime.rfind('/') + 1) == "crun" &&
      HybridWithV2Controllers()) {
    // crun then runs in a mount namespace of its own without the cgroup2 mount, where it sees
    // plain cgroup v1 (the containers are not put in cgroups by berth either way).
    options.command_prefix = {BERTH_TRY(FindRuntime("unshare")),
                              "--mount",
                              "--propagation",
                              "slave",
                              "--",
                              "/bin/sh",
                              "-c",
                              "umount /sys/fs/cgroup/unified 2>/dev/null; exec \"$0\" \"$@\""};
  }
  BERTH_TRY(os::MakeDirs(options.state_dir, 0700));
  BERTH_TRY(os::MakeDirs(options.bundle_dir, 0700));
  return std::unique_ptr<RuncExecutor>(new RuncExecutor(std::move(options)));
}

Result<size_t> RuncExecutor::RemoveLeftovers() {
  std::vector<std::string> ids;
  {
    std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(options_.state_dir.c_str()), ::closedir);
    if (dir == nullptr) {
      return Error::FromErrno("opendir " + options_.state_dir, errno);
    }
    while (const dirent* e = ::readdir(dir.get())) {
      std::string name = e->d_name;
      if (name != "." && name != ".." && e->d_type == DT_DIR) {
        ids.push_back(name);
      }
    }
  }
  size_t removed = 0;
  for (const std::string& id : ids) {
    std::vector<std::string> del = options_.command_prefix;
    for (const std::string& a : {options_.runtime, std::string("--root"), options_.state_dir,
                                 std::string("delete"), std::string("-f"), id}) {
      del.push_back(a);
    }
    Result<RunOutput> r = RunCommand(del);
    if (r.ok() && r->exit_code == 0) {
      ++removed;
    } else {
      log::Warn("deleting the leftover container " + id + ": " +
                (r.ok() ? r->output : r.error().ToString()));
    }
  }
  return removed;
}

std::string RuncExecutor::NewId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return "berth-" + std::to_string(::getpid()) + "-" + std::to_string(counter_.fetch_add(1)) + "-" +
         buf;
}

Result<int> RuncExecutor::Run(const Context& ctx, const RunSpec& spec, Writer& out, Writer& err) {
  BERTH_TRY(ctx.Check());
  const ProcessSpec& process = spec.process;
  ResolvedUser user = BERTH_TRY(ResolveUser(spec.rootfs, process.user));

  std::string id = NewId();
  std::string bundle = options_.bundle_dir + "/" + id;
  if (::mkdir(bundle.c_str(), 0700) != 0) {
    return Error::FromErrno("mkdir " + bundle, errno);
  }
  snapshot::ScopedMount secrets_mount;
  auto remove_bundle = ScopeExit([&] {
    (void)secrets_mount.Unmount();
    (void)snapshot::RemoveAll(bundle);
  });

  SpecPaths paths;
  paths.rootfs = spec.rootfs;
  paths.hosts = bundle + "/hosts";
  paths.resolv_conf = bundle + "/resolv.conf";
  paths.cgroups_path = "/berth/" + id;
  BERTH_TRY(WriteBundleFile(paths.hosts, HostsFile(process), 0644));
  Result<std::string> resolv = os::ReadFile("/etc/resolv.conf");
  BERTH_TRY(WriteBundleFile(paths.resolv_conf, resolv.ok() ? *resolv : std::string(), 0644));

  // Secret files live on a tmpfs of their own, so they never touch a disk.
  uint64_t secret_bytes = 0;
  for (const MountSpec& m : process.mounts) {
    if (m.type == MountSpec::Type::kFile) {
      secret_bytes += m.data.size() + 4096;
    }
  }
  if (secret_bytes > 0) {
    std::string dir = bundle + "/files";
    if (::mkdir(dir.c_str(), 0700) != 0) {
      return Error::FromErrno("mkdir " + dir, errno);
    }
    secrets_mount = BERTH_TRY(
        snapshot::MountAll({snapshot::Mount{"tmpfs",
                                            "tmpfs",
                                            {"nosuid", "nodev", "noexec", "mode=700",
                                             "size=" + std::to_string(secret_bytes + 65536)}}},
                           dir));
    size_t n = 0;
    for (const MountSpec& m : process.mounts) {
      if (m.type != MountSpec::Type::kFile) {
        continue;
      }
      std::string file = dir + "/" + std::to_string(n++);
      BERTH_TRY(WriteBundleFile(file, m.data, static_cast<int>(m.mode & 07777)));
      if (::chown(file.c_str(), m.uid, m.gid) != 0) {
        return Error::FromErrno("chown " + file, errno);
      }
      paths.files.push_back(file);
    }
  }

  std::string config = BERTH_TRY(GenerateSpec(process, user, paths));
  BERTH_TRY(WriteBundleFile(bundle + "/config.json", config, 0600));

  std::vector<std::string> dests = {"/proc",       "/dev", "/dev/pts",   "/dev/shm",
                                    "/dev/mqueue", "/sys", "/etc/hosts", "/etc/resolv.conf"};
  for (const MountSpec& m : process.mounts) {
    dests.push_back(m.dest);
  }
  Stubs stubs(spec.rootfs, dests);

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    return Error::FromErrno("pipe", errno);
  }
  UniqueFd out_read(out_pipe[0]);
  UniqueFd out_write(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    return Error::FromErrno("pipe", errno);
  }
  UniqueFd err_read(err_pipe[0]);
  UniqueFd err_write(err_pipe[1]);

  std::string log_path = bundle + "/runc.log";
  std::vector<std::string> root_args = options_.command_prefix;
  for (const std::string& a : {options_.runtime, std::string("--root"), options_.state_dir}) {
    root_args.push_back(a);
  }
  std::vector<std::string> run_args = root_args;
  for (const char* a : {"--log", log_path.c_str(), "--log-format", "json", "run", "--bundle"}) {
    run_args.emplace_back(a);
  }
  run_args.push_back(bundle);
  run_args.push_back(id);
  Result<Subprocess> spawned = Subprocess::Spawn(run_args, -1, out_write.get(), err_write.get());
  if (!spawned.ok()) {
    return std::move(spawned).error().AddContext("starting runc");
  }
  Subprocess runc = std::move(*spawned);
  out_write.Reset();
  err_write.Reset();

  auto cleanup_state = ScopeExit([&] {
    // `runc run` deletes the container when it ends normally; only a runc that died leaves
    // state behind.
    if (::access((options_.state_dir + "/" + id).c_str(), F_OK) == 0) {
      std::vector<std::string> del = root_args;
      for (const char* a : {"delete", "-f"}) {
        del.emplace_back(a);
      }
      del.push_back(id);
      Result<RunOutput> r = RunCommand(del);
      if (!r.ok() || r->exit_code != 0) {
        log::Warn("runc delete " + id + " failed: " + (r.ok() ? r->output : r.error().ToString()));
      }
    }
    stubs.Clean();
  });

  std::vector<char> buf(64 * 1024);
  std::optional<Error> write_error;
  bool out_open = true;
  bool err_open = true;
  bool exited = false;
  bool killing = false;
  Clock::time_point next_kill{};
  Clock::time_point kill_started{};
  while (out_open || err_open || !exited) {
    struct pollfd pfds[3];
    nfds_t n = 0;
    int out_idx = -1;
    int err_idx = -1;
    int pid_idx = -1;
    if (out_open) {
      out_idx = static_cast<int>(n);
      pfds[n++] = {out_read.get(), POLLIN, 0};
    }
    if (err_open) {
      err_idx = static_cast<int>(n);
      pfds[n++] = {err_read.get(), POLLIN, 0};
    }
    if (!exited) {
      pid_idx = static_cast<int>(n);
      pfds[n++] = {runc.pidfd(), POLLIN, 0};
    }
    int ready = ::poll(pfds, n, 50);
    if (ready < 0 && errno != EINTR) {
      return Error::FromErrno("poll", errno);
    }
    auto drain = [&](int idx, UniqueFd& fd, Writer& w, bool& open) {
      if (idx < 0 || (pfds[idx].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
        return;
      }
      ssize_t got = ::read(fd.get(), buf.data(), buf.size());
      if (got > 0) {
        if (!write_error) {
          Result<> w_ok = w.Write(std::string_view(buf.data(), static_cast<size_t>(got)));
          if (!w_ok.ok()) {
            write_error = std::move(w_ok).error();
          }
        }
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        open = false;
      }
    };
    if (ready > 0) {
      drain(out_idx, out_read, out, out_open);
      drain(err_idx, err_read, err, err_open);
      if (pid_idx >= 0 && (pfds[pid_idx].revents & POLLIN) != 0) {
        exited = true;
      }
    }
    bool stop = ctx.Done() || write_error.has_value();
    if (stop && !exited) {
      Clock::time_point now = Clock::now();
      if (!killing) {
        killing = true;
        kill_started = now;
      }
      if (now >= next_kill) {
        // The container may not exist yet (runc still creating it): try again shortly.
        std::vector<std::string> kill = root_args;
        // Killing the container's init ends its whole pid namespace.
        kill.emplace_back("kill");
        kill.push_back(id);
        kill.emplace_back("KILL");
        (void)RunCommand(kill);
        next_kill = now + std::chrono::milliseconds(100);
      }
      if (now - kill_started > std::chrono::seconds(10)) {
        (void)runc.Kill(SIGKILL);  // runc itself hangs; the state cleanup deletes the rest
      }
    }
    if (exited && stop) {
      // Do not wait for descendants that inherited the pipes once runc is gone.
      break;
    }
  }
  int code = BERTH_TRY(runc.Wait());
  if (killing) {
    if (write_error) {
      return std::move(*write_error);
    }
    BERTH_TRY(ctx.Check());
  }
  if (write_error) {
    return std::move(*write_error);
  }
  if (code != 0) {
    std::string runc_error = RuncLogError(log_path);
    if (!runc_error.empty()) {
      return Error::Internal("runc: " + runc_error);
    }
  }
  return code;
}

}  // namespace berth::executor
