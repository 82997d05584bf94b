#include "executor/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "os/file.h"

extern char** environ;  // NOLINT(readability-redundant-declaration)

namespace berth::executor {

Result<Subprocess> Subprocess::Spawn(const std::vector<std::string>& argv, int stdin_fd,
                                     int stdout_fd, int stderr_fd) {
  if (argv.empty()) {
    return Error::InvalidArgument("spawn: empty argv");
  }
  UniqueFd null_fd(::open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!null_fd) {
    return Error::FromErrno("open /dev/null", errno);
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int fds[3] = {stdin_fd, stdout_fd, stderr_fd};
  for (int i = 0; i < 3; ++i) {
    posix_spawn_file_actions_adddup2(&actions, fds[i] >= 0 ? fds[i] : null_fd.get(), i);
  }
  // Nothing else reaches the child, whatever a library opened without O_CLOEXEC: berthd's
  // accepted sockets (cpp-httplib does not set it) kept a client's connection open inside a
  // `runc run` that outlived a killed berthd, and handed the client's socket to the build.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty;
  sigemptyset(&empty);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) {
    args.push_back(const_cast<char*>(a.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  args.push_back(nullptr);
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, argv[0].c_str(), &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    return Error::FromErrno("spawn " + argv[0], err);
  }
  long pidfd = ::syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) {
    int open_err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Error::FromErrno("pidfd_open", open_err);
  }
  return Subprocess(pid, UniqueFd(static_cast<int>(pidfd)));
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)), pidfd_(std::move(other.pidfd_)) {}

Subprocess::~Subprocess() {
  if (pid_ > 0) {
    (void)Kill(SIGKILL);
    (void)Wait();
  }
}

Result<> Subprocess::Kill(int signal) {
  if (pid_ <= 0) {
    return Error::FailedPrecondition("process already waited for");
  }
  if (::syscall(SYS_pidfd_send_signal, pidfd_.get(), signal, nullptr, 0) != 0 && errno != ESRCH) {
    return Error::FromErrno("kill " + std::to_string(pid_), errno);
  }
  return {};
}

Result<int> Subprocess::Wait() {
  if (pid_ <= 0) {
    return Error::FailedPrecondition("process already waited for");
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) {
      int err = errno;
      pid_ = -1;
      return Error::FromErrno("waitpid", err);
    }
  }
  pid_ = -1;
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return Error::Internal("unexpected wait status " + std::to_string(status));
}

Result<RunOutput> RunCommand(const std::vector<std::string>& argv) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return Error::FromErrno("pipe", errno);
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  Subprocess child = BERTH_TRY(Subprocess::Spawn(argv, -1, write_end.get(), write_end.get()));
  write_end.Reset();
  RunOutput out;
  out.output = BERTH_TRY(os::ReadAll(read_end.get()));
  out.exit_code = BERTH_TRY(child.Wait());
  return out;
}

}  // namespace berth::executor
