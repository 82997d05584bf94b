#include "digest/digest.h"

#include <cstdlib>

#include <openssl/evp.h>

namespace berth::digest {
namespace {

std::string ToHex(const unsigned char* data, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(size * 2, '0');
  for (size_t i = 0; i < size; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 0xF];
  }
  return out;
}

}  // namespace

Result<Digest> Digest::Parse(std::string_view text) {
  size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    return Error::InvalidArgument("invalid digest \"" + std::string(text) +
                                  "\": want algorithm:hex");
  }
  std::string algorithm(text.substr(0, colon));
  std::string_view hex = text.substr(colon + 1);
  size_t want = 0;
  if (algorithm == "sha256") {
    want = 64;
  } else if (algorithm == "sha512") {
    want = 128;
  } else {
    return Error::InvalidArgument("unsupported digest algorithm \"" + algorithm + "\"");
  }
  if (hex.size() != want) {
    return Error::InvalidArgument("invalid digest \"" + std::string(text) + "\": want " +
                                  std::to_string(want) + " hex characters");
  }
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return Error::InvalidArgument("invalid digest \"" + std::string(text) +
                                    "\": not lower-case hex");
    }
  }
  return Digest(std::move(algorithm), std::string(hex));
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
  ~Impl() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  if (impl_->ctx == nullptr || EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) != 1) {
    std::abort();  // Only allocation failure gets here.
  }
}

Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::~Sha256() = default;

void Sha256::Update(const void* data, size_t size) {
  EVP_DigestUpdate(impl_->ctx, data, size);
  bytes_ += size;
}

Digest Sha256::Finish() const {
  EVP_MD_CTX* copy = EVP_MD_CTX_new();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_MD_CTX_copy_ex(copy, impl_->ctx);
  EVP_DigestFinal_ex(copy, out, &len);
  EVP_MD_CTX_free(copy);
  return Digest::FromSha256Hex(ToHex(out, len));
}

Digest FromBytes(std::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace berth::digest
