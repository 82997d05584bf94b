#include "images/load.h"

#include "oci/walk.h"

namespace berth::images {

Result<size_t> CopyImage(const Context& ctx, oci::BlobSource& source, const oci::Descriptor& root,
                         content::Store& content) {
  oci::BlobSet set;
  BERTH_TRY_CONTEXT(oci::CollectBlobs(source, root, set),
                    "collecting the blobs of " + root.digest.ToString());
  size_t copied = 0;
  // Children come before their parents: a manifest enters the store after what it names.
  for (const oci::Descriptor& d : set.blobs) {
    BERTH_TRY(ctx.Check());
    if (BERTH_TRY(content.Exists(ctx, d.digest))) {
      continue;
    }
    std::unique_ptr<Reader> reader = BERTH_TRY(oci::OpenCollected(source, set, d));
    BERTH_TRY_CONTEXT(content::WriteBlob(ctx, content, *reader,
                                         {.ref = "load-" + d.digest.hex(),
                                          .expected = d.digest,
                                          .expected_size = static_cast<uint64_t>(d.size),
                                          .lease = ""}),
                      "copying " + d.digest.ToString());
    ++copied;
  }
  return copied;
}

}  // namespace berth::images
