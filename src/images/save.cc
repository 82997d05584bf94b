#include "images/save.h"

#include <map>
#include <optional>
#include <vector>

#include "images/blob_source.h"
#include "oci/docker_archive.h"
#include "oci/layout.h"
#include "oci/platform.h"
#include "reference/reference.h"

namespace berth::images {

Result<SaveFormat> ParseSaveFormat(std::string_view text) {
  if (text == "oci") {
    return SaveFormat::kOci;
  }
  if (text == "docker") {
    return SaveFormat::kDocker;
  }
  return Error::InvalidArgument("unknown save format \"" + std::string(text) +
                                "\": want oci or docker");
}

Result<> Save(const Context& ctx, content::Store& content, Store& images,
              std::span<const std::string> names, SaveFormat format, Writer& out) {
  if (names.empty()) {
    return Error::InvalidArgument("no images to save");
  }
  std::vector<Image> found;
  for (const std::string& name : names) {
    Image image = BERTH_TRY(images.Get(ctx, name));
    bool duplicate = false;
    for (const Image& seen : found) {
      duplicate = duplicate || seen.name == image.name;
    }
    if (!duplicate) {
      found.push_back(std::move(image));
    }
  }
  return SaveImages(ctx, content, found, format, out);
}

Result<> SaveImages(const Context& ctx, content::Store& content, std::span<const Image> found,
                    SaveFormat format, Writer& out) {
  if (found.empty()) {
    return Error::InvalidArgument("no images to save");
  }
  std::vector<std::optional<reference::Reference>> refs;
  for (const Image& image : found) {
    if (image.name.empty()) {
      refs.emplace_back();
    } else {
      refs.emplace_back(BERTH_TRY(reference::ParseNormalized(image.name)));
    }
  }
  ContentBlobSource blobs(ctx, content);

  if (format == SaveFormat::kOci) {
    std::map<std::string, int> tag_count;
    for (const auto& ref : refs) {
      if (ref) {
        ++tag_count[ref->tag];
      }
    }
    std::vector<oci::LayoutEntry> entries;
    for (size_t i = 0; i < found.size(); ++i) {
      std::string ref_name;
      if (refs[i]) {
        ref_name = refs[i]->tag;
        if (ref_name.empty() || tag_count[ref_name] > 1) {
          ref_name = found[i].name;
        }
      }
      entries.push_back({.descriptor = found[i].target,
                         .ref_name = std::move(ref_name),
                         .image_name = found[i].name});
    }
    return oci::WriteLayoutTar(out, blobs, entries);
  }

  oci::PlatformMatcher matcher = oci::PlatformMatcher::Compatible(platform::HostPlatform());
  std::vector<oci::DockerArchiveImage> archive_images;
  std::map<digest::Digest, size_t> by_manifest;
  for (size_t i = 0; i < found.size(); ++i) {
    oci::Descriptor manifest = BERTH_TRY_CONTEXT(
        oci::ResolveManifest(blobs, found[i].target, matcher),
        "saving " + (found[i].name.empty() ? std::string("the image") : found[i].name));
    auto [it, inserted] = by_manifest.emplace(manifest.digest, archive_images.size());
    if (inserted) {
      archive_images.push_back({.manifest = manifest, .repo_tags = {}});
    }
    // A digest reference cannot be a docker tag; such an image is saved untagged.
    if (refs[i] && refs[i]->digest.empty()) {
      archive_images[it->second].repo_tags.push_back(refs[i]->Familiar());
    }
  }
  return oci::WriteDockerArchive(out, blobs, archive_images);
}

}  // namespace berth::images
