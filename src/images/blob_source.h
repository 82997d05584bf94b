// ContentBlobSource: the content store seen as an oci::BlobSource, so the OCI layout and
// docker-archive writers (and the oci read helpers) read blobs straight from the store.
#pragma once

#include <memory>

#include "base/context.h"
#include "content/store.h"
#include "oci/blob_source.h"

namespace berth::images {

// Thread-safe as the content store is. Borrows `store`, which must outlive the source and the
// readers it returns. Readers are not verified here (the oci writers verify what they copy).
class ContentBlobSource final : public oci::BlobSource {
 public:
  ContentBlobSource(const Context& ctx, content::Store& store) : ctx_(ctx), store_(store) {}

  // NotFound when the store lacks `digest`.
  Result<std::unique_ptr<Reader>> Open(const digest::Digest& digest) override;

 private:
  Context ctx_;
  content::Store& store_;
};

}  // namespace berth::images
