#include "oidc/jwt.h"

#include <cmath>

#include <nlohmann/json.hpp>

#include "base/base64url.h"
#include "base/strings.h"

namespace berth::oidc {
namespace {

using json = nlohmann::json;

Error Bad(const std::string& why) {
  return Error::Unauthenticated("oidc token: " + why);
}

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<json> DecodeObject(std::string_view part, const char* what) {
  Result<std::string> text = Base64UrlDecode(part);
  if (!text.ok()) {
    return Bad(std::string(what) + " is not base64url");
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) {
    return Bad(std::string(what) + " is not a JSON object");
  }
  return j;
}

Result<std::string> OptString(const json& obj, const char* name, const char* where) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    return std::string();
  }
  if (!it->is_string()) {
    return Bad(std::string(where) + " \"" + name + "\" is not a string");
  }
  return it->get<std::string>();
}

// A NumericDate (RFC 7519): seconds since the epoch, maybe with a fraction.
Result<std::optional<int64_t>> OptDate(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    return std::optional<int64_t>();
  }
  if (it->is_number_integer()) {
    return std::optional<int64_t>(it->get<int64_t>());
  }
  if (it->is_number_unsigned() || it->is_number_float()) {
    double v = it->get<double>();
    // Far beyond any real date; keeps the conversion defined.
    if (!std::isfinite(v) || v < -1e15 || v > 1e15) {
      return Bad(std::string("claim \"") + name + "\" is out of range");
    }
    return std::optional<int64_t>(static_cast<int64_t>(std::floor(v)));
  }
  return Bad(std::string("claim \"") + name + "\" is not a number");
}

std::string Show(std::string_view text) {
  return QuoteString(text.substr(0, 200));
}

}  // namespace

Result<Jwt> ParseJwt(std::string_view token) {
  if (token.size() > kMaxTokenBytes) {
    return Bad("longer than " + std::to_string(kMaxTokenBytes) + " bytes");
  }
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Bad("not a JWT (want three base64url parts separated by dots)");
  }
  json header = BERTH_TRY(DecodeObject(token.substr(0, dot1), "header"));
  json payload = BERTH_TRY(DecodeObject(token.substr(dot1 + 1, dot2 - dot1 - 1), "payload"));
  Result<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
  if (!signature.ok()) {
    return Bad("signature is not base64url");
  }
  Jwt jwt;
  jwt.signing_input = std::string(token.substr(0, dot2));
  jwt.signature = std::move(signature).value();
  jwt.alg = BERTH_TRY(OptString(header, "alg", "header"));
  if (jwt.alg.empty()) {
    return Bad("header has no \"alg\"");
  }
  jwt.kid = BERTH_TRY(OptString(header, "kid", "header"));
  jwt.typ = BERTH_TRY(OptString(header, "typ", "header"));
  if (header.contains("crit")) {
    // RFC 7515 4.1.11: extensions we do not understand make the token unusable.
    return Bad("header has \"crit\" extensions, which berth does not support");
  }

  Claims& c = jwt.claims;
  c.issuer = BERTH_TRY(OptString(payload, "iss", "claim"));
  c.subject = BERTH_TRY(OptString(payload, "sub", "claim"));
  auto aud = payload.find("aud");
  if (aud != payload.end()) {
    if (aud->is_string()) {
      c.audience.push_back(aud->get<std::string>());
    } else if (aud->is_array()) {
      for (const json& a : *aud) {
        if (!a.is_string()) {
          return Bad("claim \"aud\" holds something other than strings");
        }
        c.audience.push_back(a.get<std::string>());
      }
    } else {
      return Bad("claim \"aud\" is neither a string nor an array of strings");
    }
  }
  c.expires_at = BERTH_TRY(OptDate(payload, "exp"));
  c.not_before = BERTH_TRY(OptDate(payload, "nbf"));
  c.issued_at = BERTH_TRY(OptDate(payload, "iat"));
  for (auto it = payload.begin(); it != payload.end(); ++it) {
    c.values.emplace(it.key(), it->is_string() ? it->get<std::string>() : Dump(*it));
  }
  return jwt;
}

Result<> CheckClaims(const Claims& claims, const Expectation& expected) {
  if (claims.issuer != expected.issuer) {
    return Bad("issuer " + Show(claims.issuer) + " is not the trusted issuer " +
               Show(expected.issuer));
  }
  bool audience_ok = false;
  for (const std::string& a : claims.audience) {
    audience_ok = audience_ok || a == expected.audience;
  }
  if (!audience_ok) {
    return Bad(
        "audience " +
        (claims.audience.empty() ? std::string("(none)") : Show(StrJoin(claims.audience, ", "))) +
        " does not include the audience the trust policy expects");
  }
  if (!claims.expires_at) {
    return Bad("no expiry (claim \"exp\")");
  }
  if (*claims.expires_at <= expected.now - expected.leeway) {
    return Bad("expired at " + std::to_string(*claims.expires_at) + " (now " +
               std::to_string(expected.now) + ")");
  }
  if (claims.not_before && *claims.not_before > expected.now + expected.leeway) {
    return Bad("not valid before " + std::to_string(*claims.not_before) + " (claim \"nbf\"; now " +
               std::to_string(expected.now) + ")");
  }
  if (claims.issued_at && *claims.issued_at > expected.now + expected.leeway) {
    return Bad("issued in the future at " + std::to_string(*claims.issued_at) +
               " (claim \"iat\"; now " + std::to_string(expected.now) + ")");
  }
  return {};
}

}  // namespace berth::oidc
