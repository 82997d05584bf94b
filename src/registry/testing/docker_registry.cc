#include "registry/testing/docker_registry.h"

#include <fcntl.h>
#include <ifaddrs.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>

#include "base/context.h"
#include "oci/testing/test_image.h"
#include "os/file.h"
#include "registry/http.h"

extern char** environ;

namespace berth::registry::test {

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) {
      ::close(fd);
    }
    return -1;
  }
  int port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

std::string NonLoopbackIPv4() {
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) {
    return "";
  }
  std::string found;
  for (ifaddrs* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET ||
        (a->ifa_flags & IFF_LOOPBACK) != 0 || (a->ifa_flags & IFF_UP) == 0) {
      continue;
    }
    char ip[INET_ADDRSTRLEN] = "";
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, ip, sizeof ip);
    found = ip;
  }
  ::freeifaddrs(list);
  return found;
}

bool DockerRegistry::Available() {
  return ::access(kBinary, X_OK) == 0;
}

Result<std::unique_ptr<DockerRegistry>> DockerRegistry::Start(const std::string& dir,
                                                              const std::string& htpasswd_path,
                                                              const std::string& address) {
  if (!Available()) {
    return Error::FailedPrecondition(
        "docker-registry is not installed (scripts/setup installs it)");
  }
  BERTH_TRY(os::MakeDirs(dir, 0755));
  int port = FreePort();
  if (port <= 0) {
    return Error::Internal("no free port");
  }
  std::unique_ptr<DockerRegistry> reg(new DockerRegistry());
  reg->host_ = address + ":" + std::to_string(port);
  reg->log_path_ = dir + "/registry.log";
  std::string config =
      "version: 0.1\n"
      "log:\n  level: warn\n  accesslog:\n    disabled: true\n"
      "storage:\n  filesystem:\n    rootdirectory: " +
      dir +
      "/data\n"
      "  delete:\n    enabled: true\n"
      "http:\n  addr: " +
      reg->host_ + "\n";
  if (!htpasswd_path.empty()) {
    config += "auth:\n  htpasswd:\n    realm: berth-test\n    path: " + htpasswd_path + "\n";
  }
  std::string config_path = dir + "/config.yml";
  BERTH_TRY(os::WriteFileAtomic(config_path, config));

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, reg->log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::string serve = "serve";
  char* argv[] = {const_cast<char*>(kBinary), serve.data(), config_path.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, kBinary, &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Error::FromErrno("posix_spawn docker-registry", rc);
  }
  reg->pid_ = pid;

  HttpClient http;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    HttpRequest req;
    req.url = "http://" + reg->host_ + "/v2/";
    Result<HttpResponse> resp = http.Do(Context::Background(), req);
    if (resp.ok() && (resp->status == 200 || resp->status == 401)) {
      return reg;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      reg->pid_ = -1;
      std::string log = os::ReadFile(reg->log_path_).value_or("");
      return Error::Internal("docker-registry exited early: " + log);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Error::Unavailable("docker-registry did not answer on " + reg->host_);
}

DockerRegistry::~DockerRegistry() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

Result<> WriteHtpasswd(const std::string& path, const std::string& user,
                       const std::string& password) {
  if (oci::test::HaveTool("htpasswd")) {
    auto r =
        oci::test::RunCommand("htpasswd -Bbn '" + user + "' '" + password + "' > '" + path + "'");
    if (r.exit_code != 0) {
      return Error::Internal("htpasswd: " + r.output);
    }
    return {};
  }
  auto r = oci::test::RunCommand(
      "python3 -W ignore -c 'import crypt,sys; "
      "print(sys.argv[1] + \":\" + crypt.crypt(sys.argv[2], crypt.mksalt(crypt.METHOD_BLOWFISH)))' "
      "'" +
      user + "' '" + password + "' > '" + path + "'");
  if (r.exit_code != 0) {
    return Error::FailedPrecondition("neither htpasswd (apache2-utils) nor python3 crypt: " +
                                     r.output);
  }
  return {};
}

}  // namespace berth::registry::test
