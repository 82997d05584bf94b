// Where the CLI finds berthd, its token and the project (DESIGN.md, "Operating berthd").
//
// Server and token, highest first:
//   1. the --host / --token flags;
//   2. the BERTH_HOST / BERTH_TOKEN environment variables;
//   3. the login file written by `berth login`: $XDG_CONFIG_HOME/berth/config.json, else
//      ~/.config/berth/config.json (mode 0600), holding a token per host and a current host.
// Each is resolved on its own: BERTH_TOKEN applies to the login's current host, and a host from
// a flag takes its token from the login file when neither --token nor BERTH_TOKEN is given.
// Commands that work in one project then fall back to a CI job's OIDC ID token (oidc_login.h).
//
// Project, highest first: --project, BERTH_PROJECT, then a project file found by searching
// upward from each of the given directories (the build context first, then the Dockerfile's
// directory): `berth.json` (`{"id":"p_..."}`, written by `berth init`) or, read for
// compatibility, `depot.json` (`{"id":"..."}`). In one directory berth.json wins.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::client {

// The base URL for a host as the user writes it: "http://h:p" and "https://h:p" stay (a trailing
// slash dropped); a bare "h:p" or "h" gets https, or http when h is loopback (localhost,
// 127.0.0.0/8, ::1). InvalidArgument for an empty host, another scheme or a malformed address.
Result<std::string> BaseUrl(std::string_view host);

// How registry clients name berthd's registry: the base URL without its scheme
// ("http://127.0.0.1:8088" -> "127.0.0.1:8088").
std::string RegistryHost(std::string_view base_url);

// Reads an environment variable; "" when unset. Tests pass their own.
using Getenv = std::function<std::string(const std::string&)>;
// The process environment.
Getenv ProcessEnv();

// The login file: a token per host (keyed by base URL) and the current host.
//   {"current":"https://berth.example:8088","hosts":{"https://berth.example:8088":{"token":"..."}}}
class LoginFile {
 public:
  // $XDG_CONFIG_HOME/berth/config.json, else $HOME/.config/berth/config.json.
  // FailedPrecondition when neither variable is set.
  static Result<std::string> DefaultPath(const Getenv& env);

  // Reads `path`; a missing file is an empty login file. InvalidArgument naming the file when it
  // is not the JSON above.
  static Result<LoginFile> Load(const std::string& path);

  // Writes the file atomically with mode 0600, making its directory (0700) when missing.
  Result<> Save() const;

  const std::string& path() const { return path_; }
  // The current host's base URL, "" when none.
  const std::string& current() const { return current_; }
  // The token stored for `base_url`, if any.
  std::optional<std::string> Token(const std::string& base_url) const;
  // Stores `token` for `base_url` and makes it the current host.
  void Set(const std::string& base_url, const std::string& token);
  // Forgets `base_url` (and it as the current host). False when it was not there.
  bool Remove(const std::string& base_url);
  const std::map<std::string, std::string>& tokens() const { return tokens_; }

 private:
  std::string path_;
  std::string current_;
  std::map<std::string, std::string> tokens_;
};

// The flags a remote command was given ("" when not).
struct ServerFlags {
  std::string host;
  std::string token;
};

struct Server {
  std::string url;    // base URL
  std::string token;  // "" only from ResolveHost
  // Where each came from, for messages: "--host", "BERTH_HOST", "login" (and "--token", ...).
  std::string url_source;
  std::string token_source;
};

// The server only (for `berth login`/`logout`): --host, BERTH_HOST, the login's current host.
// FailedPrecondition naming the three ways when there is none.
Result<Server> ResolveHost(const ServerFlags& flags, const Getenv& env);

// Server and token in the order above. FailedPrecondition when no host is set anywhere;
// Unauthenticated (with the `berth login` hint) when there is no token for it.
Result<Server> ResolveServer(const ServerFlags& flags, const Getenv& env);

// --- projects

// The project file that applies to `dir`: berth.json or depot.json in `dir` or the nearest
// directory above it. nullopt when there is none up to /.
std::optional<std::string> FindProjectFile(const std::string& dir);

// The project id in a berth.json or depot.json. InvalidArgument naming the file when it is not
// `{"id":"..."}` with a non-empty string id; NotFound when it does not exist.
Result<std::string> ReadProjectFile(const std::string& path);

// Writes `{"id":project_id}` to `path` (berth.json).
Result<> WriteProjectFile(const std::string& path, const std::string& project_id);

struct ProjectChoice {
  std::string id;      // "" when no project was found
  std::string source;  // "--project", "BERTH_PROJECT" or the project file's path
};

// The project in the order above; `search_from` are the directories whose ancestors may hold a
// project file. An empty id when none applies; errors only from a bad project file.
Result<ProjectChoice> ResolveProject(const std::string& flag, const Getenv& env,
                                     const std::vector<std::string>& search_from);

}  // namespace berth::client
