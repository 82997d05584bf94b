#include "client/settings.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <climits>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "os/file.h"

namespace berth::client {
namespace {

using json = nlohmann::json;

bool IsLoopback(std::string_view host) {
  if (host == "localhost" || host == "::1" || host.ends_with(".localhost")) {
    return true;
  }
  // 127.0.0.0/8, written as four decimal octets.
  if (!host.starts_with("127.")) {
    return false;
  }
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (std::isdigit(static_cast<unsigned char>(c)) == 0) {
      return false;
    }
  }
  return dots == 3;
}

// Splits "host:port", "[v6]:port", "host" or "[v6]" into the host (without brackets) and the
// port ("" when absent). InvalidArgument for anything else.
Result<std::pair<std::string, std::string>> SplitAuthority(std::string_view authority,
                                                           std::string_view whole) {
  auto bad = [&](const std::string& why) {
    return Error::InvalidArgument("host \"" + std::string(whole) + "\": " + why);
  };
  std::string host;
  std::string_view rest;
  if (authority.starts_with('[')) {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return bad("missing ']'");
    }
    host = std::string(authority.substr(1, close - 1));
    rest = authority.substr(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) {
      return bad("want [ADDRESS]:PORT");
    }
  } else {
    size_t colon = authority.find(':');
    if (colon != std::string_view::npos &&
        authority.find(':', colon + 1) != std::string_view::npos) {
      return bad("write an IPv6 address in brackets: [ADDRESS]:PORT");
    }
    host = std::string(authority.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : authority.substr(colon);
  }
  if (host.empty()) {
    return bad("missing the host name");
  }
  for (char c : host) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-' ||
              c == '_' || c == ':' || c == '%';
    if (!ok) {
      return bad("unexpected character '" + std::string(1, c) + "'");
    }
  }
  std::string port;
  if (!rest.empty()) {
    port = std::string(rest.substr(1));
    bool digits = !port.empty() && port.size() <= 5;
    for (char c : port) {
      digits = digits && std::isdigit(static_cast<unsigned char>(c)) != 0;
    }
    if (!digits || std::atoi(port.c_str()) > 65535) {
      return bad("bad port \"" + port + "\"");
    }
  }
  return std::make_pair(host, port);
}

std::string Parent(const std::string& dir) {
  size_t slash = dir.find_last_of('/');
  if (slash == std::string::npos || slash == 0) {
    return "/";
  }
  return dir.substr(0, slash);
}

// `dir` as an absolute path without symlinks when it exists, else made absolute lexically.
std::string Absolute(const std::string& dir) {
  char resolved[PATH_MAX];
  if (realpath(dir.c_str(), resolved) != nullptr) {
    return resolved;
  }
  if (dir.starts_with('/')) {
    return dir;
  }
  char cwd[PATH_MAX];
  if (getcwd(cwd, sizeof(cwd)) == nullptr) {
    return dir;
  }
  return std::string(cwd) + "/" + dir;
}

bool IsFile(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Error NoToken(const std::string& url) {
  return Error::Unauthenticated("no token for " + url + ": run `berth login " + url +
                                " --token TOKEN`, set BERTH_TOKEN or pass --token");
}

}  // namespace

std::string RegistryHost(std::string_view base_url) {
  size_t sep = base_url.find("://");
  return std::string(sep == std::string_view::npos ? base_url : base_url.substr(sep + 3));
}

Result<std::string> BaseUrl(std::string_view host) {
  std::string h(Trim(host));
  if (h.empty()) {
    return Error::InvalidArgument(
        "empty host: want http://HOST:PORT, https://HOST:PORT or HOST:PORT");
  }
  std::string scheme;
  std::string_view rest = h;
  size_t sep = h.find("://");
  if (sep != std::string::npos) {
    scheme = ToLower(h.substr(0, sep));
    if (scheme != "http" && scheme != "https") {
      return Error::InvalidArgument("host \"" + h + "\": want an http:// or https:// URL");
    }
    rest = rest.substr(sep + 3);
  }
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (path.ends_with('/')) {
    path.pop_back();
  }
  auto [name, port] = BERTH_TRY(SplitAuthority(authority, h));
  if (scheme.empty()) {
    scheme = IsLoopback(name) ? "http" : "https";
  }
  return scheme + "://" + std::string(authority) + path;
}

Getenv ProcessEnv() {
  return [](const std::string& name) -> std::string {
    const char* v = std::getenv(name.c_str());  // NOLINT(concurrency-mt-unsafe)
    return v != nullptr ? v : "";
  };
}

// --- LoginFile

Result<std::string> LoginFile::DefaultPath(const Getenv& env) {
  std::string xdg = env("XDG_CONFIG_HOME");
  if (xdg.starts_with('/')) {
    return xdg + "/berth/config.json";
  }
  std::string home = env("HOME");
  if (home.empty()) {
    return Error::FailedPrecondition(
        "cannot find the login file: neither XDG_CONFIG_HOME nor HOME is set");
  }
  return home + "/.config/berth/config.json";
}

Result<LoginFile> LoginFile::Load(const std::string& path) {
  LoginFile file;
  file.path_ = path;
  Result<std::string> text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return file;
    }
    return std::move(text).error();
  }
  auto bad = [&](const std::string& why) {
    return Error::InvalidArgument(path + ": " + why + " (remove it and run `berth login` again)");
  };
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return bad("not a JSON object");
  }
  if (auto it = j.find("current"); it != j.end() && !it->is_null()) {
    if (!it->is_string()) {
      return bad("\"current\": want a string");
    }
    file.current_ = it->get<std::string>();
  }
  if (auto it = j.find("hosts"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) {
      return bad("\"hosts\": want an object");
    }
    for (const auto& [url, entry] : it->items()) {
      if (!entry.is_object() || !entry.contains("token") || !entry["token"].is_string()) {
        return bad(R"("hosts".")" + url + R"(": want {"token":"..."})");
      }
      file.tokens_[url] = entry["token"].get<std::string>();
    }
  }
  return file;
}

Result<> LoginFile::Save() const {
  std::string dir = Parent(path_);
  BERTH_TRY(os::MakeDirs(dir, 0700));
  json hosts = json::object();
  for (const auto& [url, token] : tokens_) {
    hosts[url] = {{"token", token}};
  }
  json j = {{"current", current_}, {"hosts", hosts}};
  BERTH_TRY_CONTEXT(os::WriteFileAtomic(path_, j.dump(2) + "\n", 0600), "writing " + path_);
  // The file may have been made earlier by hand with a looser mode.
  if (chmod(path_.c_str(), 0600) != 0) {
    return Error::FromErrno("chmod " + path_, errno);
  }
  return {};
}

std::optional<std::string> LoginFile::Token(const std::string& base_url) const {
  auto it = tokens_.find(base_url);
  if (it == tokens_.end()) {
    return std::nullopt;
  }
  return it->second;
}

void LoginFile::Set(const std::string& base_url, const std::string& token) {
  tokens_[base_url] = token;
  current_ = base_url;
}

bool LoginFile::Remove(const std::string& base_url) {
  bool removed = tokens_.erase(base_url) > 0;
  if (current_ == base_url) {
    current_.clear();
  }
  return removed;
}

// --- server and token

Result<Server> ResolveHost(const ServerFlags& flags, const Getenv& env) {
  Server server;
  std::string host;
  if (!flags.host.empty()) {
    host = flags.host;
    server.url_source = "--host";
  } else if (std::string v = env("BERTH_HOST"); !v.empty()) {
    host = v;
    server.url_source = "BERTH_HOST";
  }
  if (!host.empty()) {
    server.url = BERTH_TRY_CONTEXT(BaseUrl(host), server.url_source);
    return server;
  }
  std::string path = BERTH_TRY(LoginFile::DefaultPath(env));
  LoginFile login = BERTH_TRY(LoginFile::Load(path));
  if (login.current().empty()) {
    return Error::FailedPrecondition(
        "no berthd host: pass --host, set BERTH_HOST or run `berth login HOST --token TOKEN`");
  }
  server.url = login.current();
  server.url_source = "login";
  return server;
}

Result<Server> ResolveServer(const ServerFlags& flags, const Getenv& env) {
  Server server = BERTH_TRY(ResolveHost(flags, env));
  if (!flags.token.empty()) {
    server.token = flags.token;
    server.token_source = "--token";
    return server;
  }
  if (std::string v = env("BERTH_TOKEN"); !v.empty()) {
    server.token = v;
    server.token_source = "BERTH_TOKEN";
    return server;
  }
  std::string path = BERTH_TRY(LoginFile::DefaultPath(env));
  LoginFile login = BERTH_TRY(LoginFile::Load(path));
  std::optional<std::string> token = login.Token(server.url);
  if (!token || token->empty()) {
    return NoToken(server.url);
  }
  server.token = *token;
  server.token_source = "login";
  return server;
}

// --- projects

std::optional<std::string> FindProjectFile(const std::string& dir) {
  std::string at = Absolute(dir.empty() ? "." : dir);
  while (at.size() > 1 && at.ends_with('/')) {
    at.pop_back();
  }
  while (true) {
    std::string base = at == "/" ? "" : at;
    for (const char* name : {"/berth.json", "/depot.json"}) {
      if (IsFile(base + name)) {
        return base + name;
      }
    }
    if (at == "/") {
      return std::nullopt;
    }
    at = Parent(at);
  }
}

Result<std::string> ReadProjectFile(const std::string& path) {
  std::string text = BERTH_TRY(os::ReadFile(path));
  json j = json::parse(text, nullptr, false);
  auto bad = [&]() {
    return Error::InvalidArgument(path + R"(: want {"id":"PROJECT_ID"})");
  };
  if (j.is_discarded() || !j.is_object()) {
    return bad();
  }
  auto it = j.find("id");
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty()) {
    return bad();
  }
  return it->get<std::string>();
}

Result<> WriteProjectFile(const std::string& path, const std::string& project_id) {
  json j = {{"id", project_id}};
  return os::WriteFileAtomic(path, j.dump(2) + "\n", 0644);
}

Result<ProjectChoice> ResolveProject(const std::string& flag, const Getenv& env,
                                     const std::vector<std::string>& search_from) {
  if (!flag.empty()) {
    return ProjectChoice{flag, "--project"};
  }
  if (std::string v = env("BERTH_PROJECT"); !v.empty()) {
    return ProjectChoice{v, "BERTH_PROJECT"};
  }
  for (const std::string& dir : search_from) {
    if (std::optional<std::string> file = FindProjectFile(dir)) {
      std::string id = BERTH_TRY(ReadProjectFile(*file));
      return ProjectChoice{id, *file};
    }
  }
  return ProjectChoice{};
}

}  // namespace berth::client
