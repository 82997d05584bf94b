// The engine's ImageResolver: `FROM name` against the local image store first, then a registry
// pull (through the mirrors of $BERTH_ROOT/config.toml), as `docker build` does.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "base/context.h"
#include "base/result.h"
#include "content/store.h"
#include "frontend/dockerfile/convert/convert.h"
#include "images/store.h"
#include "oci/image.h"

namespace berth::engine {

// A base image as the engine uses it: its manifest and config, read from the content store.
struct LoadedImage {
  std::string name;  // normalised reference
  oci::Descriptor manifest_desc;
  oci::Manifest manifest;
  oci::ImageConfig config;
};

// oci config -> the frontend's view of it.
frontend::dockerfile::convert::ImageConfig ToConvertConfig(const oci::ImageConfig& config);

// Reads the manifest `digest` (or, when it is an index, the manifest for `platform`) and its
// config from `store`.
Result<LoadedImage> LoadImage(const Context& ctx, content::Store& store, const std::string& name,
                              const oci::Descriptor& root, const platform::Platform& platform);

// The name under which a build of berthd project `project` keeps image `normalized` in the
// builder's shared image store: its own namespace, so that no other project's FROM sees it
// ("projects.berth.invalid/<project>/<sha256 of normalized>:latest"); `normalized` itself for the
// embedded default (project "").
std::string ProjectImageName(const std::string& project, const std::string& normalized);

class StoreResolver final : public frontend::dockerfile::convert::ImageResolver {
 public:
  // Borrows the stores; `berth_root` locates config.toml for registry mirrors. With `pull`
  // (--pull), a name is always resolved at its registry (blobs already stored are not fetched
  // again), as `docker build --pull` does; a name pinned by digest needs no registry. A build
  // of berthd project `project` finds the project's own images (ProjectImageName) before the
  // shared ones (bases the operator imported, images pulled from registries).
  StoreResolver(Context ctx, content::Store& content, images::Store& images, std::string berth_root,
                bool pull = false, std::string project = "")
      : ctx_(std::move(ctx)),
        content_(content),
        images_(images),
        root_(std::move(berth_root)),
        pull_(pull),
        project_(std::move(project)) {}

  Result<Resolved> Resolve(const std::string& reference,
                           const graph::Platform& platform) const override;

  // The image behind `reference` (a name, or name@digest), pulling it when the store lacks it.
  Result<LoadedImage> Load(const std::string& reference, const graph::Platform& platform) const;

 private:
  Context ctx_;
  content::Store& content_;
  images::Store& images_;
  std::string root_;
  bool pull_ = false;
  std::string project_;
  mutable std::mutex mu_;
  mutable std::map<std::string, LoadedImage> loaded_;  // by reference + platform
};

}  // namespace berth::engine
