// oidc: an issuer's public keys, as its JSON Web Key Set (RFC 7517) publishes them, and the
// signature check of a token against them.
//
// Only two algorithms are accepted: RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RSA keys of at least
// 2048 bits) and ES256 (ECDSA on P-256 with SHA-256). A token saying "none", HS256 (or any HMAC:
// the classic key-confusion attack signs with the RSA public key as the HMAC secret) or any other
// algorithm is refused, and so is one whose algorithm does not fit the key its kid names (an RSA
// key for ES256, an EC key for RS256, a key whose own "alg" differs). The crypto is OpenSSL 3's;
// none of its types reach this header.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "oidc/jwt.h"

namespace berth::oidc {

// Larger key sets and discovery documents are refused (real ones are a few KiB).
inline constexpr size_t kMaxDocumentBytes = size_t{256} * 1024;
// At most this many keys are kept from one set.
inline constexpr size_t kMaxKeys = 64;

// An immutable set of verification keys. Cheap to share (const methods are thread-safe).
class KeySet {
 public:
  // Parses a JWKS document {"keys":[...]}. Keys berth cannot use are skipped and named in
  // skipped(): another kty (oct, OKP), another curve, "use" other than "sig", an "alg" other
  // than RS256/ES256, an RSA modulus under 2048 bits, a point not on the curve, a malformed
  // member. InvalidArgument (naming the member) for a document that is not such an object, or
  // one over kMaxDocumentBytes.
  static Result<KeySet> Parse(std::string_view json);

  KeySet();
  KeySet(KeySet&&) noexcept;
  KeySet& operator=(KeySet&&) noexcept;
  ~KeySet();

  // Verifies the token's signature with the key its kid names (with no kid: the one key of the
  // set that fits its alg, when there is exactly one). NotFound when the set has no key of that
  // kid (the caller may fetch the set again: keys rotate); Unauthenticated for an algorithm that
  // is not accepted or does not fit the key, and for a bad signature.
  Result<> Verify(const Jwt& jwt) const;

  size_t size() const;
  bool HasKey(std::string_view kid) const;
  // Why each skipped key was skipped ("keys[2]: kty \"oct\" is not supported").
  const std::vector<std::string>& skipped() const { return skipped_; }

 private:
  struct Key;
  std::vector<std::shared_ptr<const Key>> keys_;
  std::vector<std::string> skipped_;
};

}  // namespace berth::oidc
