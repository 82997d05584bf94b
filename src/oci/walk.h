// Walking an image's blob graph (internal to berth::oci): the blobs an exporter must copy.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/io.h"
#include "base/result.h"
#include "digest/digest.h"
#include "oci/blob_source.h"
#include "oci/image.h"

namespace berth::oci {

// The blobs reachable from some roots, each once, children before parents (layers and config
// before their manifest, manifests before their index), so a reader that finds a document also
// finds what it names. The small documents read on the way are kept, verified, in `documents`.
struct BlobSet {
  std::vector<Descriptor> blobs;
  std::map<digest::Digest, std::string> documents;
  std::set<digest::Digest> seen;
};

// Adds `root` and everything it references to `set`: for an index its manifests (and nested
// indexes), for a manifest its config and layers. Non-distributable layers the source does not
// have are left out (as registries leave them out); any other missing blob is NotFound. Other
// media types are copied as opaque blobs.
Result<> CollectBlobs(BlobSource& source, const Descriptor& root, BlobSet& set);

// Opens one blob of `set` for copying: from `set.documents` when it was read during the walk,
// else from `source` through a VerifyingReader, so the copy fails (DataLoss) rather than
// carrying corrupt content. The reader may borrow `set`, which must outlive it.
Result<std::unique_ptr<Reader>> OpenCollected(BlobSource& source, const BlobSet& set,
                                              const Descriptor& blob);

class TarWriter;

// Adds every blob of `set` to `tar` as blobs/<algorithm>/<hex>, with the directories above them
// first, each blob opened through OpenCollected.
Result<> AddBlobsToTar(TarWriter& tar, BlobSource& source, const BlobSet& set);

}  // namespace berth::oci
