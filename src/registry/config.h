// Registry hosts configuration: mirrors and insecure (plain HTTP) hosts.
//
// Read from `$BERTH_ROOT/config.toml` and adjustable by code (flags):
//
//   [registry."docker.io"]
//   mirrors = ["localhost:5000", "https://mirror.example.com"]
//
//   [registry."registry.lan:5000"]
//   insecure = true
//
// Pulls try a host's mirrors in order, then the host itself; pushes go to the host only.
// Loopback registries (`localhost`, 127.0.0.0/8, `[::1]`) speak plain HTTP; everything else
// HTTPS. A host marked insecure is treated as Docker treats its `insecure-registries`: HTTPS
// without certificate verification first, and plain HTTP when HTTPS fails below HTTP (refused,
// no TLS). A mirror may name its scheme ("http://", "https://"), which is then used as given
// (insecure only skips verification); without one the rules above apply to it. `docker.io` is
// reached at `registry-1.docker.io`.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::registry {

struct HostConfig {
  std::vector<std::string> mirrors;  // "host[:port]" or "scheme://host[:port]", tried in order
  bool insecure = false;             // HTTPS unverified, falling back to plain HTTP
  friend bool operator==(const HostConfig&, const HostConfig&) = default;
};

// Where requests for a registry go: a base URL ("https://registry-1.docker.io") and whether it
// is a mirror of the host the reference names.
struct Endpoint {
  std::string host;  // "registry-1.docker.io", "127.0.0.1:5000"
  bool plain_http = false;
  bool skip_tls_verify = false;
  // HTTPS (BaseUrl) first; plain HTTP when HTTPS fails below HTTP (an insecure registry).
  bool http_fallback = false;
  bool mirror = false;

  // "http://127.0.0.1:5000" / "https://registry-1.docker.io".
  std::string BaseUrl() const { return (plain_http ? "http://" : "https://") + host; }
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// Whether `host` (with optional port, IPv6 in brackets) is a loopback address or `localhost`.
bool IsLoopbackHost(std::string_view host);

class RegistryConfig {
 public:
  // Parses the TOML text of a config.toml; only the `registry` table is read (other tables
  // belong to other components). InvalidArgument names the bad key.
  static Result<RegistryConfig> ParseToml(std::string_view text);
  // Reads `<berth_root>/config.toml`; a missing file gives an empty config.
  static Result<RegistryConfig> Load(const std::string& berth_root);

  // The settings of `host` (a reference's domain, e.g. "docker.io"); default when unset.
  const HostConfig& Host(std::string_view host) const;
  // Replaces the settings of `host`.
  void SetHost(std::string_view host, HostConfig config);
  void AddMirror(std::string_view host, std::string mirror);
  void SetInsecure(std::string_view host, bool insecure);

  // Endpoints for pulls from `domain`: its mirrors in order, then the host itself.
  std::vector<Endpoint> PullEndpoints(std::string_view domain) const;
  // The endpoint for pushes to `domain` (never a mirror).
  Endpoint PushEndpoint(std::string_view domain) const;

  const std::map<std::string, HostConfig, std::less<>>& hosts() const { return hosts_; }

 private:
  Endpoint MakeEndpoint(std::string_view spec, bool mirror) const;

  std::map<std::string, HostConfig, std::less<>> hosts_;
};

}  // namespace berth::registry
