#include "oci/walk.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "oci/media_types.h"
#include "oci/tar_writer.h"

namespace berth::oci {
namespace {

constexpr int kMaxDepth = 8;

Result<> Collect(BlobSource& source, const Descriptor& d, BlobSet& set, int depth) {
  if (set.seen.contains(d.digest)) {
    return {};
  }
  if (depth > kMaxDepth) {
    return Error::InvalidArgument(d.digest.ToString() + ": indexes nested too deeply");
  }
  if (IsIndexMediaType(d.media_type)) {
    std::string data = BERTH_TRY(ReadBlob(source, d));
    Index index = BERTH_TRY_CONTEXT(ParseIndex(data), d.digest.ToString());
    for (const Descriptor& child : index.manifests) {
      BERTH_TRY(Collect(source, child, set, depth + 1));
    }
    set.documents.emplace(d.digest, std::move(data));
  } else if (IsManifestMediaType(d.media_type)) {
    std::string data = BERTH_TRY(ReadBlob(source, d));
    Manifest manifest = BERTH_TRY_CONTEXT(ParseManifest(data), d.digest.ToString());
    BERTH_TRY(Collect(source, manifest.config, set, depth + 1));
    for (const Descriptor& layer : manifest.layers) {
      if (IsNonDistributableLayerMediaType(layer.media_type)) {
        Result<std::unique_ptr<Reader>> probe = source.Open(layer.digest);
        if (!probe.ok() && probe.error().code() == ErrorCode::kNotFound) {
          continue;
        }
      }
      BERTH_TRY(Collect(source, layer, set, depth + 1));
    }
    set.documents.emplace(d.digest, std::move(data));
  }
  set.seen.insert(d.digest);
  set.blobs.push_back(d);
  return {};
}

}  // namespace

Result<> CollectBlobs(BlobSource& source, const Descriptor& root, BlobSet& set) {
  return Collect(source, root, set, 0);
}

Result<std::unique_ptr<Reader>> OpenCollected(BlobSource& source, const BlobSet& set,
                                              const Descriptor& blob) {
  auto it = set.documents.find(blob.digest);
  if (it != set.documents.end()) {
    return std::unique_ptr<Reader>(std::make_unique<ViewReader>(it->second));
  }
  std::unique_ptr<Reader> raw = BERTH_TRY(source.Open(blob.digest));
  return std::unique_ptr<Reader>(
      std::make_unique<VerifyingReader>(std::move(raw), blob.digest, blob.size));
}

Result<> AddBlobsToTar(TarWriter& tar, BlobSource& source, const BlobSet& set) {
  BERTH_TRY(tar.AddDirectory("blobs/"));
  std::set<std::string> algorithms;
  for (const Descriptor& blob : set.blobs) {
    if (algorithms.insert(blob.digest.algorithm()).second) {
      BERTH_TRY(tar.AddDirectory("blobs/" + blob.digest.algorithm() + "/"));
    }
  }
  for (const Descriptor& blob : set.blobs) {
    std::unique_ptr<Reader> reader = BERTH_TRY(OpenCollected(source, set, blob));
    std::string path = "blobs/" + blob.digest.algorithm() + "/" + blob.digest.hex();
    BERTH_TRY_CONTEXT(tar.AddFile(path, static_cast<uint64_t>(blob.size), *reader),
                      "copying " + blob.digest.ToString());
  }
  return {};
}

}  // namespace berth::oci
