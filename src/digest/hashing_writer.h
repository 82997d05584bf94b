// HashingWriter: a Writer that computes the SHA-256 digest of everything passing through it.
//
// Sits in export pipelines where a digest must come out of the same pass that moves the bytes,
// e.g. tar -> HashingWriter (layer diff ID) -> gzip -> content store.
#pragma once

#include <cstdint>
#include <string_view>

#include "base/io.h"
#include "digest/digest.h"

namespace berth::digest {

// Feeds every byte to a Sha256 and then to the borrowed downstream Writer (if any). Close()
// does not close the downstream (see base/io.h). Not thread-safe.
class HashingWriter final : public Writer {
 public:
  // Hashes and discards: a pure digest sink.
  HashingWriter() = default;
  // Hashes and forwards to `downstream`, which must outlive this writer.
  explicit HashingWriter(Writer& downstream) : downstream_(&downstream) {}

  // Hashes `data` only once the downstream accepted it, so digest() always describes what the
  // downstream received.
  Result<> Write(std::string_view data) override;
  Result<> Close() override;

  // The digest of everything written so far (callable at any time, usually after Close()).
  Digest digest() const { return hash_.Finish(); }
  uint64_t bytes() const { return hash_.bytes(); }

 private:
  Writer* downstream_ = nullptr;
  Sha256 hash_;
  bool closed_ = false;
};

}  // namespace berth::digest
