// Content digests ("sha256:<64 hex>"), the addresses of everything berth stores.
//
// Hashing goes through OpenSSL's EVP interface, which uses the CPU's SHA extensions.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::digest {

// A validated digest. Only sha256 is produced; sha512 is accepted when parsing.
class Digest {
 public:
  Digest() = default;
  // Parses "algorithm:hex" and checks the hex length and alphabet for the algorithm.
  static Result<Digest> Parse(std::string_view text);
  // REQUIRES: `hex` is 64 lower-case hex characters.
  static Digest FromSha256Hex(std::string hex) { return Digest("sha256", std::move(hex)); }

  const std::string& algorithm() const { return algorithm_; }
  const std::string& hex() const { return hex_; }
  std::string ToString() const { return algorithm_ + ":" + hex_; }
  bool empty() const { return hex_.empty(); }

  friend bool operator==(const Digest& a, const Digest& b) = default;
  friend auto operator<=>(const Digest& a, const Digest& b) = default;

 private:
  Digest(std::string algorithm, std::string hex)
      : algorithm_(std::move(algorithm)), hex_(std::move(hex)) {}
  std::string algorithm_;
  std::string hex_;
};

// Incremental SHA-256. Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  ~Sha256();

  void Update(const void* data, size_t size);
  void Update(std::string_view data) { Update(data.data(), data.size()); }
  // Returns the digest of everything written so far; the hasher can go on taking data.
  Digest Finish() const;
  uint64_t bytes() const { return bytes_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  uint64_t bytes_ = 0;
};

// The SHA-256 digest of `data`.
Digest FromBytes(std::string_view data);

}  // namespace berth::digest
