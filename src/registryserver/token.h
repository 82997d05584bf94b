// Registry tokens: the short-lived bearer tokens of the Docker token flow (GET /v2/token), which
// berthd's registry hands out and accepts.
//
// A token is a JWT signed with HMAC-SHA256 (OpenSSL) under a server secret kept in the berthd
// root (created with mode 0600 on first start; 32 random bytes). It names the berthd token that
// asked for it (so revoking that token ends its registry tokens too) and grants pull and/or push
// on whole projects: a repository "<project-id>" or "<project-id>/<path>" is reached through its
// project. Only HS256 tokens signed with our secret verify; the header's "alg" must say so.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/base64url.h"
#include "base/result.h"

namespace berth::registryserver {

struct ProjectAccess {
  std::string project_id;
  bool pull = false;
  bool push = false;
  friend bool operator==(const ProjectAccess&, const ProjectAccess&) = default;
};

struct TokenClaims {
  std::string token_id;  // The berthd token (metastore) that obtained this one.
  std::vector<ProjectAccess> access;
  int64_t issued_at = 0;  // Unix seconds.
  int64_t expires_at = 0;
  friend bool operator==(const TokenClaims&, const TokenClaims&) = default;
};

class TokenSigner {
 public:
  // Reads the secret at `path`, or creates it (and its directory) when absent.
  static Result<TokenSigner> LoadOrCreate(const std::string& path);
  // For tests: a signer with this secret (at least 32 bytes).
  static Result<TokenSigner> FromSecret(std::string secret);

  std::string Sign(const TokenClaims& claims) const;
  // The claims of a token this signer made, if it has not expired at `now` (Unix seconds).
  // Unauthenticated for anything else: malformed, another alg, a bad signature, expired.
  Result<TokenClaims> Verify(std::string_view token, int64_t now) const;

 private:
  explicit TokenSigner(std::string secret) : secret_(std::move(secret)) {}
  std::string Mac(std::string_view data) const;

  std::string secret_;
};

// Base64url (base/base64url.h), named here too for the registry's callers.
using berth::Base64UrlDecode;
using berth::Base64UrlEncode;

}  // namespace berth::registryserver
