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
// berth too: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, reading `auths` entries
// with a base64 `auth` ("user:password") or separate `username`/`password`. Credential helpers
// (`credsStore`, `credHelpers`) and `identitytoken` refresh tokens are not supported yet: such
// entries are skipped.
#pragma once

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
  friend bool operator==(const Credentials&, const Credentials&) = default;
};

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

// Credentials read from a Docker config file.
class DockerConfig {
 public:
  // Parses the JSON text of a config.json. InvalidArgument names the bad field; entries that
  // carry no usable credentials (a credential helper, an identity token only) are skipped.
  static Result<DockerConfig> Parse(std::string_view json);
  // Reads `$DOCKER_CONFIG/config.json` or `$HOME/.docker/config.json`. A missing file gives an
  // empty config; a malformed one is an error naming the path.
  static Result<DockerConfig> Load();
  // Reads the config file at `path` (missing: empty config).
  static Result<DockerConfig> LoadFile(const std::string& path);

  // The credentials for the registry `domain` ("localhost:5000", "docker.io", "ghcr.io").
  // Keys are matched after normalisation: scheme and path dropped ("https://index.docker.io/v1/"
  // is docker.io), host lower-cased.
  std::optional<Credentials> Lookup(std::string_view domain) const;

  // Adds or replaces an entry (for flags and tests).
  void Set(std::string_view domain, Credentials credentials);

  bool empty() const { return auths_.empty(); }

 private:
  std::map<std::string, Credentials> auths_;  // by CredentialHost of the normalised key
};

// Base64 (standard alphabet, padded) helpers for Basic auth and config.json.
std::string Base64Encode(std::string_view data);
// InvalidArgument on characters outside the alphabet or a bad length; padding is optional.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace berth::registry
