// libFuzzer target for the OIDC parsers that read untrusted input: an ID token (JWS compact
// form) and an issuer's key set (JWKS). The first byte picks which; every input must give a value
// or an error, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "oidc/jwks.h"
#include "oidc/jwt.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    berth::Result<berth::oidc::Jwt> jwt = berth::oidc::ParseJwt(text);
    if (jwt.ok()) {
      (void)berth::oidc::CheckClaims(jwt->claims, {.issuer = "https://i", .audience = "berthd"});
    }
  } else {
    berth::Result<berth::oidc::KeySet> keys = berth::oidc::KeySet::Parse(text);
    if (keys.ok()) {
      berth::oidc::Jwt jwt;
      jwt.alg = "RS256";
      jwt.signing_input = "a.b";
      jwt.signature = std::string(256, 'x');
      (void)keys->Verify(jwt);
      jwt.alg = "ES256";
      jwt.signature = std::string(64, 'x');
      (void)keys->Verify(jwt);
    }
  }
  return 0;
}
