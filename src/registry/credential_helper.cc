// RunCredentialHelper (auth.h): Docker's credential-helper protocol over a child process.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "base/unique_fd.h"
#include "registry/auth.h"

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX leaves it undeclared

namespace berth::registry {
namespace {

constexpr std::chrono::seconds kHelperTimeout{60};
// What a helper prints (exit status 1) when it has nothing for the server URL.
constexpr std::string_view kNotFound = "credentials not found in native keychain";
// A helper's answer is one small JSON object; more is not a helper talking.
constexpr size_t kMaxOutput = size_t{1} << 20;

struct HelperOutput {
  int status = -1;  // exit code, or 128 + signal
  std::string out;
  std::string err;
};

// Spawns `program get`, writes `input` to its stdin and collects stdout and stderr until it
// exits. stdin is a socket so that a helper which exits without reading cannot SIGPIPE us.
Result<HelperOutput> RunHelper(const std::string& program, const std::string& input) {
  int in[2];
  int out[2];
  int err[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) != 0) {
    return Error::FromErrno("socketpair", errno);
  }
  UniqueFd in_child(in[0]);
  UniqueFd in_parent(in[1]);
  if (::pipe2(out, O_CLOEXEC) != 0) {
    return Error::FromErrno("pipe2", errno);
  }
  UniqueFd out_parent(out[0]);
  UniqueFd out_child(out[1]);
  if (::pipe2(err, O_CLOEXEC) != 0) {
    return Error::FromErrno("pipe2", errno);
  }
  UniqueFd err_parent(err[0]);
  UniqueFd err_child(err[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_child.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out_child.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_child.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::string get = "get";
  std::vector<char*> argv = {const_cast<char*>(program.c_str()), get.data(), nullptr};
  pid_t pid = -1;
  int spawned = ::posix_spawnp(&pid, program.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    if (spawned == ENOENT) {
      return Error::FailedPrecondition(program + " is not installed (not found on PATH)");
    }
    return Error::FromErrno("starting " + program, spawned);
  }
  // The child has its copies; ours would keep the pipes open forever.
  in_child.Reset(-1);
  out_child.Reset(-1);
  err_child.Reset(-1);

  HelperOutput result;
  // A short write or EPIPE only means the helper did not want its input: its answer says more.
  (void)::send(in_parent.get(), input.data(), input.size(), MSG_NOSIGNAL);
  in_parent.Reset(-1);

  auto deadline = std::chrono::steady_clock::now() + kHelperTimeout;
  bool timed_out = false;
  bool too_much = false;
  pollfd fds[2] = {{out_parent.get(), POLLIN, 0}, {err_parent.get(), POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int n = ::poll(fds, 2, static_cast<int>(left.count()));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      char buf[4096];
      ssize_t got = ::read(fds[i].fd, buf, sizeof buf);
      if (got < 0 && errno == EINTR) {
        continue;
      }
      if (got <= 0) {
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      if (sinks[i]->size() + static_cast<size_t>(got) > kMaxOutput) {
        too_much = true;
        open_fds = 0;
        break;
      }
      sinks[i]->append(buf, static_cast<size_t>(got));
    }
  }
  if (timed_out || too_much) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Error::FailedPrecondition(program + " get did not answer within " +
                                     std::to_string(kHelperTimeout.count()) + " s");
  }
  if (too_much) {
    return Error::FailedPrecondition(program + " get wrote more than " +
                                     std::to_string(kMaxOutput) + " bytes");
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

}  // namespace

Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper,
                                                       const std::string& server_url) {
  if (helper.empty() || helper.find('/') != std::string::npos) {
    return Error::FailedPrecondition("invalid credential helper name " + QuoteString(helper));
  }
  std::string program = "docker-credential-" + helper;
  HelperOutput run = BERTH_TRY(RunHelper(program, server_url));
  std::string out(Trim(run.out));
  if (run.status != 0) {
    if (out == kNotFound) {
      return std::optional<Credentials>();
    }
    std::string why(Trim(out.empty() ? run.err : out));
    if (why.size() > 500) {
      why = why.substr(0, 500) + "...";
    }
    return Error::FailedPrecondition(program + " get for " + server_url + " failed (exit status " +
                                     std::to_string(run.status) + ")" +
                                     (why.empty() ? "" : ": " + why));
  }
  nlohmann::json doc = nlohmann::json::parse(out, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return Error::FailedPrecondition(program + " get for " + server_url +
                                     " answered something other than a JSON object with "
                                     "ServerURL, Username and Secret");
  }
  auto field = [&](const char* name) -> std::string {
    auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  Credentials creds;
  creds.username = field("Username");
  creds.password = field("Secret");
  // Docker's convention for identity tokens kept in a helper.
  if (creds.username == "<token>") {
    creds.identity_token = std::move(creds.password);
    creds.username.clear();
    creds.password.clear();
  }
  if (creds.username.empty() && creds.password.empty() && creds.identity_token.empty()) {
    return std::optional<Credentials>();
  }
  return std::optional<Credentials>(std::move(creds));
}

}  // namespace berth::registry
