#include "registryserver/token.h"

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "os/file.h"

namespace berth::registryserver {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kMaxTokenBytes = size_t{16} * 1024;

Error Invalid(const std::string& why) {
  return Error::Unauthenticated("registry token: " + why);
}

}  // namespace

Result<TokenSigner> TokenSigner::FromSecret(std::string secret) {
  if (secret.size() < kSecretBytes) {
    return Error::InvalidArgument("registry token secret shorter than 32 bytes");
  }
  return TokenSigner(std::move(secret));
}

Result<TokenSigner> TokenSigner::LoadOrCreate(const std::string& path) {
  if (os::Exists(path)) {
    std::string secret = BERTH_TRY_CONTEXT(os::ReadFile(path), "reading " + path);
    if (secret.size() < kSecretBytes) {
      return Error::DataLoss(path +
                             ": registry token secret is too short (delete it to make a "
                             "new one; issued tokens then stop working)");
    }
    return TokenSigner(std::move(secret));
  }
  size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    BERTH_TRY(os::MakeDirs(path.substr(0, slash), 0700));
  }
  std::string secret(kSecretBytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(secret.data()), kSecretBytes) != 1) {
    return Error::Internal("the system's random number generator failed");
  }
  BERTH_TRY_CONTEXT(os::WriteFileAtomic(path, secret, 0600), "writing " + path);
  // Two berthd starting at once may both have written: use what the file holds now.
  std::string stored = BERTH_TRY_CONTEXT(os::ReadFile(path), "reading " + path);
  return TokenSigner(std::move(stored));
}

std::string TokenSigner::Mac(std::string_view data) const {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return {reinterpret_cast<const char*>(out), len};
}

std::string TokenSigner::Sign(const TokenClaims& claims) const {
  nlohmann::json access = nlohmann::json::array();
  for (const ProjectAccess& a : claims.access) {
    nlohmann::json actions = nlohmann::json::array();
    if (a.pull) {
      actions.push_back("pull");
    }
    if (a.push) {
      actions.push_back("push");
    }
    access.push_back({{"type", "repository"}, {"name", a.project_id}, {"actions", actions}});
  }
  nlohmann::json payload = {{"iss", "berthd"},          {"aud", "berthd"},
                            {"sub", claims.token_id},   {"iat", claims.issued_at},
                            {"exp", claims.expires_at}, {"access", access}};
  std::string signing_input =
      Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})") + "." + Base64UrlEncode(payload.dump());
  return signing_input + "." + Base64UrlEncode(Mac(signing_input));
}

Result<TokenClaims> TokenSigner::Verify(std::string_view token, int64_t now) const {
  if (token.size() > kMaxTokenBytes) {
    return Invalid("too long");
  }
  size_t dot1 = token.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Invalid("not a JWT");
  }
  std::string_view signing_input = token.substr(0, dot2);
  Result<std::string> signature = Base64UrlDecode(token.substr(dot2 + 1));
  std::string want = Mac(signing_input);
  if (!signature.ok() || signature->size() != want.size() ||
      CRYPTO_memcmp(signature->data(), want.data(), want.size()) != 0) {
    return Invalid("bad signature");
  }
  // Signed by us; still check the header says what we sign with.
  Result<std::string> header_text = Base64UrlDecode(token.substr(0, dot1));
  Result<std::string> payload_text = Base64UrlDecode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!header_text.ok() || !payload_text.ok()) {
    return Invalid("bad encoding");
  }
  nlohmann::json header = nlohmann::json::parse(*header_text, nullptr, false);
  nlohmann::json payload = nlohmann::json::parse(*payload_text, nullptr, false);
  if (!header.is_object() || header.value("alg", nlohmann::json()) != "HS256" ||
      !payload.is_object()) {
    return Invalid("bad header or payload");
  }
  TokenClaims claims;
  const nlohmann::json& sub = payload["sub"];
  const nlohmann::json& iat = payload["iat"];
  const nlohmann::json& exp = payload["exp"];
  const nlohmann::json& access = payload["access"];
  if (!sub.is_string() || !iat.is_number_integer() || !exp.is_number_integer() ||
      !access.is_array()) {
    return Invalid("missing claims");
  }
  claims.token_id = sub.get<std::string>();
  claims.issued_at = iat.get<int64_t>();
  claims.expires_at = exp.get<int64_t>();
  if (now >= claims.expires_at) {
    return Invalid("expired");
  }
  for (const nlohmann::json& a : access) {
    if (!a.is_object() || !a["name"].is_string() || !a["actions"].is_array()) {
      return Invalid("bad access entry");
    }
    ProjectAccess pa;
    pa.project_id = a["name"].get<std::string>();
    for (const nlohmann::json& action : a["actions"]) {
      pa.pull = pa.pull || action == "pull";
      pa.push = pa.push || action == "push";
    }
    claims.access.push_back(std::move(pa));
  }
  return claims;
}

}  // namespace berth::registryserver
