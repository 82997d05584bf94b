#include "client/oidc_login.h"

#include <chrono>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "client/client.h"
#include "registry/http.h"

namespace berth::client {
namespace {

using json = nlohmann::json;

constexpr std::chrono::seconds kGithubTimeout{10};

// Exchange failures must not read as usage errors (exit code 2): the user's settings were fine,
// the server or the issuer said no.
Error NotUsage(Error e) {
  if (e.code() == ErrorCode::kInvalidArgument || e.code() == ErrorCode::kFailedPrecondition) {
    return Error(ErrorCode::kUnauthenticated, e.ToString());
  }
  return e;
}

}  // namespace

std::optional<OidcSource> FindOidcSource(const Getenv& env) {
  if (std::string token = env("BERTH_OIDC_TOKEN"); !token.empty()) {
    return OidcSource{.name = "BERTH_OIDC_TOKEN", .id_token = token};
  }
  std::string url = env("ACTIONS_ID_TOKEN_REQUEST_URL");
  std::string request_token = env("ACTIONS_ID_TOKEN_REQUEST_TOKEN");
  if (url.empty() || request_token.empty()) {
    return std::nullopt;
  }
  std::string audience = env("BERTH_OIDC_AUDIENCE");
  return OidcSource{
      .name = "GitHub Actions (ACTIONS_ID_TOKEN_REQUEST_URL)",
      .request_url = GithubIdTokenUrl(url, audience.empty() ? kDefaultOidcAudience : audience),
      .request_token = request_token};
}

std::string GithubIdTokenUrl(std::string_view request_url, std::string_view audience) {
  std::string url(request_url);
  url += url.find('?') == std::string::npos ? '?' : '&';
  return url + "audience=" + registry::QueryEscape(audience);
}

Result<std::string> FetchIdToken(const Context& ctx, const OidcSource& source) {
  if (source.request_url.empty()) {
    return source.id_token;
  }
  registry::HttpClient http;
  registry::HttpRequest req;
  req.url = source.request_url;
  req.headers.emplace_back("Authorization", "Bearer " + source.request_token);
  req.headers.emplace_back("Accept", "application/json");
  req.max_body = size_t{64} << 10;
  Context bounded = ctx.WithTimeout(kGithubTimeout);
  Result<registry::HttpResponse> res = http.Do(bounded, req);
  if (!res.ok()) {
    return Error::Unavailable("requesting the ID token: " + res.error().message());
  }
  if (res->status < 200 || res->status >= 300) {
    std::string snippet = res->body.substr(0, 200);
    return Error::Unauthenticated("requesting the ID token: HTTP " + std::to_string(res->status) +
                                  (snippet.empty() ? "" : ": " + snippet));
  }
  json j = json::parse(res->body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("value") || !j["value"].is_string() ||
      j["value"].get<std::string>().empty()) {
    return Error::Internal("requesting the ID token: the answer has no \"value\"");
  }
  return j["value"].get<std::string>();
}

Result<Server> ResolveServerForProject(const Context& ctx, const ServerFlags& flags,
                                       const Getenv& env, const std::string& project_id) {
  Result<Server> server = ResolveServer(flags, env);
  if (server.ok()) {
    return server;
  }
  // Only the want of a token gives way to an ID token: no token for the host (Unauthenticated),
  // or no HOME to find a login file in (FailedPrecondition, once the host is known).
  ErrorCode code = server.error().code();
  Result<Server> host = ResolveHost(flags, env);
  bool no_token =
      host.ok() && (code == ErrorCode::kUnauthenticated || code == ErrorCode::kFailedPrecondition);
  std::optional<OidcSource> source = no_token ? FindOidcSource(env) : std::nullopt;
  if (!source) {
    return server;
  }
  if (project_id.empty()) {
    return Error::FailedPrecondition("an OIDC token (from " + source->name +
                                     ") is exchanged for a project's token: name the project "
                                     "with --project, BERTH_PROJECT or a berth.json");
  }
  std::string what =
      "exchanging the OIDC token from " + source->name + " for project " + project_id;
  Result<std::string> id_token = FetchIdToken(ctx, *source);
  if (!id_token.ok()) {
    return NotUsage(std::move(id_token).error()).AddContext(what);
  }
  Result<std::unique_ptr<Client>> api = Client::Create(host->url, "");
  if (!api.ok()) {
    return std::move(api).error();
  }
  Result<NewToken> minted = (*api)->ExchangeOidcToken(ctx, project_id, *id_token);
  if (!minted.ok()) {
    return NotUsage(std::move(minted).error()).AddContext(what);
  }
  Server out = *std::move(host);
  out.token = minted->secret;
  out.token_source = "OIDC (" + source->name + ")";
  return out;
}

}  // namespace berth::client
