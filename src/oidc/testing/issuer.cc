#include "oidc/testing/issuer.h"

#include <atomic>
#include <mutex>

#include <nlohmann/json.hpp>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include "base/base64url.h"

namespace berth::oidc::testing {
namespace {

using json = nlohmann::json;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

PkeyPtr NewRsa() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
}

PkeyPtr NewEc() {
  return PkeyPtr(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
}

std::string BnParam(EVP_PKEY* key, const char* name, int pad = 0) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &bn) != 1) {
    return {};
  }
  int len = pad > 0 ? pad : BN_num_bytes(bn);
  std::string out(static_cast<size_t>(len), '\0');
  BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), len);
  BN_free(bn);
  return out;
}

json RsaJwk(EVP_PKEY* key, const std::string& kid) {
  return {{"kty", "RSA"},
          {"kid", kid},
          {"use", "sig"},
          {"alg", "RS256"},
          {"n", Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_RSA_N))},
          {"e", Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_RSA_E))}};
}

json EcJwk(EVP_PKEY* key, const std::string& kid) {
  return {{"kty", "EC"},
          {"kid", kid},
          {"use", "sig"},
          {"crv", "P-256"},
          {"x", Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
          {"y", Base64UrlEncode(BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))}};
}

std::string DigestSign(EVP_PKEY* key, const std::string& input) {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  size_t len = 0;
  std::string sig;
  if (EVP_DigestSignInit(md, nullptr, EVP_sha256(), nullptr, key) == 1 &&
      EVP_DigestSign(md, nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size()) == 1) {
    sig.resize(len);
    if (EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1) {
      sig.resize(len);
    } else {
      sig.clear();
    }
  }
  EVP_MD_CTX_free(md);
  return sig;
}

// DER ECDSA-Sig-Value -> JOSE's r || s.
std::string DerToRaw(const std::string& der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string out(64, '\0');
  if (sig != nullptr) {
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, reinterpret_cast<unsigned char*>(out.data()), 32);
    BN_bn2binpad(s, reinterpret_cast<unsigned char*>(out.data()) + 32, 32);
    ECDSA_SIG_free(sig);
  }
  return out;
}

std::string Header(const std::string& alg, const std::string& kid) {
  json h = {{"alg", alg}, {"typ", "JWT"}};
  if (!kid.empty()) {
    h["kid"] = kid;
  }
  return Base64UrlEncode(h.dump());
}

std::string PublicPem(EVP_PKEY* key) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

}  // namespace

struct LocalIssuer::Impl {
  PkeyPtr rsa;
  PkeyPtr ec;
  PkeyPtr stranger;
  std::unique_ptr<httpserver::Server> server;
  mutable std::mutex mu;
  PkeyPtr rotated;          // Guarded by mu.
  std::string rotated_kid;  // Guarded by mu.
  std::atomic<int> jwks_fetches{0};
};

LocalIssuer::LocalIssuer() : impl_(std::make_unique<Impl>()) {}

LocalIssuer::~LocalIssuer() {
  if (impl_->server) {
    impl_->server->Stop();
  }
}

Result<std::unique_ptr<LocalIssuer>> LocalIssuer::Start() {
  std::unique_ptr<LocalIssuer> issuer(new LocalIssuer());
  Impl& impl = *issuer->impl_;
  impl.rsa = NewRsa();
  impl.ec = NewEc();
  impl.stranger = NewRsa();
  if (!impl.rsa || !impl.ec || !impl.stranger) {
    return Error::Internal("test issuer: OpenSSL could not make keys");
  }
  impl.server = BERTH_TRY(httpserver::Server::Create({.host = "127.0.0.1", .threads = 4}));
  LocalIssuer* self = issuer.get();
  impl.server->Route("GET", "/.well-known/openid-configuration",
                     [self](const httpserver::Request&) {
                       json doc = {{"issuer", self->url_},
                                   {"jwks_uri", self->url_ + "/jwks"},
                                   {"id_token_signing_alg_values_supported", {"RS256", "ES256"}}};
                       return httpserver::Response::Json(200, doc.dump());
                     });
  impl.server->Route("GET", "/jwks", [self](const httpserver::Request&) {
    self->impl_->jwks_fetches++;
    return httpserver::Response::Json(200, self->JwksJson());
  });
  BERTH_TRY(impl.server->Start());
  issuer->url_ = "http://127.0.0.1:" + std::to_string(impl.server->port());
  return issuer;
}

std::string LocalIssuer::SignRs256(const std::string& payload_json, const std::string& kid) const {
  std::string input = Header("RS256", kid) + "." + Base64UrlEncode(payload_json);
  return input + "." + Base64UrlEncode(DigestSign(impl_->rsa.get(), input));
}

std::string LocalIssuer::SignEs256(const std::string& payload_json, const std::string& kid) const {
  std::string input = Header("ES256", kid) + "." + Base64UrlEncode(payload_json);
  return input + "." + Base64UrlEncode(DerToRaw(DigestSign(impl_->ec.get(), input)));
}

std::string LocalIssuer::SignWithStrangerKey(const std::string& payload_json,
                                             const std::string& kid) const {
  std::string input = Header("RS256", kid) + "." + Base64UrlEncode(payload_json);
  return input + "." + Base64UrlEncode(DigestSign(impl_->stranger.get(), input));
}

std::string LocalIssuer::SignNone(const std::string& payload_json) const {
  return Header("none", "") + "." + Base64UrlEncode(payload_json) + ".";
}

std::string LocalIssuer::SignHs256WithPublicKey(const std::string& payload_json,
                                                int variant) const {
  std::string secret =
      variant == 0 ? PublicPem(impl_->rsa.get()) : BnParam(impl_->rsa.get(), OSSL_PKEY_PARAM_RSA_N);
  std::string input = Header("HS256", kRsaKid) + "." + Base64UrlEncode(payload_json);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  return input + "." + Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
}

std::string LocalIssuer::JwksJson() const {
  json keys = json::array();
  keys.push_back(RsaJwk(impl_->rsa.get(), kRsaKid));
  keys.push_back(EcJwk(impl_->ec.get(), kEcKid));
  // A key berth must skip: a symmetric one.
  keys.push_back({{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}});
  std::lock_guard<std::mutex> lock(impl_->mu);
  if (impl_->rotated) {
    keys.push_back(RsaJwk(impl_->rotated.get(), impl_->rotated_kid));
  }
  return json{{"keys", keys}}.dump();
}

int LocalIssuer::jwks_fetches() const {
  return impl_->jwks_fetches.load();
}

void LocalIssuer::Rotate(const std::string& kid) {
  PkeyPtr key = NewRsa();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->rotated = std::move(key);
  impl_->rotated_kid = kid;
}

std::string LocalIssuer::SignRotated(const std::string& payload_json) const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  std::string input = Header("RS256", impl_->rotated_kid) + "." + Base64UrlEncode(payload_json);
  return input + "." + Base64UrlEncode(DigestSign(impl_->rotated.get(), input));
}

}  // namespace berth::oidc::testing
