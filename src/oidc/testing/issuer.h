// A local OIDC issuer for tests: an RSA (2048-bit) and an EC (P-256) key made with OpenSSL when
// it starts, its discovery document and JWKS served on 127.0.0.1 (httpserver), and a signer for
// any header and payload, including the tokens an attacker would make (alg none, HS256 keyed
// with the RSA public key, a signature by a key the JWKS lacks). Stopped by its destructor.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "httpserver/server.h"

namespace berth::oidc::testing {

class LocalIssuer {
 public:
  // Starts serving on 127.0.0.1 at a free port.
  static Result<std::unique_ptr<LocalIssuer>> Start();
  ~LocalIssuer();

  // "http://127.0.0.1:PORT".
  const std::string& url() const { return url_; }
  // The kids its JWKS publishes.
  static constexpr const char* kRsaKid = "rsa-1";
  static constexpr const char* kEcKid = "ec-1";

  // A token signed RS256 with the RSA key (`kid` in the header) over `payload_json`.
  std::string SignRs256(const std::string& payload_json, const std::string& kid = kRsaKid) const;
  // A token signed ES256 with the EC key.
  std::string SignEs256(const std::string& payload_json, const std::string& kid = kEcKid) const;
  // Signed RS256 with a fresh RSA key that the JWKS does not hold, under `kid`.
  std::string SignWithStrangerKey(const std::string& payload_json, const std::string& kid) const;
  // alg "none" and an empty signature.
  std::string SignNone(const std::string& payload_json) const;
  // alg HS256 with the RSA public key (as PEM and as the JWK's n) as the HMAC secret: the
  // key-confusion attack. `variant` 0: the PEM, 1: the raw modulus.
  std::string SignHs256WithPublicKey(const std::string& payload_json, int variant) const;
  // The JWKS document it serves.
  std::string JwksJson() const;
  // How many times the JWKS was fetched.
  int jwks_fetches() const;

  // Makes the JWKS publish another RSA key under `kid` too (a key rotation); tokens signed with
  // SignRotated then verify once the set is fetched again.
  void Rotate(const std::string& kid);
  std::string SignRotated(const std::string& payload_json) const;

 private:
  struct Impl;
  LocalIssuer();
  std::unique_ptr<Impl> impl_;
  std::string url_;
};

}  // namespace berth::oidc::testing
