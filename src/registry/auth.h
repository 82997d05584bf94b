// Registry authentication: credentials, the WWW-Authenticate challenge, and Docker's
// config.json.
//
// A registry answers an unauthenticated request with 401 and a challenge:
//   WWW-Authenticate: Bearer realm="https://auth.docker.io/token",service="registry.docker.io",
//                     scope="repository:library/busybox:pull"
// or `Basic realm="..."`. For Bearer the client fetches a token from the realm (with basic
// credentials when it has some) and repeats the request with `Authorization: Bearer <token>`;
// for Basic it repeats the request with the credentials. The Client (client.h) runs that dance;
// this header holds the pure parts so they can be tested alone.
//
// Credentials come from Docker's config file, so `docker login` (and `skopeo login`) work for
// berth too: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. For a registry, in the
// order Docker uses: its `credHelpers` entry, else `credsStore`, names a credential helper
// (`docker-credential-<name> get`, the server URL on stdin, {ServerURL, Username, Secret} JSON on
// stdout); a helper that has nothing for the registry, or no helper, leaves the `auths` entry:
// a base64 `auth` ("user:password"), separate `username`/`password`, or an `identitytoken` (an
// OAuth2 refresh token, exchanged for bearer tokens with grant_type=refresh_token).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::registry {

struct Credentials {
  std::string username;
  std::string password;
  // An OAuth2 refresh token ("identitytoken" in config.json, or a helper's Secret when its
  // Username is "<token>"). When set, bearer tokens are fetched with it, not with the password.
  std::string identity_token;
  friend bool operator==(const Credentials&, const Credentials&) = default;
};

// Runs the credential helper `docker-credential-<helper> get` with `server_url` on stdin (and
// the environment, PATH included, of this process) and parses its answer. nullopt when the
// helper has no credentials for `server_url` ("credentials not found in native keychain").
// FailedPrecondition naming the helper and `server_url` when it is not installed, fails, takes
// longer than 60 s, or answers something other than the JSON object.
Result<std::optional<Credentials>> RunCredentialHelper(const std::string& helper,
                                                       const std::string& server_url);
using CredentialHelperFn = std::function<decltype(RunCredentialHelper)>;

// One challenge of a WWW-Authenticate header: its scheme ("bearer", "basic"; lower-cased) and
// parameters (keys lower-cased, values unquoted and unescaped).
struct Challenge {
  std::string scheme;
  std::map<std::string, std::string> params;

  // The parameter `key` (lower-case), or "" when absent.
  std::string Param(const std::string& key) const;
};

// Parses a WWW-Authenticate header value (RFC 7235): one or more challenges separated by
// commas, each `scheme` followed by `key=value` or `key="quoted value"` parameters. Malformed
// trailing parts are ignored (as Go's distribution client does); an empty or unparsable value
// gives an empty list.
std::vector<Challenge> ParseWwwAuthenticate(std::string_view header);

// The registry host that config.json keys and credentials use for `domain`: "docker.io",
// "index.docker.io" and "registry-1.docker.io" all become "docker.io"; others are unchanged.
std::string CredentialHost(std::string_view domain);

// Credentials read from a Docker config file. Copyable; thread-safe for const use (Lookup may
// run a helper process each time: callers cache what it returns).
class DockerConfig {
 public:
  // Parses the JSON text of a config.json. InvalidArgument names the bad field; `auths` entries
  // that carry no credentials (placeholders `docker login` leaves for a helper) are skipped.
  static Result<DockerConfig> Parse(std::string_view json);
  // Reads `$DOCKER_CONFIG/config.json` or `$HOME/.docker/config.json`. A missing file gives an
  // empty config; a malformed one is an error naming the path.
  static Result<DockerConfig> Load();
  // Reads the config file at `path` (missing: empty config).
  static Result<DockerConfig> LoadFile(const std::string& path);

  // The credentials for the registry `domain` ("localhost:5000", "docker.io", "ghcr.io"), from
  // its helper or its `auths` entry (see the file comment); nullopt when there are none.
  // Keys are matched after normalisation: scheme and path dropped ("https://index.docker.io/v1/"
  // is docker.io), host lower-cased. Errors: a helper's (FailedPrecondition, naming the helper,
  // the registry and the config key that chose the helper).
  Result<std::optional<Credentials>> Lookup(std::string_view domain) const;

  // Adds or replaces an `auths` entry (for flags and tests).
  void Set(std::string_view domain, Credentials credentials);
  // Replaces how helpers are run (tests); the default is RunCredentialHelper.
  void SetHelperRunner(CredentialHelperFn runner) { run_helper_ = std::move(runner); }

  // The helper Lookup uses for `domain` ("" for none) and the config key that names it.
  std::string HelperFor(std::string_view domain, std::string* source = nullptr) const;

  bool empty() const { return auths_.empty() && helpers_.empty() && creds_store_.empty(); }

 private:
  std::string path_;                            // the file read, for error messages ("" if none)
  std::map<std::string, Credentials> auths_;    // by CredentialHost of the normalised key
  std::map<std::string, std::string> helpers_;  // credHelpers, by the same key
  std::string creds_store_;                     // credsStore
  CredentialHelperFn run_helper_;
};

// The server URL Docker hands a credential helper for `domain`: "https://index.docker.io/v1/"
// for Docker Hub, else the host[:port] as written.
std::string HelperServerUrl(std::string_view domain);

// Base64 (standard alphabet, padded) helpers for Basic auth and config.json.
std::string Base64Encode(std::string_view data);
// InvalidArgument on characters outside the alphabet or a bad length; padding is optional.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace berth::registry
