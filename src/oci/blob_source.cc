#include "oci/blob_source.h"

#include <fcntl.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "oci/media_types.h"
#include "os/file.h"

namespace berth::oci {
namespace {

constexpr int kMaxIndexDepth = 8;

Result<Descriptor> ResolveAt(BlobSource& source, const Descriptor& root,
                             const PlatformMatcher& matcher, int depth) {
  if (IsManifestMediaType(root.media_type)) {
    return root;
  }
  if (!IsIndexMediaType(root.media_type)) {
    return Error::InvalidArgument(root.digest.ToString() + ": media type \"" + root.media_type +
                                  "\" is neither an image manifest nor an index");
  }
  if (depth >= kMaxIndexDepth) {
    return Error::InvalidArgument(root.digest.ToString() + ": indexes nested too deeply");
  }
  Index index = BERTH_TRY(ReadIndex(source, root));
  Descriptor chosen = BERTH_TRY_CONTEXT(SelectManifest(index, matcher), root.digest.ToString());
  return ResolveAt(source, chosen, matcher, depth + 1);
}

}  // namespace

VerifyingReader::VerifyingReader(std::unique_ptr<Reader> inner, digest::Digest expected,
                                 int64_t expected_size)
    : inner_(std::move(inner)), expected_(std::move(expected)), expected_size_(expected_size) {}

Result<size_t> VerifyingReader::Read(char* buf, size_t size) {
  size_t n = BERTH_TRY(inner_->Read(buf, size));
  if (n > 0) {
    hash_.Update(buf, n);
    bytes_ += n;
    if (expected_size_ >= 0 && bytes_ > static_cast<uint64_t>(expected_size_)) {
      return Error::DataLoss(expected_.ToString() + ": blob is larger than its size " +
                             std::to_string(expected_size_));
    }
    return n;
  }
  if (size == 0 || verified_) {
    return n;
  }
  if (expected_size_ >= 0 && bytes_ != static_cast<uint64_t>(expected_size_)) {
    return Error::DataLoss(expected_.ToString() + ": blob has " + std::to_string(bytes_) +
                           " bytes, want " + std::to_string(expected_size_));
  }
  if (expected_.algorithm() != "sha256") {
    return Error::Unimplemented(expected_.ToString() + ": cannot verify " + expected_.algorithm() +
                                " digests");
  }
  digest::Digest got = hash_.Finish();
  if (got != expected_) {
    return Error::DataLoss(expected_.ToString() + ": content has digest " + got.ToString());
  }
  verified_ = true;
  return n;
}

Result<std::string> ReadBlob(BlobSource& source, const Descriptor& desc, size_t limit) {
  if (desc.size < 0 || static_cast<uint64_t>(desc.size) > limit) {
    return Error(ErrorCode::kResourceExhausted,
                 desc.digest.ToString() + ": blob of " + std::to_string(desc.size) +
                     " bytes is larger than the limit of " + std::to_string(limit));
  }
  std::unique_ptr<Reader> raw = BERTH_TRY(source.Open(desc.digest));
  VerifyingReader reader(std::move(raw), desc.digest, desc.size);
  std::string data;
  data.resize(static_cast<size_t>(desc.size));
  size_t n = BERTH_TRY(ReadFull(reader, data.data(), data.size()));
  if (n != data.size()) {
    return Error::DataLoss(desc.digest.ToString() + ": blob has " + std::to_string(n) +
                           " bytes, want " + std::to_string(desc.size));
  }
  // One more read reaches the end, where the reader checks the digest (or finds extra bytes).
  char extra = 0;
  BERTH_TRY(reader.Read(&extra, 1));
  return data;
}

Result<Manifest> ReadManifest(BlobSource& source, const Descriptor& desc) {
  std::string data = BERTH_TRY(ReadBlob(source, desc));
  return BERTH_TRY_CONTEXT(ParseManifest(data), desc.digest.ToString());
}

Result<Index> ReadIndex(BlobSource& source, const Descriptor& desc) {
  std::string data = BERTH_TRY(ReadBlob(source, desc));
  return BERTH_TRY_CONTEXT(ParseIndex(data), desc.digest.ToString());
}

Result<ImageConfig> ReadImageConfig(BlobSource& source, const Descriptor& desc) {
  std::string data = BERTH_TRY(ReadBlob(source, desc));
  return BERTH_TRY_CONTEXT(ParseImageConfig(data), desc.digest.ToString());
}

Result<Descriptor> ResolveManifest(BlobSource& source, const Descriptor& root,
                                   const PlatformMatcher& matcher) {
  return ResolveAt(source, root, matcher, 0);
}

Descriptor MemoryBlobSource::Add(std::string_view media_type, std::string data) {
  Descriptor d = DescribeBlob(media_type, data);
  blobs_[d.digest] = std::move(data);
  return d;
}

Result<std::unique_ptr<Reader>> MemoryBlobSource::Open(const digest::Digest& digest) {
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) {
    return Error::NotFound("blob " + digest.ToString() + " not found");
  }
  return std::unique_ptr<Reader>(std::make_unique<ViewReader>(it->second));
}

std::string DirBlobSource::PathOf(const digest::Digest& digest) const {
  return root_ + "/" + digest.algorithm() + "/" + digest.hex();
}

Result<std::unique_ptr<Reader>> DirBlobSource::Open(const digest::Digest& digest) {
  if (digest.empty()) {
    return Error::InvalidArgument("empty digest");
  }
  std::string path = PathOf(digest);
  Result<UniqueFd> fd = os::Open(path, O_RDONLY);
  if (!fd.ok()) {
    if (fd.error().code() == ErrorCode::kNotFound) {
      return Error::NotFound("blob " + digest.ToString() + " not found in " + root_);
    }
    return std::move(fd).error();
  }
  return std::unique_ptr<Reader>(std::make_unique<FdReader>(std::move(fd).value()));
}

}  // namespace berth::oci
