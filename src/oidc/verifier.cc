#include "oidc/verifier.h"

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "registry/http.h"

namespace berth::oidc {
namespace {

using json = nlohmann::json;

bool IsLoopbackHost(std::string_view host) {
  return host == "127.0.0.1" || host == "localhost" || host == "[::1]";
}

Result<std::string> GetDocument(const Context& ctx, registry::HttpClient& http,
                                const std::string& url, const char* what) {
  registry::HttpRequest req;
  req.url = url;
  req.headers.emplace_back("Accept", "application/json");
  req.max_body = kMaxDocumentBytes;
  Result<registry::HttpResponse> resp = http.Do(ctx, req);
  if (!resp.ok()) {
    return Error::Unavailable(std::string("oidc: fetching the ") + what + " " + url + ": " +
                              resp.error().message());
  }
  if (resp->status != 200) {
    return Error::Unavailable(std::string("oidc: fetching the ") + what + " " + url +
                              ": HTTP status " + std::to_string(resp->status));
  }
  return std::move(resp->body);
}

}  // namespace

Result<> CheckIssuerUrl(std::string_view url, bool allow_http_loopback) {
  std::string_view rest;
  bool https = url.substr(0, 8) == "https://";
  if (https) {
    rest = url.substr(8);
  } else if (url.substr(0, 7) == "http://") {
    rest = url.substr(7);
  } else {
    return Error::InvalidArgument("issuer " + QuoteString(url.substr(0, 200)) +
                                  ": want an https:// URL");
  }
  if (url.size() > 1024) {
    return Error::InvalidArgument("issuer URL is longer than 1024 bytes");
  }
  if (rest.find_first_of("?#@ \t\r\n") != std::string_view::npos) {
    return Error::InvalidArgument("issuer " + QuoteString(url) +
                                  ": no query, fragment, user info or spaces allowed");
  }
  std::string_view host = rest.substr(0, rest.find('/'));
  if (host.empty()) {
    return Error::InvalidArgument("issuer " + QuoteString(url) + ": no host");
  }
  if (!https) {
    std::string_view name = host;
    if (name.front() != '[') {
      name = name.substr(0, name.find(':'));
    } else {
      name = name.substr(0, name.find(']') + 1);
    }
    if (!IsLoopbackHost(name)) {
      return Error::InvalidArgument("issuer " + QuoteString(url) +
                                    ": want an https:// URL (plain http only on loopback)");
    }
    if (!allow_http_loopback) {
      return Error::InvalidArgument("issuer " + QuoteString(url) +
                                    ": plain http is not allowed (berthd "
                                    "--oidc-allow-http-loopback allows it on loopback)");
    }
  }
  return {};
}

HttpKeySource::HttpKeySource(Options options)
    : options_(std::move(options)),
      http_(std::make_unique<registry::HttpClient>(
          registry::HttpClient::Options{.connect_timeout = std::chrono::milliseconds(5000),
                                        .stall_timeout = std::chrono::seconds(10),
                                        .user_agent = "berthd-oidc/0.1"})) {}

HttpKeySource::~HttpKeySource() = default;

std::chrono::steady_clock::time_point HttpKeySource::Now() const {
  return options_.clock ? options_.clock() : std::chrono::steady_clock::now();
}

Result<std::shared_ptr<const KeySet>> HttpKeySource::Keys(const Context& ctx,
                                                          const std::string& issuer, bool refresh) {
  BERTH_TRY(CheckIssuerUrl(issuer, options_.allow_http_loopback));
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = cache_.find(issuer);
    if (it != cache_.end()) {
      auto age = Now() - it->second.fetched_at;
      bool fresh = age < options_.ttl;
      bool may_refetch = age >= options_.min_refetch;
      if ((fresh && !refresh) || (refresh && !may_refetch)) {
        return it->second.keys;
      }
    }
  }
  // Never holds mu_ across the fetch; one fetch per issuer at a time.
  return flights_.Do(issuer, [&]() -> Result<std::shared_ptr<const KeySet>> {
    std::shared_ptr<const KeySet> keys = BERTH_TRY(Fetch(ctx, issuer));
    std::lock_guard<std::mutex> lock(mu_);
    cache_[issuer] = Entry{keys, Now()};
    return keys;
  });
}

Result<std::shared_ptr<const KeySet>> HttpKeySource::Fetch(const Context& parent,
                                                           const std::string& issuer) {
  Context ctx = parent.WithTimeout(options_.timeout);
  std::string base = issuer;
  while (!base.empty() && base.back() == '/') {
    base.pop_back();
  }
  std::string discovery_url = base + "/.well-known/openid-configuration";
  std::string text = BERTH_TRY(GetDocument(ctx, *http_, discovery_url, "discovery document"));
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc["issuer"].is_string() || !doc["jwks_uri"].is_string()) {
    return Error::Unavailable("oidc: " + discovery_url +
                              " is not a discovery document (want \"issuer\" and \"jwks_uri\")");
  }
  if (doc["issuer"].get<std::string>() != issuer) {
    return Error::Unavailable("oidc: the discovery document of " + issuer +
                              " names another issuer, " +
                              QuoteString(doc["issuer"].get<std::string>().substr(0, 200)));
  }
  std::string jwks_uri = doc["jwks_uri"].get<std::string>();
  if (Result<> ok = CheckIssuerUrl(jwks_uri, options_.allow_http_loopback); !ok.ok()) {
    return Error::Unavailable("oidc: jwks_uri of " + issuer + ": " + ok.error().message());
  }
  std::string jwks = BERTH_TRY(GetDocument(ctx, *http_, jwks_uri, "key set"));
  Result<KeySet> set = KeySet::Parse(jwks);
  if (!set.ok()) {
    return Error::Unavailable("oidc: " + jwks_uri + ": " + set.error().message());
  }
  return std::shared_ptr<const KeySet>(std::make_shared<KeySet>(std::move(set).value()));
}

Result<Jwt> Verify(const Context& ctx, KeySource& keys, std::string_view token,
                   const Expectation& expected) {
  Jwt jwt = BERTH_TRY(ParseJwt(token));
  if (jwt.claims.issuer != expected.issuer) {
    return Error::Unauthenticated("oidc token: issuer " +
                                  QuoteString(jwt.claims.issuer.substr(0, 200)) +
                                  " is not the trusted issuer " + QuoteString(expected.issuer));
  }
  // Refuse a bad algorithm before any fetch.
  if (jwt.alg != "RS256" && jwt.alg != "ES256") {
    return Error::Unauthenticated("oidc token: algorithm " + QuoteString(jwt.alg.substr(0, 32)) +
                                  " is not accepted (only RS256 and ES256)");
  }
  std::shared_ptr<const KeySet> set = BERTH_TRY(keys.Keys(ctx, expected.issuer, false));
  Result<> verified = set->Verify(jwt);
  if (!verified.ok() && verified.error().code() == ErrorCode::kNotFound) {
    set = BERTH_TRY(keys.Keys(ctx, expected.issuer, true));
    verified = set->Verify(jwt);
  }
  if (!verified.ok()) {
    if (verified.error().code() == ErrorCode::kNotFound) {
      return Error::Unauthenticated(verified.error().message());
    }
    return std::move(verified).error();
  }
  BERTH_TRY(CheckClaims(jwt.claims, expected));
  return jwt;
}

}  // namespace berth::oidc
