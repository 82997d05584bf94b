// oidc: verifying the OpenID Connect ID tokens that CI providers (GitHub Actions, CircleCI,
// Buildkite, any OIDC issuer) give their jobs, so that a job can present one to berthd instead of
// a stored secret (DESIGN.md, "Service"; docs/decisions/0009-oidc-trust.md).
//
// This header: the token itself. An ID token is a JWT in the JWS compact form
// (base64url(header) "." base64url(payload) "." base64url(signature)); ParseJwt splits and decodes
// it and reads the claims, and CheckClaims checks the registered ones (iss, aud, exp, nbf, iat).
// Neither verifies the signature: that is KeySet::Verify (jwks.h), and Verify (verifier.h) does
// all of it in order.
//
// Every error about a token is Unauthenticated with a message that starts "oidc token: " and says
// which check failed.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::oidc {

// Longer tokens are refused before any decoding (real ID tokens are 1-3 KiB).
inline constexpr size_t kMaxTokenBytes = size_t{16} * 1024;
// How far the clocks of the issuer and berthd may disagree, in seconds.
inline constexpr int64_t kDefaultLeewaySeconds = 60;

struct Claims {
  std::string issuer;                 // iss
  std::string subject;                // sub
  std::vector<std::string> audience;  // aud: a single string becomes one entry.
  // Unix seconds (fractions dropped); nullopt when the claim is absent.
  std::optional<int64_t> expires_at;  // exp
  std::optional<int64_t> not_before;  // nbf
  std::optional<int64_t> issued_at;   // iat
  // Every top-level claim by name: strings as they are, anything else as compact JSON text
  // (true, 42, ["a","b"]), so that conditions compare claims of any type as text.
  std::map<std::string, std::string> values;
};

struct Jwt {
  std::string alg;  // From the protected header.
  std::string kid;  // "" when the header has none.
  std::string typ;
  Claims claims;
  std::string signing_input;  // The first two parts as sent: what the signature covers.
  std::string signature;      // The decoded signature bytes.
};

// Splits and decodes a compact JWS and reads its claims. Unauthenticated for anything that is not
// one: too long, not three parts, bad base64url, a header or payload that is not a JSON object, a
// header without "alg", registered claims of the wrong type (iss/sub not strings, aud not a
// string or array of strings, exp/nbf/iat not numbers).
Result<Jwt> ParseJwt(std::string_view token);

// What the relying party (berthd, through a trust policy) expects of a token.
struct Expectation {
  std::string issuer;    // iss must equal it exactly.
  std::string audience;  // aud must contain it.
  int64_t now = 0;       // Unix seconds.
  int64_t leeway = kDefaultLeewaySeconds;
};

// Checks iss, aud, exp (required: a token without one is refused), nbf and iat (not in the
// future beyond the leeway). Unauthenticated naming the claim that failed.
Result<> CheckClaims(const Claims& claims, const Expectation& expected);

}  // namespace berth::oidc
