#include "oci/docker_archive.h"

#include <map>
#include <memory>
#include <utility>

#include <nlohmann/json.hpp>

#include "oci/layout.h"
#include "oci/media_types.h"
#include "oci/tar_writer.h"
#include "oci/walk.h"
#include "reference/reference.h"

namespace berth::oci {
namespace {

// Docker writes manifest.json from a Go struct, in field order; ordered_json keeps that order.
using ordered_json = nlohmann::ordered_json;
using json = nlohmann::json;

std::string BlobPath(const digest::Digest& d) {
  return "blobs/" + d.algorithm() + "/" + d.hex();
}

struct Tag {
  std::string full;      // "docker.io/library/app:v1"
  std::string familiar;  // "app:v1"
  std::string name;      // "app"
  std::string tag;       // "v1"
};

Result<Tag> ParseTag(const std::string& text) {
  reference::Reference ref = BERTH_TRY(reference::ParseNormalized(text));
  if (ref.tag.empty()) {
    return Error::InvalidArgument("repo tag \"" + text + "\" has no tag: digest references " +
                                  "cannot tag a loaded image");
  }
  ref.digest.clear();
  Tag t;
  t.full = ref.String();
  t.familiar = ref.Familiar();
  t.tag = ref.tag;
  ref.tag.clear();
  t.name = ref.Familiar();
  return t;
}

}  // namespace

Result<> WriteDockerArchive(Writer& out, BlobSource& blobs,
                            std::span<const DockerArchiveImage> images) {
  BlobSet set;
  ordered_json manifest_json = ordered_json::array();
  std::map<std::string, std::map<std::string, std::string>> repositories;
  Index index;
  index.media_type = std::string(kMediaTypeImageIndex);

  for (const DockerArchiveImage& image : images) {
    const Descriptor& desc = image.manifest;
    std::string what = "image " + desc.digest.ToString();
    if (!IsManifestMediaType(desc.media_type)) {
      return Error::InvalidArgument(what + ": media type \"" + desc.media_type +
                                    "\" is not a single-platform image manifest");
    }
    Manifest manifest = BERTH_TRY_CONTEXT(ReadManifest(blobs, desc), what);
    ImageConfig config = BERTH_TRY_CONTEXT(ReadImageConfig(blobs, manifest.config), what);
    if (config.rootfs.diff_ids.size() != manifest.layers.size()) {
      return Error::FailedPrecondition(
          what + ": the config lists " + std::to_string(config.rootfs.diff_ids.size()) +
          " diff_ids for " + std::to_string(manifest.layers.size()) + " layers");
    }
    BERTH_TRY_CONTEXT(CollectBlobs(blobs, desc, set), what);
    for (const Descriptor& layer : manifest.layers) {
      if (!set.seen.contains(layer.digest)) {
        return Error::NotFound(what + ": layer " + layer.digest.ToString() +
                               " is not available (a docker archive needs every layer)");
      }
    }

    std::vector<Tag> tags;
    for (const std::string& text : image.repo_tags) {
      tags.push_back(BERTH_TRY_CONTEXT(ParseTag(text), what));
    }

    ordered_json item = ordered_json::object();
    item["Config"] = BlobPath(manifest.config.digest);
    if (tags.empty()) {
      item["RepoTags"] = nullptr;
    } else {
      ordered_json repo_tags = ordered_json::array();
      for (const Tag& t : tags) {
        repo_tags.push_back(t.familiar);
      }
      item["RepoTags"] = std::move(repo_tags);
    }
    ordered_json layers = ordered_json::array();
    for (const Descriptor& layer : manifest.layers) {
      layers.push_back(BlobPath(layer.digest));
    }
    item["Layers"] = std::move(layers);
    manifest_json.push_back(std::move(item));

    Descriptor entry = desc;
    if (!entry.platform.has_value()) {
      Platform p;
      p.os = config.os;
      p.architecture = config.architecture;
      p.variant = config.variant;
      p.os_version = config.os_version;
      entry.platform = std::move(p);
    }
    if (tags.empty()) {
      index.manifests.push_back(entry);
    }
    for (const Tag& t : tags) {
      if (!manifest.layers.empty()) {
        repositories[t.name][t.tag] = manifest.layers.back().digest.hex();
      }
      Descriptor tagged = entry;
      tagged.annotations[std::string(kAnnotationImageName)] = t.full;
      tagged.annotations[std::string(kAnnotationRefName)] = t.tag;
      index.manifests.push_back(std::move(tagged));
    }
  }

  std::unique_ptr<TarWriter> tar = BERTH_TRY(TarWriter::Create(out));
  // Go's json.Encoder ends each document with a newline; match it.
  BERTH_TRY(tar->AddFile(
      "manifest.json",
      manifest_json.dump(-1, ' ', false, ordered_json::error_handler_t::replace) + "\n"));
  if (!repositories.empty()) {
    json repos = repositories;
    BERTH_TRY(tar->AddFile("repositories",
                           repos.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"));
  }
  BERTH_TRY(tar->AddFile(kLayoutFileName,
                         R"({"imageLayoutVersion":")" + std::string(kLayoutVersion) + "\"}"));
  BERTH_TRY(tar->AddFile(kLayoutIndexName, Serialize(index)));
  BERTH_TRY(AddBlobsToTar(*tar, blobs, set));
  return tar->Close();
}

}  // namespace berth::oci
