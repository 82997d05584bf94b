#include "registry/client.h"

#include <stdlib.h>

#include <chrono>
#include <map>
#include <mutex>
#include <set>

#include <nlohmann/json.hpp>

#include "base/log.h"
#include "base/strings.h"
#include "oci/media_types.h"

namespace berth::registry {

using Clock = std::chrono::steady_clock;

// Added to a response that still failed after retries, so its error can say so.
constexpr const char* kAttemptsHeader = "x-berth-attempts";

namespace {

std::string ManifestAccept() {
  return std::string(oci::kMediaTypeImageIndex) + ", " + std::string(oci::kMediaTypeImageManifest) +
         ", " + std::string(oci::kMediaTypeDockerManifestList) + ", " +
         std::string(oci::kMediaTypeDockerManifest);
}

std::string RepoUrl(const Endpoint& ep, const reference::Reference& repo) {
  return ep.BaseUrl() + "/v2/" + repo.path;
}

std::string PullScope(const reference::Reference& repo) {
  return "repository:" + repo.path + ":pull";
}
std::string PushScope(const reference::Reference& repo) {
  return "repository:" + repo.path + ":pull,push";
}

// The media type of a manifest document: the Content-Type when it names one, else the
// document's own mediaType field, else guessed from its shape.
std::string ManifestMediaType(const std::string& content_type, std::string_view body) {
  std::string ct(Trim(SplitOnce(content_type, ';').first));
  if (oci::IsManifestMediaType(ct) || oci::IsIndexMediaType(ct)) {
    return ct;
  }
  try {
    nlohmann::json doc = nlohmann::json::parse(body);
    if (doc.is_object()) {
      auto mt = doc.find("mediaType");
      if (mt != doc.end() && mt->is_string()) {
        return mt->get<std::string>();
      }
      if (doc.contains("manifests")) {
        return std::string(oci::kMediaTypeImageIndex);
      }
    }
  } catch (const nlohmann::json::exception&) {
  }
  return ct.empty() ? std::string(oci::kMediaTypeImageManifest) : ct;
}

// Passes bytes to `out`, counting them and (optionally) hashing them; refuses more than
// `limit` bytes (DataLoss) so a lying server cannot fill the disk.
class BlobSink final : public Writer {
 public:
  BlobSink(Writer& out, uint64_t offset, int64_t limit, bool hash)
      : out_(out), offset_(offset), limit_(limit), hash_(hash) {}

  Result<> Write(std::string_view data) override {
    if (limit_ >= 0 && offset_ + data.size() > static_cast<uint64_t>(limit_)) {
      return Error::DataLoss("received more than the expected " + std::to_string(limit_) +
                             " bytes");
    }
    BERTH_TRY(out_.Write(data));
    if (hash_) {
      sha_.Update(data);
    }
    offset_ += data.size();
    return {};
  }
  Result<> Close() override { return {}; }

  uint64_t offset() const { return offset_; }
  digest::Digest digest() const { return sha_.Finish(); }

 private:
  Writer& out_;
  uint64_t offset_;
  int64_t limit_;
  bool hash_;
  digest::Sha256 sha_;
};

// Reads at most `limit` bytes of `inner` (a chunk of a chunked upload).
class LimitReader final : public Reader {
 public:
  LimitReader(Reader& inner, uint64_t limit) : inner_(inner), left_(limit) {}
  Result<size_t> Read(char* buf, size_t size) override {
    if (left_ == 0) {
      return size_t{0};
    }
    size_t n = BERTH_TRY(inner_.Read(buf, std::min<uint64_t>(size, left_)));
    left_ -= n;
    return n;
  }

 private:
  Reader& inner_;
  uint64_t left_;
};

std::string AppendQuery(const std::string& url, const std::string& param) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + param;
}

}  // namespace

// ---- Impl: transport, auth state, retries

struct Client::Impl {
  explicit Impl(const ClientOptions& options) : http(options.http) {}

  struct TokenEntry {
    std::string token;
    Clock::time_point expiry;
  };
  struct HostAuth {
    std::optional<Challenge> bearer;  // realm and service, once seen
    bool basic = false;               // the host asked for basic credentials
    std::map<std::string, TokenEntry> tokens;
  };

  // One logical request: built anew for each attempt by `prepare` (which may reopen a body).
  struct Call {
    const Endpoint* endpoint = nullptr;
    std::vector<std::string> scopes;
    std::function<Result<>(HttpRequest&)> prepare;
    bool retryable = true;
    bool authenticate = true;
  };

  HttpClient http;
  std::mutex mu;
  std::map<std::string, HostAuth> auth;                           // by endpoint host
  std::map<std::string, std::optional<Credentials>> credentials;  // by endpoint host
  std::set<std::string> plain_http_hosts;  // http_fallback endpoints whose HTTPS failed
  std::map<std::string, std::map<digest::Digest, std::string>> locations;  // domain -> blob -> path

  std::atomic<uint64_t> requests{0}, blobs_uploaded{0}, bytes_uploaded{0}, blobs_mounted{0},
      blobs_skipped{0}, blobs_downloaded{0}, bytes_downloaded{0}, token_fetches{0}, retries{0};
};

namespace {

std::string HostHint(const std::string& host) {
  return "; run `docker login " + CredentialHost(host) +
         "` or add credentials to ~/.docker/config.json (or $DOCKER_CONFIG/config.json)";
}

}  // namespace

// Turns a non-2xx answer into an Error naming `what`.
static Error StatusError(const HttpResponse& resp, const std::string& what,
                         const std::string& host) {
  std::string detail = DecodeErrorBody(resp.body);
  std::string msg = what + ": HTTP " + std::to_string(resp.status);
  if (!detail.empty()) {
    msg += ": " + detail;
  }
  std::string attempts = resp.headers.Get(kAttemptsHeader);
  if (!attempts.empty()) {
    msg += " (after " + attempts + " attempts)";
  }
  switch (resp.status) {
    case 401:
      return Error::Unauthenticated(msg + HostHint(host));
    case 403:
      return Error::PermissionDenied(msg);
    case 404:
      return Error::NotFound(msg);
    case 416:
      return Error(ErrorCode::kOutOfRange, msg);
    default:
      break;
  }
  if (RetryPolicy::RetryableStatus(resp.status)) {
    return Error::Unavailable(msg);
  }
  if (resp.status >= 400 && resp.status < 500) {
    return Error::InvalidArgument(msg);
  }
  return Error(ErrorCode::kUnknown, msg);
}

Client::Client(ClientOptions options)
    : options_(std::move(options)), impl_(std::make_unique<Impl>(options_)) {}

Client::~Client() = default;

Result<std::unique_ptr<Client>> Client::FromEnvironment(const std::string& berth_root) {
  ClientOptions options;
  if (!berth_root.empty()) {
    options.config = BERTH_TRY(RegistryConfig::Load(berth_root));
  }
  options.credentials = BERTH_TRY(DockerConfig::Load());
  return std::make_unique<Client>(std::move(options));
}

ClientStats Client::stats() const {
  ClientStats s;
  s.requests = impl_->requests.load();
  s.blobs_uploaded = impl_->blobs_uploaded.load();
  s.bytes_uploaded = impl_->bytes_uploaded.load();
  s.blobs_mounted = impl_->blobs_mounted.load();
  s.blobs_skipped = impl_->blobs_skipped.load();
  s.blobs_downloaded = impl_->blobs_downloaded.load();
  s.bytes_downloaded = impl_->bytes_downloaded.load();
  s.token_fetches = impl_->token_fetches.load();
  s.retries = impl_->retries.load();
  return s;
}

void Client::NoteBlobLocation(const reference::Reference& repo, const digest::Digest& digest) {
  std::lock_guard lock(impl_->mu);
  impl_->locations[repo.domain][digest] = repo.path;
}

// ---- requests with retries and authentication

namespace {

struct Executor {
  const ClientOptions& options;
  Client::Impl& impl;

  // Sends `call` until it gets an answer worth returning: retries network failures and
  // retryable statuses with backoff, and answers one 401 by authenticating.
  Result<HttpResponse> Run(const Context& ctx, const Client::Impl::Call& call) {
    const Endpoint& ep = *call.endpoint;
    bool authenticated = false;
    int attempts = std::max(1, options.retry.max_attempts);
    std::optional<Error> last_error;
    const std::string https = "https://" + ep.host;
    bool sent_basic = false;
    // Builds one attempt's request; `plain` sends what would go to https://<host> over HTTP.
    auto build = [&](bool plain) -> Result<HttpRequest> {
      HttpRequest req;
      BERTH_TRY(call.prepare(req));
      if (plain && req.url.starts_with(https)) {
        req.url = "http://" + req.url.substr(8);
      }
      req.skip_tls_verify = ep.skip_tls_verify;
      sent_basic = false;
      if (call.authenticate) {
        std::optional<std::string> authz = BERTH_TRY(Authorization(ctx, ep, call.scopes));
        sent_basic = authz.has_value() && authz->starts_with("Basic ");
        if (authz.has_value()) {
          req.headers.emplace_back("Authorization", *authz);
        }
      }
      return req;
    };
    for (int attempt = 1;; ++attempt) {
      // An insecure registry (http_fallback) is tried over HTTPS until that fails below HTTP
      // (refused, TLS handshake, reset); then the same request goes over plain HTTP and, once
      // HTTP answers, every later request to the host goes there directly.
      bool plain = false;
      if (ep.http_fallback) {
        std::lock_guard lock(impl.mu);
        plain = impl.plain_http_hosts.contains(ep.host);
      }
      HttpRequest req = BERTH_TRY(build(plain));
      impl.requests++;
      Result<HttpResponse> resp = impl.http.Do(ctx, req);
      if (!resp.ok() && resp.error().code() == ErrorCode::kUnavailable && ep.http_fallback &&
          !plain && req.url.starts_with(https)) {
        log::Debug("registry: " + resp.error().ToString() + "; " + ep.host +
                   " is insecure: trying plain HTTP");
        HttpRequest over_http = BERTH_TRY(build(true));
        impl.requests++;
        Result<HttpResponse> fallback = impl.http.Do(ctx, over_http);
        if (!fallback.ok()) {
          fallback.error().AddContext("HTTPS failed (" + resp.error().message() +
                                      "), then plain HTTP");
          resp = std::move(fallback);
        } else if (fallback->status != 400) {
          std::lock_guard lock(impl.mu);
          impl.plain_http_hosts.insert(ep.host);
          resp = std::move(fallback);
        }
        // A 400 is what an HTTPS server says to plain HTTP ("Client sent an HTTP request to an
        // HTTPS server"): the HTTPS failure was a passing one, so it stands (and is retried).
      }
      bool can_retry = call.retryable && attempt < attempts;
      if (!resp.ok()) {
        if (resp.error().code() != ErrorCode::kUnavailable || !can_retry) {
          if (resp.error().code() == ErrorCode::kUnavailable && attempt > 1) {
            return std::move(resp).error().AddContext("after " + std::to_string(attempt) +
                                                      " attempts");
          }
          return std::move(resp).error();
        }
        log::Debug("registry: " + resp.error().ToString() + "; retrying");
      } else if (resp->status == 401 && call.authenticate && !authenticated) {
        authenticated = true;
        BERTH_TRY(Authenticate(ctx, ep, *resp, call.scopes, sent_basic));
        --attempt;  // the authenticated repeat is not a retry
        continue;
      } else if (RetryPolicy::RetryableStatus(resp->status) && can_retry) {
        log::Debug("registry: " + req.method + " " + req.url + ": HTTP " +
                   std::to_string(resp->status) + "; retrying");
      } else {
        if (RetryPolicy::RetryableStatus(resp->status) && attempt > 1) {
          resp->headers.entries.emplace_back(kAttemptsHeader, std::to_string(attempt));
        }
        return resp;
      }
      impl.retries++;
      auto delay = options.retry.Backoff(attempt);
      // Honour a Retry-After in seconds when it asks for longer (capped at the max backoff).
      if (resp.ok()) {
        std::string retry_after = resp->headers.Get("retry-after");
        char* end = nullptr;
        long secs = retry_after.empty() ? 0 : ::strtol(retry_after.c_str(), &end, 10);
        if (secs > 0 && end != nullptr && *end == '\0') {
          delay = std::max(
              delay, std::min(std::chrono::milliseconds(secs * 1000), options.retry.max_backoff));
        }
      }
      if (ctx.WaitFor(delay)) {
        BERTH_TRY(ctx.Check());
      }
    }
  }

  // The credentials for `host` (docker config.json or its helper), asked once per client: a
  // helper is a process, and requests run by the hundred.
  Result<std::optional<Credentials>> CredentialsFor(const std::string& host) {
    {
      std::lock_guard lock(impl.mu);
      auto it = impl.credentials.find(host);
      if (it != impl.credentials.end()) {
        return it->second;
      }
    }
    std::optional<Credentials> creds = BERTH_TRY(options.credentials.Lookup(host));
    std::lock_guard lock(impl.mu);
    impl.credentials.emplace(host, creds);
    return creds;
  }

  std::string TokenKey(const Challenge& c, const std::vector<std::string>& scopes) {
    return c.Param("realm") + " " + c.Param("service") + " " + StrJoin(scopes, " ");
  }

  // The Authorization header value to send to `ep` for `scopes`, if any is known.
  Result<std::optional<std::string>> Authorization(const Context& ctx, const Endpoint& ep,
                                                   const std::vector<std::string>& scopes) {
    std::optional<Challenge> bearer;
    bool basic = false;
    {
      std::lock_guard lock(impl.mu);
      auto it = impl.auth.find(ep.host);
      if (it == impl.auth.end()) {
        return std::optional<std::string>();
      }
      Client::Impl::HostAuth& ha = it->second;
      if (ha.bearer.has_value()) {
        auto tok = ha.tokens.find(TokenKey(*ha.bearer, scopes));
        if (tok != ha.tokens.end() && tok->second.expiry > Clock::now()) {
          return std::optional<std::string>("Bearer " + tok->second.token);
        }
        bearer = ha.bearer;
      } else if (ha.basic) {
        basic = true;
      } else {
        return std::optional<std::string>();
      }
    }
    if (basic) {
      std::optional<Credentials> creds = BERTH_TRY(CredentialsFor(ep.host));
      if (creds.has_value() && creds->identity_token.empty()) {
        return std::optional<std::string>("Basic " +
                                          Base64Encode(creds->username + ":" + creds->password));
      }
      return std::optional<std::string>();
    }
    // A known bearer realm: fetch a token for these scopes before asking (saves a 401).
    std::string token = BERTH_TRY(FetchToken(ctx, ep, *bearer, scopes));
    return std::optional<std::string>("Bearer " + token);
  }

  // Learns from a 401 how to authenticate to `ep`. `sent_basic`: the refused request carried
  // basic credentials already (so they are wrong, rather than another thread's news).
  Result<> Authenticate(const Context& ctx, const Endpoint& ep, const HttpResponse& resp,
                        const std::vector<std::string>& scopes, bool sent_basic) {
    std::vector<Challenge> challenges;
    for (const std::string& h : resp.headers.GetAll("www-authenticate")) {
      for (Challenge& c : ParseWwwAuthenticate(h)) {
        challenges.push_back(std::move(c));
      }
    }
    for (const Challenge& c : challenges) {
      if (c.scheme == "bearer" && !c.Param("realm").empty()) {
        std::vector<std::string> want = scopes;
        if (want.empty() && !c.Param("scope").empty()) {
          want = StrSplit(c.Param("scope"), ' ');
        }
        BERTH_TRY(FetchToken(ctx, ep, c, want));
        std::lock_guard lock(impl.mu);
        impl.auth[ep.host].bearer = c;
        return {};
      }
    }
    for (const Challenge& c : challenges) {
      if (c.scheme == "basic") {
        std::optional<Credentials> creds = BERTH_TRY(CredentialsFor(ep.host));
        if (creds.has_value() && !creds->identity_token.empty()) {
          return Error::Unauthenticated("registry " + ep.host +
                                        " asks for a password, and the credentials found for it "
                                        "are an identity token" +
                                        HostHint(ep.host));
        }
        if (!creds.has_value()) {
          return Error::Unauthenticated("registry " + ep.host +
                                        " requires authentication and no credentials were found" +
                                        HostHint(ep.host));
        }
        std::lock_guard lock(impl.mu);
        if (sent_basic) {
          return Error::Unauthenticated("registry " + ep.host + " refused the credentials of " +
                                        QuoteString(creds->username) + HostHint(ep.host));
        }
        impl.auth[ep.host].basic = true;
        return {};
      }
    }
    std::string detail = DecodeErrorBody(resp.body);
    return Error::Unauthenticated(
        "registry " + ep.host + " requires authentication" +
        (challenges.empty() ? std::string(" but sent no usable WWW-Authenticate challenge")
                            : " with an unsupported scheme " + QuoteString(challenges[0].scheme)) +
        (detail.empty() ? "" : " (" + detail + ")") + HostHint(ep.host));
  }

  Result<std::string> FetchToken(const Context& ctx, const Endpoint& ep, const Challenge& c,
                                 const std::vector<std::string>& scopes) {
    std::string url = c.Param("realm");
    if (!c.Param("service").empty()) {
      url = AppendQuery(url, "service=" + QueryEscape(c.Param("service")));
    }
    for (const std::string& scope : scopes) {
      url = AppendQuery(url, "scope=" + QueryEscape(scope));
    }
    std::optional<Credentials> creds = BERTH_TRY(CredentialsFor(ep.host));
    bool refresh = creds.has_value() && !creds->identity_token.empty();
    Endpoint token_ep = ep;  // TLS settings of the registry apply to its realm
    Client::Impl::Call call;
    call.endpoint = &token_ep;
    call.authenticate = false;
    call.prepare = [&](HttpRequest& req) -> Result<> {
      req.max_body = size_t{1} << 20;
      if (refresh) {
        // An identity token is an OAuth2 refresh token: POST it to the realm (as Docker does;
        // the GET form takes only a password).
        req.method = "POST";
        req.url = c.Param("realm");
        req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
        req.body = "grant_type=refresh_token&client_id=berth&refresh_token=" +
                   QueryEscape(creds->identity_token);
        if (!c.Param("service").empty()) {
          req.body += "&service=" + QueryEscape(c.Param("service"));
        }
        if (!scopes.empty()) {
          req.body += "&scope=" + QueryEscape(StrJoin(scopes, " "));
        }
        return {};
      }
      req.url = url;
      if (creds.has_value()) {
        req.headers.emplace_back("Authorization",
                                 "Basic " + Base64Encode(creds->username + ":" + creds->password));
      }
      return {};
    };
    impl.token_fetches++;
    HttpResponse resp = BERTH_TRY(Run(ctx, call));
    if (resp.status == 401 || resp.status == 403 || (refresh && resp.status == 400)) {
      if (refresh) {
        return Error::Unauthenticated("registry " + ep.host + " (token service " +
                                      c.Param("realm") + ") refused the identity token for " +
                                      StrJoin(scopes, " ") + HostHint(ep.host));
      }
      if (creds.has_value()) {
        return Error::Unauthenticated("registry " + ep.host + " refused the credentials of " +
                                      QuoteString(creds->username) + " for " +
                                      StrJoin(scopes, " ") + HostHint(ep.host));
      }
      return Error::Unauthenticated("registry " + ep.host + " requires authentication for " +
                                    StrJoin(scopes, " ") + " and no credentials were found" +
                                    HostHint(ep.host));
    }
    if (resp.status != 200) {
      return StatusError(resp, "fetching a token from " + c.Param("realm"), ep.host);
    }
    std::string token;
    int64_t expires_in = 60;
    try {
      nlohmann::json doc = nlohmann::json::parse(resp.body);
      if (doc.contains("token") && doc["token"].is_string()) {
        token = doc["token"].get<std::string>();
      }
      if (token.empty() && doc.contains("access_token") && doc["access_token"].is_string()) {
        token = doc["access_token"].get<std::string>();
      }
      if (doc.contains("expires_in") && doc["expires_in"].is_number_integer()) {
        expires_in = std::max<int64_t>(doc["expires_in"].get<int64_t>(), 60);
      }
    } catch (const nlohmann::json::exception& e) {
      return Error::Unauthenticated("token from " + c.Param("realm") +
                                    ": invalid JSON: " + e.what());
    }
    if (token.empty()) {
      return Error::Unauthenticated("token from " + c.Param("realm") +
                                    ": neither \"token\" nor \"access_token\" in the answer");
    }
    std::lock_guard lock(impl.mu);
    // Expire a little early so a token never runs out in flight.
    impl.auth[ep.host].tokens[TokenKey(c, scopes)] = {
        token, Clock::now() + std::chrono::seconds(expires_in) - std::chrono::seconds(10)};
    return token;
  }
};

// Runs `fn` against the pull endpoints of `repo`'s domain: mirrors in order, then the registry.
// A mirror's failure (other than cancellation) falls through to the next endpoint.
template <typename Fn>
auto OnPullEndpoints(const Context& ctx, const RegistryConfig& config,
                     const reference::Reference& repo, Fn&& fn) -> decltype(fn(Endpoint())) {
  std::vector<Endpoint> endpoints = config.PullEndpoints(repo.domain);
  for (size_t i = 0; i + 1 < endpoints.size(); ++i) {
    auto r = fn(endpoints[i]);
    if (r.ok() || ctx.Done()) {
      return r;
    }
    log::Debug("registry: mirror " + endpoints[i].host + " failed: " + r.error().ToString() +
               "; trying the next endpoint");
  }
  return fn(endpoints.back());
}

}  // namespace

// ---- manifests

Result<oci::Descriptor> Client::Resolve(const Context& ctx, const reference::Reference& ref) {
  Executor ex{options_, *impl_};
  std::string target = ref.digest.empty() ? ref.tag : ref.digest;
  auto result = OnPullEndpoints(
      ctx, options_.config, ref, [&](const Endpoint& ep) -> Result<oci::Descriptor> {
        Impl::Call call;
        call.endpoint = &ep;
        call.scopes = {PullScope(ref)};
        call.prepare = [&](HttpRequest& req) -> Result<> {
          req.method = "HEAD";
          req.url = RepoUrl(ep, ref) + "/manifests/" + target;
          req.headers.emplace_back("Accept", ManifestAccept());
          return {};
        };
        HttpResponse resp = BERTH_TRY(ex.Run(ctx, call));
        if (resp.status == 404) {
          return Error::NotFound("manifest " + ref.String() + " not found on " + ep.host);
        }
        if (resp.status == 200) {
          std::string ct(Trim(SplitOnce(resp.headers.Get("content-type"), ';').first));
          Result<digest::Digest> d = digest::Digest::Parse(
              ref.digest.empty() ? resp.headers.Get("docker-content-digest") : ref.digest);
          char* end = nullptr;
          std::string len = resp.headers.Get("content-length");
          long long size = len.empty() ? -1 : ::strtoll(len.c_str(), &end, 10);
          if (d.ok() && size >= 0 && (oci::IsManifestMediaType(ct) || oci::IsIndexMediaType(ct))) {
            oci::Descriptor desc;
            desc.media_type = ct;
            desc.digest = *d;
            desc.size = size;
            return desc;
          }
        } else if (resp.status != 405 && resp.status != 400) {
          return StatusError(resp, "HEAD manifest " + ref.String(), ep.host);
        }
        // The answer lacks what a descriptor needs: GET the manifest from this endpoint.
        Impl::Call get = call;
        get.prepare = [&](HttpRequest& req) -> Result<> {
          req.url = RepoUrl(ep, ref) + "/manifests/" + target;
          req.headers.emplace_back("Accept", ManifestAccept());
          req.max_body = oci::kMaxDocumentSize;
          return {};
        };
        HttpResponse full = BERTH_TRY(ex.Run(ctx, get));
        if (full.status != 200) {
          return StatusError(full, "GET manifest " + ref.String(), ep.host);
        }
        oci::Descriptor desc = oci::DescribeBlob(
            ManifestMediaType(full.headers.Get("content-type"), full.body), full.body);
        if (!ref.digest.empty() && desc.digest.ToString() != ref.digest) {
          return Error::DataLoss("manifest " + ref.String() + " from " + ep.host +
                                 " does not match its digest (got " + desc.digest.ToString() + ")");
        }
        return desc;
      });
  if (!result.ok()) {
    return std::move(result).error().AddContext("resolving " + ref.String());
  }
  return result;
}

Result<FetchedManifest> Client::FetchManifest(const Context& ctx, const reference::Reference& ref) {
  Executor ex{options_, *impl_};
  std::string target = ref.digest.empty() ? ref.tag : ref.digest;
  return OnPullEndpoints(
      ctx, options_.config, ref, [&](const Endpoint& ep) -> Result<FetchedManifest> {
        Impl::Call call;
        call.endpoint = &ep;
        call.scopes = {PullScope(ref)};
        call.prepare = [&](HttpRequest& req) -> Result<> {
          req.url = RepoUrl(ep, ref) + "/manifests/" + target;
          req.headers.emplace_back("Accept", ManifestAccept());
          req.max_body = oci::kMaxDocumentSize;
          return {};
        };
        HttpResponse resp = BERTH_TRY(ex.Run(ctx, call));
        if (resp.status == 404) {
          return Error::NotFound("manifest " + ref.String() + " not found on " + ep.host);
        }
        if (resp.status != 200) {
          return StatusError(resp, "GET manifest " + ref.String(), ep.host);
        }
        FetchedManifest m;
        m.descriptor = oci::DescribeBlob(
            ManifestMediaType(resp.headers.Get("content-type"), resp.body), resp.body);
        if (!ref.digest.empty() && m.descriptor.digest.ToString() != ref.digest) {
          return Error::DataLoss("manifest " + ref.String() + " from " + ep.host +
                                 " does not match its digest (got " +
                                 m.descriptor.digest.ToString() + ")");
        }
        m.bytes = std::move(resp.body);
        return m;
      });
}

Result<std::string> Client::FetchManifest(const Context& ctx, const reference::Reference& repo,
                                          const oci::Descriptor& desc) {
  reference::Reference ref = repo;
  ref.digest = desc.digest.ToString();
  FetchedManifest m = BERTH_TRY(FetchManifest(ctx, ref));
  if (desc.size >= 0 && static_cast<int64_t>(m.bytes.size()) != desc.size) {
    return Error::DataLoss("manifest " + ref.String() + ": size " + std::to_string(m.bytes.size()) +
                           ", expected " + std::to_string(desc.size));
  }
  return std::move(m.bytes);
}

Result<> Client::PushManifest(const Context& ctx, const reference::Reference& repo,
                              const std::string& tag_or_digest, const std::string& media_type,
                              const std::string& bytes) {
  Executor ex{options_, *impl_};
  Endpoint ep = options_.config.PushEndpoint(repo.domain);
  Impl::Call call;
  call.endpoint = &ep;
  call.scopes = {PushScope(repo)};
  call.prepare = [&](HttpRequest& req) -> Result<> {
    req.method = "PUT";
    req.url = RepoUrl(ep, repo) + "/manifests/" + tag_or_digest;
    req.headers.emplace_back("Content-Type", media_type);
    req.body = bytes;
    return {};
  };
  HttpResponse resp = BERTH_TRY(ex.Run(ctx, call));
  if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
    return StatusError(resp, "pushing manifest " + repo.Name() + ":" + tag_or_digest, ep.host);
  }
  return {};
}

// ---- blobs

namespace {

// GETs blob `desc` from `repo` into `sink`, resuming at sink.offset() after failures (its
// bytes so far are kept), trying mirrors first.
Result<> FetchBlobInto(const Context& ctx, Executor& ex, const RegistryConfig& config,
                       const reference::Reference& repo, const oci::Descriptor& desc,
                       BlobSink& sink, const ProgressFn& progress) {
  return OnPullEndpoints(ctx, config, repo, [&](const Endpoint& ep) -> Result<> {
    Client::Impl::Call call;
    call.endpoint = &ep;
    call.scopes = {PullScope(repo)};
    call.prepare = [&](HttpRequest& req) -> Result<> {
      req.url = RepoUrl(ep, repo) + "/blobs/" + desc.digest.ToString();
      req.sink = &sink;
      req.resume_from = sink.offset();
      req.max_body = size_t{1} << 20;
      if (progress) {
        req.on_progress = [&progress, &desc, &sink](uint64_t, uint64_t) {
          BlobProgress p;
          p.digest = desc.digest;
          p.media_type = desc.media_type;
          p.done = sink.offset();
          p.total = static_cast<uint64_t>(desc.size);
          p.state = BlobProgress::State::kTransferring;
          progress(p);
        };
      }
      return {};
    };
    HttpResponse resp = BERTH_TRY(ex.Run(ctx, call));
    if (resp.status == 404) {
      return Error::NotFound("blob " + desc.digest.ToString() + " not found in " + repo.Name() +
                             " on " + ep.host);
    }
    if (resp.status != 200 && resp.status != 206) {
      return StatusError(resp, "GET blob " + desc.digest.ToString() + " of " + repo.Name(),
                         ep.host);
    }
    if (static_cast<int64_t>(sink.offset()) != desc.size) {
      return Error::DataLoss("blob " + desc.digest.ToString() + " of " + repo.Name() + " from " +
                             ep.host + ": got " + std::to_string(sink.offset()) +
                             " bytes, expected " + std::to_string(desc.size));
    }
    ex.impl.bytes_downloaded += resp.sink_bytes;
    return {};
  });
}

void Report(const ProgressFn& progress, const oci::Descriptor& desc, BlobProgress::State state,
            uint64_t done) {
  if (!progress) {
    return;
  }
  BlobProgress p;
  p.digest = desc.digest;
  p.media_type = desc.media_type;
  p.done = done;
  p.total = static_cast<uint64_t>(desc.size);
  p.state = state;
  progress(p);
}

}  // namespace

Result<> Client::FetchBlob(const Context& ctx, const reference::Reference& repo,
                           const oci::Descriptor& desc, Writer& out, const ProgressFn& progress) {
  Executor ex{options_, *impl_};
  BlobSink sink(out, 0, desc.size, /*hash=*/true);
  Report(progress, desc, BlobProgress::State::kStarted, 0);
  BERTH_TRY(FetchBlobInto(ctx, ex, options_.config, repo, desc, sink, progress));
  if (sink.digest() != desc.digest) {
    return Error::DataLoss("blob " + desc.digest.ToString() + " of " + repo.Name() +
                           ": content does not match its digest (got " + sink.digest().ToString() +
                           ")");
  }
  impl_->blobs_downloaded++;
  NoteBlobLocation(repo, desc.digest);
  Report(progress, desc, BlobProgress::State::kDone, sink.offset());
  return {};
}

Result<> Client::FetchBlobToStore(const Context& ctx, const reference::Reference& repo,
                                  const oci::Descriptor& desc, content::Store& store,
                                  const ProgressFn& progress) {
  if (BERTH_TRY(store.Exists(ctx, desc.digest))) {
    Report(progress, desc, BlobProgress::State::kExists, static_cast<uint64_t>(desc.size));
    return {};
  }
  content::WriterOptions wo;
  wo.ref = "registry-" + desc.digest.algorithm() + "-" + desc.digest.hex();
  wo.expected = desc.digest;
  wo.expected_size = static_cast<uint64_t>(desc.size);
  Result<std::unique_ptr<content::Writer>> opened = store.OpenWriter(ctx, wo);
  // Another writer (a concurrent pull of the same blob) holds the ingest: wait for it to
  // commit, or to give up and leave the ingest to resume.
  while (!opened.ok() && opened.error().code() == ErrorCode::kUnavailable) {
    if (BERTH_TRY(store.Exists(ctx, desc.digest))) {
      Report(progress, desc, BlobProgress::State::kExists, static_cast<uint64_t>(desc.size));
      return {};
    }
    if (ctx.WaitFor(std::chrono::milliseconds(50))) {
      BERTH_TRY(ctx.Check());
    }
    opened = store.OpenWriter(ctx, wo);
  }
  if (!opened.ok()) {
    if (opened.error().code() == ErrorCode::kAlreadyExists) {
      Report(progress, desc, BlobProgress::State::kExists, static_cast<uint64_t>(desc.size));
      return {};
    }
    return std::move(opened).error();
  }
  std::unique_ptr<content::Writer> writer = std::move(opened).value();
  auto discard = [&] {
    (void)writer->Close();
    writer.reset();
    (void)store.Abort(ctx, wo.ref);
  };
  if (static_cast<int64_t>(writer->offset()) > desc.size) {
    discard();  // a stale ingest longer than the blob: start over
    writer = BERTH_TRY(store.OpenWriter(ctx, wo));
  }
  Executor ex{options_, *impl_};
  BlobSink sink(*writer, writer->offset(), desc.size, /*hash=*/false);
  Report(progress, desc, BlobProgress::State::kStarted, sink.offset());
  Result<> fetched = FetchBlobInto(ctx, ex, options_.config, repo, desc, sink, progress);
  if (!fetched.ok()) {
    if (fetched.error().code() == ErrorCode::kDataLoss) {
      discard();
    }
    // Otherwise the ingest keeps its bytes, and a later fetch resumes after them.
    return std::move(fetched).error();
  }
  Result<> committed = writer->Commit(ctx, static_cast<uint64_t>(desc.size), desc.digest);
  if (!committed.ok()) {
    if (committed.error().code() == ErrorCode::kAlreadyExists) {
      committed = Ok();
    } else if (committed.error().code() == ErrorCode::kInvalidArgument) {
      return Error::DataLoss("blob " + desc.digest.ToString() + " of " + repo.Name() +
                             ": content does not match its digest; nothing stored (" +
                             committed.error().message() + ")");
    } else {
      return std::move(committed).error();
    }
  }
  impl_->blobs_downloaded++;
  NoteBlobLocation(repo, desc.digest);
  Report(progress, desc, BlobProgress::State::kDone, static_cast<uint64_t>(desc.size));
  return {};
}

Result<bool> Client::BlobExists(const Context& ctx, const reference::Reference& repo,
                                const digest::Digest& digest) {
  Executor ex{options_, *impl_};
  Endpoint ep = options_.config.PushEndpoint(repo.domain);
  Impl::Call call;
  call.endpoint = &ep;
  call.scopes = {PullScope(repo)};
  call.prepare = [&](HttpRequest& req) -> Result<> {
    req.method = "HEAD";
    req.url = RepoUrl(ep, repo) + "/blobs/" + digest.ToString();
    return {};
  };
  HttpResponse resp = BERTH_TRY(ex.Run(ctx, call));
  if (resp.status == 200) {
    return true;
  }
  if (resp.status == 404) {
    return false;
  }
  return StatusError(resp, "HEAD blob " + digest.ToString() + " of " + repo.Name(), ep.host);
}

Result<> Client::PushBlob(const Context& ctx, const reference::Reference& repo,
                          const oci::Descriptor& desc, oci::BlobSource& source,
                          const std::string& mount_from, const ProgressFn& progress) {
  Executor ex{options_, *impl_};
  Endpoint ep = options_.config.PushEndpoint(repo.domain);
  std::string what = "pushing blob " + desc.digest.ToString() + " to " + repo.Name();

  // 1. Present already?
  {
    Impl::Call head;
    head.endpoint = &ep;
    head.scopes = {PushScope(repo)};
    head.prepare = [&](HttpRequest& req) -> Result<> {
      req.method = "HEAD";
      req.url = RepoUrl(ep, repo) + "/blobs/" + desc.digest.ToString();
      return {};
    };
    HttpResponse resp = BERTH_TRY_CONTEXT(ex.Run(ctx, head), what);
    if (resp.status == 200) {
      impl_->blobs_skipped++;
      NoteBlobLocation(repo, desc.digest);
      Report(progress, desc, BlobProgress::State::kExists, static_cast<uint64_t>(desc.size));
      return {};
    }
    if (resp.status != 404) {
      return StatusError(resp, what, ep.host);
    }
  }

  // 2. Mount from a repository of this registry known to have it.
  std::string from = mount_from;
  if (from.empty()) {
    std::lock_guard lock(impl_->mu);
    auto dom = impl_->locations.find(repo.domain);
    if (dom != impl_->locations.end()) {
      auto it = dom->second.find(desc.digest);
      if (it != dom->second.end() && it->second != repo.path) {
        from = it->second;
      }
    }
  }
  std::string mount_location;
  if (!from.empty()) {
    Impl::Call mount;
    mount.endpoint = &ep;
    mount.scopes = {PushScope(repo), "repository:" + from + ":pull"};
    mount.prepare = [&](HttpRequest& req) -> Result<> {
      req.method = "POST";
      req.url = RepoUrl(ep, repo) + "/blobs/uploads/?mount=" + QueryEscape(desc.digest.ToString()) +
                "&from=" + QueryEscape(from);
      return {};
    };
    HttpResponse resp = BERTH_TRY_CONTEXT(ex.Run(ctx, mount), what);
    if (resp.status == 201) {
      impl_->blobs_mounted++;
      NoteBlobLocation(repo, desc.digest);
      Report(progress, desc, BlobProgress::State::kMounted, static_cast<uint64_t>(desc.size));
      return {};
    }
    if (resp.status == 202 && resp.headers.Has("location")) {
      mount_location = ResolveUrl(resp.url, resp.headers.Get("location"));
    }
    // Any other answer: upload normally.
  }

  // 3. Upload, restarting from a fresh session on retryable failures.
  Report(progress, desc, BlobProgress::State::kStarted, 0);
  int attempts = std::max(1, options_.retry.max_attempts);
  for (int attempt = 1;; ++attempt) {
    Result<> uploaded = [&]() -> Result<> {
      std::string location = std::move(mount_location);
      mount_location.clear();
      if (location.empty()) {
        Impl::Call start;
        start.endpoint = &ep;
        start.scopes = {PushScope(repo)};
        start.prepare = [&](HttpRequest& req) -> Result<> {
          req.method = "POST";
          req.url = RepoUrl(ep, repo) + "/blobs/uploads/";
          return {};
        };
        HttpResponse resp = BERTH_TRY(ex.Run(ctx, start));
        if (resp.status != 202 || !resp.headers.Has("location")) {
          return StatusError(resp, "starting the upload", ep.host);
        }
        location = ResolveUrl(resp.url, resp.headers.Get("location"));
      }
      std::unique_ptr<Reader> body = BERTH_TRY(source.Open(desc.digest));
      uint64_t total = static_cast<uint64_t>(desc.size);
      uint64_t sent_before = 0;
      auto on_progress = [&](uint64_t, uint64_t sent) {
        Report(progress, desc, BlobProgress::State::kTransferring, sent_before + sent);
      };
      uint64_t chunk = options_.chunk_size;
      if (chunk > 0 && total > 0) {
        while (sent_before < total) {
          uint64_t len = std::min(chunk, total - sent_before);
          LimitReader part(*body, len);
          Impl::Call patch;
          patch.endpoint = &ep;
          patch.scopes = {PushScope(repo)};
          patch.retryable = false;
          patch.prepare = [&](HttpRequest& req) -> Result<> {
            req.method = "PATCH";
            req.url = location;
            req.body_reader = &part;
            req.body_size = static_cast<int64_t>(len);
            req.headers.emplace_back("Content-Range", std::to_string(sent_before) + "-" +
                                                          std::to_string(sent_before + len - 1));
            if (progress) {
              req.on_progress = on_progress;
            }
            return {};
          };
          HttpResponse resp = BERTH_TRY(ex.Run(ctx, patch));
          if (resp.status != 202) {
            return StatusError(resp, "uploading a chunk", ep.host);
          }
          if (resp.headers.Has("location")) {
            location = ResolveUrl(resp.url, resp.headers.Get("location"));
          }
          sent_before += len;
        }
      }
      bool monolithic = sent_before == 0;
      Impl::Call put;
      put.endpoint = &ep;
      put.scopes = {PushScope(repo)};
      put.retryable = false;
      put.prepare = [&](HttpRequest& req) -> Result<> {
        req.method = "PUT";
        req.url = AppendQuery(location, "digest=" + QueryEscape(desc.digest.ToString()));
        if (monolithic) {
          req.body_reader = body.get();
          req.body_size = desc.size;
          if (progress) {
            req.on_progress = on_progress;
          }
        }
        return {};
      };
      HttpResponse resp = BERTH_TRY(ex.Run(ctx, put));
      if (resp.status != 201 && resp.status != 204 && resp.status != 200) {
        return StatusError(resp, "finishing the upload", ep.host);
      }
      return {};
    }();
    if (uploaded.ok()) {
      break;
    }
    bool retryable = uploaded.error().code() == ErrorCode::kUnavailable;
    if (!retryable || attempt >= attempts) {
      Error e = std::move(uploaded).error();
      if (retryable && attempt > 1) {
        e.AddContext("after " + std::to_string(attempt) + " upload attempts");
      }
      return std::move(e).AddContext(what);
    }
    impl_->retries++;
    if (ctx.WaitFor(options_.retry.Backoff(attempt))) {
      BERTH_TRY(ctx.Check());
    }
  }
  impl_->blobs_uploaded++;
  impl_->bytes_uploaded += static_cast<uint64_t>(desc.size);
  NoteBlobLocation(repo, desc.digest);
  Report(progress, desc, BlobProgress::State::kDone, static_cast<uint64_t>(desc.size));
  return {};
}

// ---- tags

Result<std::vector<std::string>> Client::ListTags(const Context& ctx,
                                                  const reference::Reference& repo, int page_size) {
  Executor ex{options_, *impl_};
  Endpoint ep = options_.config.PushEndpoint(repo.domain);
  std::vector<std::string> tags;
  std::string url = RepoUrl(ep, repo) + "/tags/list";
  if (page_size > 0) {
    url += "?n=" + std::to_string(page_size);
  }
  for (int page = 0; page < 100000; ++page) {
    Impl::Call call;
    call.endpoint = &ep;
    call.scopes = {PullScope(repo)};
    call.prepare = [&](HttpRequest& req) -> Result<> {
      req.url = url;
      return {};
    };
    HttpResponse resp = BERTH_TRY(ex.Run(ctx, call));
    if (resp.status == 404) {
      return Error::NotFound("repository " + repo.Name() + " not found on " + ep.host);
    }
    if (resp.status != 200) {
      return StatusError(resp, "listing tags of " + repo.Name(), ep.host);
    }
    try {
      nlohmann::json doc = nlohmann::json::parse(resp.body);
      auto t = doc.find("tags");
      if (t != doc.end() && t->is_array()) {
        for (const auto& tag : *t) {
          if (tag.is_string()) {
            tags.push_back(tag.get<std::string>());
          }
        }
      }
    } catch (const nlohmann::json::exception& e) {
      return Error::InvalidArgument("tags list of " + repo.Name() + ": invalid JSON: " + e.what());
    }
    std::optional<std::string> next = ParseLinkNext(resp.headers.Get("link"));
    if (!next.has_value()) {
      return tags;
    }
    url = ResolveUrl(resp.url, *next);
  }
  return Error::Internal("tags list of " + repo.Name() + ": too many pages");
}

}  // namespace berth::registry
