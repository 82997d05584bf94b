// BlobSource: where image writers and readers get blobs by digest.
//
// The seam between this component and whatever holds blobs: the engine plugs in its content
// store, an OCI layout reader is one, tests use MemoryBlobSource. Beside the interface are
// VerifyingReader (checks size and digest while streaming) and helpers that read and parse the
// small documents of an image (manifests, indexes, configs) with verification.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "base/io.h"
#include "base/result.h"
#include "digest/digest.h"
#include "oci/image.h"
#include "oci/platform.h"

namespace berth::oci {

// A read-only provider of blobs by digest.
//
// Open() may be called many times and from several threads at once unless an implementation
// says otherwise; each returned Reader is independent and used by one thread. Readers borrow
// the source, which must outlive them. Sources need not verify what they return: callers that
// cannot trust the source wrap the reader in a VerifyingReader (the helpers below do).
class BlobSource {
 public:
  virtual ~BlobSource() = default;

  // Opens the blob `digest` for reading from its first byte. NotFound when the source lacks it.
  virtual Result<std::unique_ptr<Reader>> Open(const digest::Digest& digest) = 0;
};

// Passes a blob through, counting and hashing it. Fails with DataLoss as soon as more than the
// expected size arrives, and at the end of the stream when the size or the digest differ, so a
// consumer that reads to the end has verified the blob. Only sha256 digests can be verified;
// others fail with Unimplemented at the end.
class VerifyingReader final : public Reader {
 public:
  // `expected_size` < 0 leaves the size unchecked (the digest still is).
  VerifyingReader(std::unique_ptr<Reader> inner, digest::Digest expected,
                  int64_t expected_size = -1);

  Result<size_t> Read(char* buf, size_t size) override;

 private:
  std::unique_ptr<Reader> inner_;
  digest::Digest expected_;
  int64_t expected_size_;
  digest::Sha256 hash_;
  uint64_t bytes_ = 0;
  bool verified_ = false;
};

// The largest manifest, index or config the helpers read: registries cap manifests at 4 MiB;
// configs with long histories can be larger.
inline constexpr size_t kMaxDocumentSize = 16 * 1024 * 1024;

// Reads the whole blob `desc` names, verifying its size and digest. ResourceExhausted when it
// is larger than `limit`; DataLoss on a mismatch; NotFound when the source lacks it.
Result<std::string> ReadBlob(BlobSource& source, const Descriptor& desc,
                             size_t limit = kMaxDocumentSize);

// ReadBlob + parse. The errors name the descriptor's digest.
Result<Manifest> ReadManifest(BlobSource& source, const Descriptor& desc);
Result<Index> ReadIndex(BlobSource& source, const Descriptor& desc);
Result<ImageConfig> ReadImageConfig(BlobSource& source, const Descriptor& desc);

// The image manifest for `matcher` reachable from `root`: `root` itself when it is a manifest,
// else the best match of the index (following nested indexes, at most 8 deep). NotFound when
// no manifest matches; InvalidArgument when `root` is neither a manifest nor an index.
Result<Descriptor> ResolveManifest(BlobSource& source, const Descriptor& root,
                                   const PlatformMatcher& matcher);

// Holds blobs in memory. For tests and small generated documents. Not thread-safe for Add();
// Open() may run concurrently with other Open() calls.
class MemoryBlobSource final : public BlobSource {
 public:
  // Stores `data` and returns a descriptor for it with `media_type`.
  Descriptor Add(std::string_view media_type, std::string data);
  bool Contains(const digest::Digest& digest) const { return blobs_.contains(digest); }
  // Drops a blob (for tests of missing blobs).
  void Remove(const digest::Digest& digest) { blobs_.erase(digest); }

  Result<std::unique_ptr<Reader>> Open(const digest::Digest& digest) override;

 private:
  std::map<digest::Digest, std::string> blobs_;
};

// Blobs in files named `root`/<algorithm>/<hex>: the `blobs` folder of an OCI image layout.
// Thread-safe.
class DirBlobSource final : public BlobSource {
 public:
  explicit DirBlobSource(std::string root) : root_(std::move(root)) {}

  Result<std::unique_ptr<Reader>> Open(const digest::Digest& digest) override;
  // The path of the blob `digest` (whether it exists or not).
  std::string PathOf(const digest::Digest& digest) const;

 private:
  std::string root_;
};

}  // namespace berth::oci
