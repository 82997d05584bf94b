#include "registry/config.h"

#include <arpa/inet.h>
#include <toml++/toml.h>

#include "base/strings.h"
#include "os/file.h"

namespace berth::registry {

namespace {

// The host part of "host[:port]" / "[v6]:port".
std::string_view HostOnly(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    return close == std::string_view::npos ? host.substr(1) : host.substr(1, close - 1);
  }
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(':') == colon) {
    return host.substr(0, colon);
  }
  return host;
}

const HostConfig& DefaultHostConfig() {
  static const HostConfig kDefault;
  return kDefault;
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
  std::string h = ToLower(HostOnly(host));
  if (h == "localhost" || h.ends_with(".localhost")) {
    return true;
  }
  in_addr v4{};
  if (::inet_pton(AF_INET, h.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6{};
  if (::inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    return IN6_IS_ADDR_LOOPBACK(&v6);
  }
  return false;
}

Result<RegistryConfig> RegistryConfig::ParseToml(std::string_view text) {
  toml::table root;
  try {
    root = toml::parse(text);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return Error::InvalidArgument("config.toml:" + std::to_string(where.line) + ":" +
                                  std::to_string(where.column) + ": " +
                                  std::string(e.description()));
  }
  RegistryConfig config;
  const toml::node* registry = root.get("registry");
  if (registry == nullptr) {
    return config;
  }
  const toml::table* hosts = registry->as_table();
  if (hosts == nullptr) {
    return Error::InvalidArgument("config.toml: registry: expected a table");
  }
  for (const auto& [key, node] : *hosts) {
    std::string host(key.str());
    std::string where = "config.toml: registry." + QuoteString(host);
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return Error::InvalidArgument(where + ": expected a table");
    }
    HostConfig hc;
    for (const auto& [field, value] : *table) {
      if (field.str() == "mirrors") {
        const toml::array* mirrors = value.as_array();
        if (mirrors == nullptr) {
          return Error::InvalidArgument(where + ".mirrors: expected an array of strings");
        }
        for (const toml::node& m : *mirrors) {
          std::optional<std::string> s = m.value<std::string>();
          if (!s || s->empty()) {
            return Error::InvalidArgument(where + ".mirrors: expected an array of strings");
          }
          hc.mirrors.push_back(*s);
        }
      } else if (field.str() == "insecure") {
        std::optional<bool> b = value.value<bool>();
        if (!b || !value.is_boolean()) {
          return Error::InvalidArgument(where + ".insecure: expected true or false");
        }
        hc.insecure = *b;
      } else {
        return Error::InvalidArgument(where + ": unknown key " + QuoteString(field.str()));
      }
    }
    config.hosts_[host] = std::move(hc);
  }
  return config;
}

Result<RegistryConfig> RegistryConfig::Load(const std::string& berth_root) {
  std::string path = berth_root + "/config.toml";
  Result<std::string> text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return RegistryConfig();
    }
    return std::move(text).error().AddContext("reading " + path);
  }
  return BERTH_TRY_CONTEXT(ParseToml(*text), "reading " + path);
}

const HostConfig& RegistryConfig::Host(std::string_view host) const {
  auto it = hosts_.find(host);
  return it == hosts_.end() ? DefaultHostConfig() : it->second;
}

void RegistryConfig::SetHost(std::string_view host, HostConfig config) {
  hosts_[std::string(host)] = std::move(config);
}

void RegistryConfig::AddMirror(std::string_view host, std::string mirror) {
  hosts_[std::string(host)].mirrors.push_back(std::move(mirror));
}

void RegistryConfig::SetInsecure(std::string_view host, bool insecure) {
  hosts_[std::string(host)].insecure = insecure;
}

Endpoint RegistryConfig::MakeEndpoint(std::string_view spec, bool mirror) const {
  Endpoint ep;
  ep.mirror = mirror;
  std::optional<bool> plain;
  if (spec.starts_with("http://")) {
    plain = true;
    spec.remove_prefix(7);
  } else if (spec.starts_with("https://")) {
    plain = false;
    spec.remove_prefix(8);
  }
  while (spec.ends_with("/")) {
    spec.remove_suffix(1);
  }
  ep.host = std::string(spec);
  bool insecure = Host(ep.host).insecure;
  ep.plain_http = plain.has_value() ? *plain : IsLoopbackHost(ep.host);
  ep.skip_tls_verify = !ep.plain_http && insecure;
  ep.http_fallback = !plain.has_value() && !ep.plain_http && insecure;
  if (ep.host == "docker.io" || ep.host == "index.docker.io") {
    ep.host = "registry-1.docker.io";
  }
  return ep;
}

std::vector<Endpoint> RegistryConfig::PullEndpoints(std::string_view domain) const {
  std::vector<Endpoint> endpoints;
  for (const std::string& mirror : Host(domain).mirrors) {
    endpoints.push_back(MakeEndpoint(mirror, /*mirror=*/true));
  }
  endpoints.push_back(PushEndpoint(domain));
  return endpoints;
}

Endpoint RegistryConfig::PushEndpoint(std::string_view domain) const {
  return MakeEndpoint(domain, /*mirror=*/false);
}

}  // namespace berth::registry
