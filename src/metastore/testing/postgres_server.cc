#include "metastore/testing/postgres_server.h"

#include <fcntl.h>
#include <glob.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <vector>

#include <libpq-fe.h>
#include <netinet/in.h>

#include "base/scope_exit.h"

namespace berth::metastore::testing {

namespace {

constexpr char kPassword[] = "berth-test-password";

// The bin directory of the newest installed PostgreSQL, e.g. /usr/lib/postgresql/15/bin, or
// $BERTH_POSTGRES_BIN when set (another layout, another version).
Result<std::string> FindBinDir() {
  // NOLINTNEXTLINE(concurrency-mt-unsafe): read once, under SharedPostgresServer's lock.
  if (const char* bin = std::getenv("BERTH_POSTGRES_BIN"); bin != nullptr && *bin != '\0') {
    if (::access((std::string(bin) + "/initdb").c_str(), X_OK) != 0 ||
        ::access((std::string(bin) + "/postgres").c_str(), X_OK) != 0) {
      return Error::FailedPrecondition(
          "PostgreSQL server binaries not found in $BERTH_POSTGRES_BIN (" + std::string(bin) +
          "/initdb and postgres): install Debian's `postgresql` "
          "package (scripts/setup does) or fix the variable");
    }
    return std::string(bin);
  }
  glob_t g{};
  // glob(3) is not thread-safe: tests find the server once, under SharedPostgresServer's lock.
  int rc =
      ::glob("/usr/lib/postgresql/*/bin/initdb", 0, nullptr, &g);  // NOLINT(concurrency-mt-unsafe)
  std::vector<std::string> found;
  if (rc == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) {
      found.emplace_back(g.gl_pathv[i]);
    }
  }
  ::globfree(&g);
  // Newest major version first (numeric, so that 15 sorts after 9).
  auto major = [](const std::string& path) {
    int v = 0;
    std::string_view rest =
        std::string_view{path}.substr(std::string_view("/usr/lib/postgresql/").size());
    std::from_chars(rest.data(), rest.data() + rest.size(), v);
    return v;
  };
  std::sort(found.begin(), found.end(),
            [&](const std::string& a, const std::string& b) { return major(a) > major(b); });
  for (const std::string& initdb : found) {
    std::string bin = initdb.substr(0, initdb.size() - 7);
    if (::access((bin + "/postgres").c_str(), X_OK) == 0) {
      return bin;
    }
  }
  return Error::FailedPrecondition(
      "PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin/initdb and postgres): "
      "install Debian's `postgresql` package (scripts/setup does)");
}

std::string Tail(const std::string& path, size_t bytes = 2000) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > bytes ? s.substr(s.size() - bytes) : s;
}

// Starts `argv` (as the postgres user when we are root) with stdout and stderr to `log`.
Result<pid_t> Spawn(std::vector<std::string> argv, const std::string& log) {
  // The child gets SIGKILL when we die, so that a crashed or killed test leaves no server
  // behind. The signal is set by a setpriv that already runs as the final user: the kernel
  // clears it when a process changes its credentials.
  std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--pdeathsig=SIGKILL", "--"};
  if (::geteuid() == 0) {
    wrapped.insert(wrapped.begin(), {"/usr/bin/setpriv", "--reuid=postgres", "--regid=postgres",
                                     "--clear-groups", "--"});
  }
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  argv = std::move(wrapped);
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (std::string& a : argv) {
    args.push_back(a.data());
  }
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return Error::FromErrno("posix_spawn " + argv[0], rc);
  }
  return pid;
}

Result<> RunToCompletion(std::vector<std::string> argv, const std::string& log) {
  std::string what = argv[0];
  pid_t pid = BERTH_TRY(Spawn(std::move(argv), log));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      return Error::FromErrno("waitpid " + what, errno);
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Error::Internal(what + " failed (status " + std::to_string(status) + "): " + Tail(log));
  }
  return {};
}

// A port on 127.0.0.1 that nothing listens on right now.
Result<int> FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return Error::FromErrno("socket", errno);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    (void)::close(fd);
    return Error::FromErrno("bind 127.0.0.1:0", err);
  }
  (void)::close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

std::string AdminConninfo(int port, const std::string& db) {
  return "host=127.0.0.1 port=" + std::to_string(port) + " user=postgres dbname=" + db +
         " connect_timeout=5";
}

// Stops the server we started: fast shutdown, then SIGKILL; reaps it.
void Stop(pid_t pid) {
  ::kill(pid, SIGINT);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno != EINTR)) {
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

}  // namespace

Result<std::unique_ptr<PostgresServer>> PostgresServer::Start() {
  std::string bin = BERTH_TRY(FindBinDir());

  char tmpl[] = "/tmp/berth-postgres-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    return Error::FromErrno("mkdtemp", errno);
  }
  std::string dir = tmpl;
  // Removes the cluster on every failure; a started server owns it (and removes it) instead.
  ScopeExit remove_dir([&] {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  });
  if (::geteuid() == 0) {
    struct passwd pwd {};
    struct passwd* pw = nullptr;
    std::vector<char> buf(16384);
    if (::getpwnam_r("postgres", &pwd, buf.data(), buf.size(), &pw) != 0 || pw == nullptr) {
      return Error::FailedPrecondition(
          "running as root, but there is no `postgres` user to run the server as (Debian's "
          "`postgresql` package creates it)");
    }
    if (::chown(dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return Error::FromErrno("chown " + dir, errno);
    }
  }
  std::string log = dir + "/server.log";
  BERTH_TRY(RunToCompletion({bin + "/initdb", "-D", dir + "/data", "-U", "postgres", "-A", "trust",
                             "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"},
                            log));

  // A port picked here could be taken before the server binds it: try a few.
  Error last = Error::Unavailable("postgres did not start");
  for (int attempt = 0; attempt < 3; ++attempt) {
    int port = BERTH_TRY(FreePort());
    pid_t pid = BERTH_TRY(
        Spawn({bin + "/postgres", "-D", dir + "/data", "-k", dir, "-h", "127.0.0.1", "-p",
               std::to_string(port), "-F", "-c", "synchronous_commit=off", "-c",
               "full_page_writes=off", "-c", "max_connections=200", "-c", "shared_buffers=32MB"},
              log));
    auto server = std::unique_ptr<PostgresServer>(new PostgresServer(dir, port, pid));
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    bool exited = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (PQping(AdminConninfo(port, "postgres").c_str()) == PQPING_OK) {
        remove_dir.Cancel();
        BERTH_TRY(server->Exec(
            "postgres", "CREATE ROLE berth LOGIN PASSWORD '" + std::string(kPassword) + "'"));
        return server;
      }
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        server->pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    last = Error::Unavailable(std::string(exited ? "postgres exited"
                                                 : "postgres did not accept "
                                                   "connections in 30 s") +
                              ": " + Tail(log));
    server->dir_.clear();  // remove_dir removes the cluster, or the next attempt reuses it.
    if (!exited) {
      return last;  // The destructor stops the server.
    }
  }
  return last;
}

PostgresServer::~PostgresServer() {
  if (pid_ > 0) {
    Stop(pid_);
  }
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Result<> PostgresServer::Exec(const std::string& db, const std::string& sql) const {
  PGconn* conn = PQconnectdb(AdminConninfo(port_, db).c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    PQfinish(conn);
    return Error::Unavailable("connecting to the test postgres: " + message);
  }
  PGresult* res = PQexec(conn, sql.c_str());
  ExecStatusType status = PQresultStatus(res);
  std::string message = PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return Error::Internal("test postgres: " + sql + ": " + message);
  }
  return {};
}

Result<std::string> PostgresServer::CreateDatabase() {
  std::string name = "berth_test_" + std::to_string(++databases_);
  BERTH_TRY(Exec("postgres", "CREATE DATABASE " + name + " OWNER berth"));
  return "postgres://berth:" + std::string(kPassword) + "@127.0.0.1:" + std::to_string(port_) +
         "/" + name;
}

Result<PostgresServer*> SharedPostgresServer() {
  static std::mutex mu;
  static std::unique_ptr<PostgresServer> server;
  static std::optional<Error> failed;
  std::lock_guard lock(mu);
  if (server) {
    return server.get();
  }
  if (failed) {
    return *failed;
  }
  Result<std::unique_ptr<PostgresServer>> started = PostgresServer::Start();
  if (!started.ok()) {
    failed = started.error();
    return started.error();
  }
  server = std::move(started).value();
  return server.get();
}

}  // namespace berth::metastore::testing
