// oidc: where an issuer's keys come from, and the whole check of a token.
//
// HttpKeySource finds an issuer's keys as OpenID Connect Discovery says:
// GET <issuer>/.well-known/openid-configuration, whose "issuer" must be the issuer and whose
// "jwks_uri" names the key set; then GET <jwks_uri>. Both through the registry's HttpClient
// (libcurl), bounded in size (kMaxDocumentBytes) and time. The set is cached per issuer for a
// TTL; a token with a kid the cached set lacks (the issuer rotated its keys) makes it fetch again,
// at most once per `min_refetch` per issuer, so unknown kids cannot make berthd hammer an issuer.
// Concurrent fetches of one issuer run once (SingleFlight). Thread-safe.
//
// Issuer URLs must be https; plain http is allowed only for loopback hosts, and only when the
// source is made with allow_http_loopback (tests with a local issuer; berthd's
// --oidc-allow-http-loopback).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/context.h"
#include "base/result.h"
#include "base/single_flight.h"
#include "oidc/jwks.h"
#include "oidc/jwt.h"

namespace berth::registry {
class HttpClient;
}

namespace berth::oidc {

class KeySource {
 public:
  KeySource() = default;
  KeySource(const KeySource&) = delete;
  KeySource& operator=(const KeySource&) = delete;
  virtual ~KeySource() = default;

  // The issuer's key set. `refresh`: the caller met a kid the last answer lacked; the source may
  // fetch again. Unavailable when the issuer cannot be reached or answers with something that is
  // not a discovery document or key set (the message says which); InvalidArgument for an issuer
  // URL that is not allowed.
  virtual Result<std::shared_ptr<const KeySet>> Keys(const Context& ctx, const std::string& issuer,
                                                     bool refresh) = 0;
};

class HttpKeySource : public KeySource {
 public:
  struct Options {
    std::chrono::seconds ttl{600};
    std::chrono::seconds min_refetch{30};
    std::chrono::seconds timeout{10};  // Per fetch (discovery + key set).
    bool allow_http_loopback = false;
    std::function<std::chrono::steady_clock::time_point()> clock;  // steady_clock when empty.
  };

  explicit HttpKeySource(Options options);
  ~HttpKeySource() override;

  Result<std::shared_ptr<const KeySet>> Keys(const Context& ctx, const std::string& issuer,
                                             bool refresh) override;

 private:
  struct Entry {
    std::shared_ptr<const KeySet> keys;
    std::chrono::steady_clock::time_point fetched_at;
  };
  std::chrono::steady_clock::time_point Now() const;
  Result<std::shared_ptr<const KeySet>> Fetch(const Context& ctx, const std::string& issuer);

  Options options_;
  std::unique_ptr<registry::HttpClient> http_;
  std::mutex mu_;
  std::map<std::string, Entry> cache_;  // Guarded by mu_.
  SingleFlight<std::string, std::shared_ptr<const KeySet>> flights_;
};

// Whether `url` may name an issuer: https://host[:port][/path], or http:// on a loopback host
// when `allow_http_loopback`. No query, fragment or user info. InvalidArgument saying why.
Result<> CheckIssuerUrl(std::string_view url, bool allow_http_loopback);

// The whole check, in this order: parse; the issuer is the expected one; the signature against
// the issuer's keys (fetched again once for an unknown kid); the other claims (CheckClaims).
// Unauthenticated naming the check that failed; Unavailable when the keys cannot be fetched.
Result<Jwt> Verify(const Context& ctx, KeySource& keys, std::string_view token,
                   const Expectation& expected);

}  // namespace berth::oidc
