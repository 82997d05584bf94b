// Fuzzes what berthd's registry parses from clients: request paths, repository names and tags,
// Range and Content-Range headers, token scopes, and bearer tokens (base64url, JWT, claims).
// The first byte picks the parser; the rest is the input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "registryserver/parse.h"
#include "registryserver/token.h"

using namespace berth::registryserver;  // NOLINT(google-build-using-namespace)

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  uint8_t selector = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (selector % 6) {
    case 0: {
      std::optional<RegistryPath> p = ParseRegistryPath(input);
      if (p && IsValidName(p->name)) {
        // A valid name never climbs out of its place in a path.
        if (p->name.find("..") != std::string::npos || p->name.starts_with('/')) {
          std::abort();
        }
      }
      (void)IsValidTag(input);
      break;
    }
    case 1: {
      uint64_t body = 0;
      if (input.size() >= 2) {
        body = static_cast<uint8_t>(input[0]) * 256u + static_cast<uint8_t>(input[1]);
        input.remove_prefix(2);
      }
      berth::Result<ByteRange> r = ParseRangeHeader(input, body);
      if (r.ok() && (r->first > r->last || r->last >= body)) {
        std::abort();
      }
      break;
    }
    case 2: {
      berth::Result<ByteRange> r = ParseContentRange(input);
      if (r.ok() && r->first > r->last) {
        std::abort();
      }
      break;
    }
    case 3: {
      berth::Result<std::vector<Scope>> s = ParseScopes(input);
      if (s.ok()) {
        for (const Scope& scope : *s) {
          if (scope.type.empty() || scope.name.empty()) {
            std::abort();
          }
        }
      }
      break;
    }
    case 4: {
      static const TokenSigner signer = TokenSigner::FromSecret(std::string(32, 's')).value();
      berth::Result<TokenClaims> claims = signer.Verify(input, 0);
      if (claims.ok()) {
        // Whatever verifies must survive signing again unchanged.
        berth::Result<TokenClaims> again = signer.Verify(signer.Sign(*claims), 0);
        if (!again.ok() || !(*again == *claims)) {
          std::abort();
        }
      }
      break;
    }
    default: {
      berth::Result<std::string> decoded = Base64UrlDecode(input);
      if (decoded.ok()) {
        berth::Result<std::string> again = Base64UrlDecode(Base64UrlEncode(*decoded));
        if (!again.ok() || *again != *decoded) {
          std::abort();
        }
      }
      break;
    }
  }
  return 0;
}
