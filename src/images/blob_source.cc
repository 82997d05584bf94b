#include "images/blob_source.h"

namespace berth::images {

Result<std::unique_ptr<Reader>> ContentBlobSource::Open(const digest::Digest& digest) {
  std::unique_ptr<content::BlobReader> reader = BERTH_TRY(store_.OpenReader(ctx_, digest));
  return std::unique_ptr<Reader>(std::move(reader));
}

}  // namespace berth::images
