#include "oidc/jwks.h"

#include <nlohmann/json.hpp>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include "base/base64url.h"
#include "base/strings.h"

namespace berth::oidc {

namespace {

using json = nlohmann::json;

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;
constexpr size_t kP256CoordBytes = 32;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};

using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

enum class KeyType { kRsa, kEc };

std::string_view AlgFor(KeyType t) {
  return t == KeyType::kRsa ? "RS256" : "ES256";
}

Error Bad(const std::string& why) {
  return Error::Unauthenticated("oidc token: " + why);
}

// A base64url member of a JWK, decoded; InvalidArgument naming it.
Result<std::string> B64Member(const json& jwk, const char* name) {
  auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) {
    return Error::InvalidArgument(std::string("\"") + name + "\" is missing or not a string");
  }
  Result<std::string> bytes = Base64UrlDecode(it->get<std::string>());
  if (!bytes.ok() || bytes->empty()) {
    return Error::InvalidArgument(std::string("\"") + name + "\" is not base64url");
  }
  return std::move(bytes).value();
}

Result<PkeyPtr> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1) {
    return Error::Internal("OpenSSL could not set up a key import");
  }
  EVP_PKEY* raw = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1 || !raw) {
    return Error::InvalidArgument("OpenSSL refused the key");
  }
  PkeyPtr key(raw);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
      EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return Error::InvalidArgument("the public key does not check out");
  }
  return key;
}

Result<PkeyPtr> RsaKey(const json& jwk) {
  std::string n = BERTH_TRY(B64Member(jwk, "n"));
  std::string e = BERTH_TRY(B64Member(jwk, "e"));
  size_t n_bits = n.size() * 8;
  if (n_bits > static_cast<size_t>(kMaxRsaBits) + 8 || e.size() > 8) {
    return Error::InvalidArgument("RSA key too large");
  }
  std::unique_ptr<BIGNUM, BnFree> bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                                                 static_cast<int>(n.size()), nullptr));
  std::unique_ptr<BIGNUM, BnFree> bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                                                 static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) {
    return Error::Internal("OpenSSL could not allocate a number");
  }
  int bits = BN_num_bits(bn_n.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return Error::InvalidArgument("RSA modulus of " + std::to_string(bits) +
                                  " bits (want 2048 to 8192)");
  }
  if (!BN_is_odd(bn_e.get()) || BN_is_one(bn_e.get())) {
    return Error::InvalidArgument("RSA exponent is not usable");
  }
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return Error::Internal("OpenSSL could not build key parameters");
  }
  return FromData("RSA", bld.get());
}

Result<PkeyPtr> EcKey(const json& jwk) {
  auto crv = jwk.find("crv");
  if (crv == jwk.end() || !crv->is_string() || *crv != "P-256") {
    return Error::InvalidArgument("curve is not P-256");
  }
  std::string x = BERTH_TRY(B64Member(jwk, "x"));
  std::string y = BERTH_TRY(B64Member(jwk, "y"));
  if (x.size() != kP256CoordBytes || y.size() != kP256CoordBytes) {
    return Error::InvalidArgument("P-256 coordinates must be 32 bytes each");
  }
  // The uncompressed point encoding: 0x04 || x || y.
  std::string point = "\x04" + x + y;
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return Error::Internal("OpenSSL could not build key parameters");
  }
  return FromData("EC", bld.get());
}

// JOSE's ES256 signature is r || s (32 bytes each); OpenSSL wants a DER ECDSA-Sig-Value.
Result<std::string> EcdsaToDer(std::string_view raw) {
  if (raw.size() != 2 * kP256CoordBytes) {
    return Bad("ES256 signature is " + std::to_string(raw.size()) + " bytes (want 64)");
  }
  const auto* p = reinterpret_cast<const unsigned char*>(raw.data());
  BIGNUM* r = BN_bin2bn(p, kP256CoordBytes, nullptr);
  BIGNUM* s = BN_bin2bn(p + kP256CoordBytes, kP256CoordBytes, nullptr);
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return Error::Internal("OpenSSL could not allocate a signature");
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) {
    return Error::Internal("OpenSSL could not encode a signature");
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

struct KeySet::Key {
  std::string kid;
  KeyType type = KeyType::kRsa;
  PkeyPtr pkey;
};

KeySet::KeySet() = default;
KeySet::KeySet(KeySet&&) noexcept = default;
KeySet& KeySet::operator=(KeySet&&) noexcept = default;
KeySet::~KeySet() = default;

Result<KeySet> KeySet::Parse(std::string_view text) {
  if (text.size() > kMaxDocumentBytes) {
    return Error::InvalidArgument("JWKS: larger than " + std::to_string(kMaxDocumentBytes) +
                                  " bytes");
  }
  json doc = json::parse(text, nullptr, false);
  if (!doc.is_object()) {
    return Error::InvalidArgument("JWKS: not a JSON object");
  }
  auto keys = doc.find("keys");
  if (keys == doc.end() || !keys->is_array()) {
    return Error::InvalidArgument("JWKS: \"keys\" is missing or not an array");
  }
  KeySet set;
  for (size_t i = 0; i < keys->size(); ++i) {
    const json& jwk = (*keys)[i];
    std::string where = "keys[" + std::to_string(i) + "]";
    auto skip = [&](const std::string& why) {
      if (set.skipped_.size() < kMaxKeys) {
        set.skipped_.push_back(where + ": " + why);
      }
    };
    if (set.keys_.size() >= kMaxKeys) {
      skip("more than " + std::to_string(kMaxKeys) + " keys");
      break;
    }
    if (!jwk.is_object()) {
      skip("not an object");
      continue;
    }
    auto member = [&](const char* name) -> std::optional<std::string> {
      auto it = jwk.find(name);
      if (it == jwk.end()) {
        return std::string();
      }
      if (!it->is_string()) {
        return std::nullopt;
      }
      return it->get<std::string>();
    };
    std::optional<std::string> kty = member("kty");
    std::optional<std::string> kid = member("kid");
    std::optional<std::string> alg = member("alg");
    std::optional<std::string> use = member("use");
    if (!kty || !kid || !alg || !use) {
      skip("kty, kid, alg or use is not a string");
      continue;
    }
    if (!use->empty() && *use != "sig") {
      skip("use " + QuoteString(*use) + " is not \"sig\"");
      continue;
    }
    KeyType type;
    if (*kty == "RSA") {
      type = KeyType::kRsa;
    } else if (*kty == "EC") {
      type = KeyType::kEc;
    } else {
      skip("kty " + QuoteString(kty->substr(0, 32)) + " is not supported (RSA or EC)");
      continue;
    }
    if (!alg->empty() && *alg != AlgFor(type)) {
      skip("alg " + QuoteString(alg->substr(0, 32)) + " is not accepted for kty " + *kty);
      continue;
    }
    Result<PkeyPtr> pkey = type == KeyType::kRsa ? RsaKey(jwk) : EcKey(jwk);
    if (!pkey.ok()) {
      skip(pkey.error().message());
      continue;
    }
    auto key = std::make_shared<Key>();
    key->kid = *kid;
    key->type = type;
    key->pkey = std::move(pkey).value();
    set.keys_.push_back(std::move(key));
  }
  return set;
}

size_t KeySet::size() const {
  return keys_.size();
}

bool KeySet::HasKey(std::string_view kid) const {
  for (const auto& k : keys_) {
    if (k->kid == kid) {
      return true;
    }
  }
  return false;
}

Result<> KeySet::Verify(const Jwt& jwt) const {
  KeyType want;
  if (jwt.alg == "RS256") {
    want = KeyType::kRsa;
  } else if (jwt.alg == "ES256") {
    want = KeyType::kEc;
  } else {
    return Bad("algorithm " + QuoteString(jwt.alg.substr(0, 32)) +
               " is not accepted (only RS256 and ES256)");
  }
  const Key* key = nullptr;
  if (!jwt.kid.empty()) {
    for (const auto& k : keys_) {
      if (k->kid == jwt.kid) {
        key = k.get();
        break;
      }
    }
    if (key == nullptr) {
      return Error::NotFound("oidc token: the issuer's key set has no key " +
                             QuoteString(jwt.kid.substr(0, 128)));
    }
    if (key->type != want) {
      return Bad("algorithm " + jwt.alg + " does not fit key " + QuoteString(key->kid) + " (a " +
                 std::string(want == KeyType::kRsa ? "EC" : "RSA") + " key)");
    }
  } else {
    for (const auto& k : keys_) {
      if (k->type == want) {
        if (key != nullptr) {
          return Bad("no \"kid\" in the header, and the issuer has several " + jwt.alg + " keys");
        }
        key = k.get();
      }
    }
    if (key == nullptr) {
      return Error::NotFound("oidc token: the issuer's key set has no " + jwt.alg + " key");
    }
  }
  std::string der;
  std::string_view signature = jwt.signature;
  if (want == KeyType::kEc) {
    der = BERTH_TRY(EcdsaToDer(jwt.signature));
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  if (!md || EVP_DigestVerifyInit(md.get(), nullptr, EVP_sha256(), nullptr, key->pkey.get()) != 1) {
    return Error::Internal("OpenSSL could not set up a signature check");
  }
  int ok = EVP_DigestVerify(
      md.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(jwt.signing_input.data()), jwt.signing_input.size());
  if (ok != 1) {
    return Bad("bad signature");
  }
  return {};
}

}  // namespace berth::oidc
