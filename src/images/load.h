// Loading images into the local store from elsewhere (an OCI layout a remote build sent back):
// every blob the image reaches is copied into the content store, verified, unless already there.
#pragma once

#include <string>

#include "base/context.h"
#include "base/result.h"
#include "content/store.h"
#include "oci/blob_source.h"
#include "oci/image.h"

namespace berth::images {

// Copies `root` (an image manifest or an index) and everything it references from `source` into
// `content`. Each blob is verified against its digest (DataLoss on a mismatch, nothing stored
// for it); blobs already present are not read. Returns the number of blobs copied.
Result<size_t> CopyImage(const Context& ctx, oci::BlobSource& source, const oci::Descriptor& root,
                         content::Store& content);

}  // namespace berth::images
