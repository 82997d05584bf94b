#include "images/summary.h"

#include "images/blob_source.h"
#include "oci/media_types.h"
#include "oci/platform.h"
#include "platform/platform.h"
#include "reference/reference.h"

namespace berth::images {

Result<ImageSummary> Summarize(const Context& ctx, content::Store& content, const Image& image) {
  BERTH_TRY(ctx.Check());
  ImageSummary s;
  s.image = image;
  reference::Reference ref = BERTH_TRY(reference::ParseNormalized(image.name));
  s.tag = ref.tag;
  reference::Reference bare = ref;
  bare.tag.clear();
  bare.digest.clear();
  s.repository = bare.Familiar();

  ContentBlobSource blobs(ctx, content);
  s.size = image.target.size;
  oci::Descriptor manifest_desc = image.target;
  if (oci::IsIndexMediaType(image.target.media_type)) {
    Result<oci::Descriptor> resolved = oci::ResolveManifest(
        blobs, image.target, oci::PlatformMatcher::Compatible(platform::HostPlatform()));
    if (!resolved.ok()) {
      s.complete = false;
      return s;
    }
    manifest_desc = *resolved;
    s.size += manifest_desc.size;
  }
  Result<oci::Manifest> manifest = oci::ReadManifest(blobs, manifest_desc);
  if (!manifest.ok()) {
    s.complete = false;
    return s;
  }
  s.size += manifest->config.size;
  for (const oci::Descriptor& layer : manifest->layers) {
    s.size += layer.size;
    Result<bool> present = content.Exists(ctx, layer.digest);
    s.complete = s.complete && present.ok() && *present;
  }
  Result<oci::ImageConfig> config = oci::ReadImageConfig(blobs, manifest->config);
  if (!config.ok()) {
    s.complete = false;
    return s;
  }
  s.created = config->created;
  s.platform = config->platform().ToString();
  return s;
}

}  // namespace berth::images
