#include "oci/media_types.h"

namespace berth::oci {

bool IsIndexMediaType(std::string_view media_type) {
  return media_type == kMediaTypeImageIndex || media_type == kMediaTypeDockerManifestList;
}

bool IsManifestMediaType(std::string_view media_type) {
  return media_type == kMediaTypeImageManifest || media_type == kMediaTypeDockerManifest;
}

bool IsConfigMediaType(std::string_view media_type) {
  return media_type == kMediaTypeImageConfig || media_type == kMediaTypeDockerConfig;
}

bool IsLayerMediaType(std::string_view media_type) {
  return LayerCompression(media_type) != Compression::kUnknown;
}

bool IsNonDistributableLayerMediaType(std::string_view media_type) {
  return media_type == kMediaTypeDockerForeignLayerGzip ||
         media_type == kMediaTypeImageLayerNonDistributable ||
         media_type == kMediaTypeImageLayerNonDistributableGzip ||
         media_type == kMediaTypeImageLayerNonDistributableZstd;
}

Compression LayerCompression(std::string_view media_type) {
  if (media_type == kMediaTypeImageLayer || media_type == kMediaTypeDockerLayer ||
      media_type == kMediaTypeImageLayerNonDistributable) {
    return Compression::kNone;
  }
  if (media_type == kMediaTypeImageLayerGzip || media_type == kMediaTypeDockerLayerGzip ||
      media_type == kMediaTypeDockerForeignLayerGzip ||
      media_type == kMediaTypeImageLayerNonDistributableGzip) {
    return Compression::kGzip;
  }
  if (media_type == kMediaTypeImageLayerZstd || media_type == kMediaTypeDockerLayerZstd ||
      media_type == kMediaTypeImageLayerNonDistributableZstd) {
    return Compression::kZstd;
  }
  return Compression::kUnknown;
}

}  // namespace berth::oci
