// A real berthd on loopback for end-to-end tests: started with posix_spawn from the build's bin/
// directory on a port the kernel picks, with a fresh root and a known admin token (kBerthdAdmin),
// stopped (by its PID) when the fixture dies; plus projects and project tokens made through the
// JSON API.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "os/file.h"
#include "registry/auth.h"
#include "registry/http.h"

extern char** environ;

namespace berth::e2e {

inline constexpr const char* kBerthdAdmin = "e2e-berthd-admin-0123456789";

class Berthd {
 public:
  // Starts berthd with root `root` (and `extra` flags), logging to `log`. Check url() for
  // success.
  Berthd(const std::string& root, const std::string& log, std::vector<std::string> extra = {})
      : log_(log) {
    std::string bin = std::string(BERTH_BIN) + "/berthd";
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::string env_token = std::string("BERTHD_ADMIN_TOKEN=") + kBerthdAdmin;
    std::vector<char*> env;
    for (char** e = environ; *e != nullptr; ++e) {
      env.push_back(*e);
    }
    env.push_back(env_token.data());
    env.push_back(nullptr);
    std::string listen = "127.0.0.1:0";
    std::string root_copy = root;
    std::string listen_flag = "--listen";
    std::string root_flag = "--root";
    std::vector<char*> argv = {bin.data(), listen_flag.data(), listen.data(), root_flag.data(),
                               root_copy.data()};
    for (std::string& e : extra) {
      argv.push_back(e.data());
    }
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), env.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    const std::string prefix = "berthd: listening on ";
    for (int i = 0; i < 800 && pid_ > 0; ++i) {
      std::string text = os::ReadFile(log).value_or("");
      size_t at = text.find(prefix);
      if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
        url_ = text.substr(at + prefix.size(), text.find('\n', at) - at - prefix.size());
        break;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  Berthd(const Berthd&) = delete;
  Berthd& operator=(const Berthd&) = delete;
  ~Berthd() { Stop(SIGTERM); }

  // Stops it with `sig` (SIGKILL: a crash) and reaps it.
  void Stop(int sig) {
    if (pid_ > 0) {
      kill(pid_, sig);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  // "http://127.0.0.1:PORT", or "" when it did not come up.
  const std::string& url() const { return url_; }
  // "127.0.0.1:PORT".
  std::string host() const { return url_.substr(url_.find("//") + 2); }
  std::string log() const { return os::ReadFile(log_).value_or(""); }

  // Calls the JSON API with the admin token; returns the parsed answer (null on failure).
  nlohmann::json Api(const std::string& method, const std::string& path,
                     const std::string& body = "") {
    registry::HttpRequest req;
    req.method = method;
    req.url = url_ + path;
    req.headers = {{"Authorization", std::string("Bearer ") + kBerthdAdmin},
                   {"Content-Type", "application/json"}};
    req.body = body;
    Result<registry::HttpResponse> r = http_.Do(Context::Background(), req);
    if (!r.ok() || r->status / 100 != 2) {
      ADD_FAILURE() << method << " " << path << ": "
                    << (r.ok() ? std::to_string(r->status) + " " + r->body : r.error().ToString());
      return nullptr;
    }
    return nlohmann::json::parse(r->body, nullptr, false);
  }

  // A new project's id.
  std::string CreateProject(const std::string& name) {
    nlohmann::json p = Api("POST", "/api/v1/projects", nlohmann::json{{"name", name}}.dump());
    return p.is_object() ? p.value("id", "") : "";
  }
  // A new project token's secret.
  std::string CreateProjectToken(const std::string& project) {
    nlohmann::json t = Api("POST", "/api/v1/projects/" + project + "/tokens",
                           nlohmann::json{{"name", "registry"}}.dump());
    return t.is_object() ? t.value("secret", "") : "";
  }

 private:
  pid_t pid_ = -1;
  std::string url_;
  std::string log_;
  registry::HttpClient http_;
};

}  // namespace berth::e2e
