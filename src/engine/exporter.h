// The image exporter: a build result (a chain of committed snapshots) -> an OCI image in the
// local image store. Each snapshot's layer is exported once (archive::ExportLayer of its overlay
// upper, gzip) and remembered in the cache index under LayerKey(snapshot), so a second export
// of the same snapshot reuses the blob without tar, compression or hashing; base image layers
// were recorded with their own blobs when they were unpacked.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cache/index.h"
#include "content/store.h"
#include "frontend/dockerfile/convert/convert.h"
#include "images/store.h"
#include "snapshot/overlay_snapshotter.h"

namespace berth::engine {

struct ExportEnv {
  snapshot::OverlaySnapshotter* snapshotter = nullptr;
  cache::Index* index = nullptr;
  content::Store* content = nullptr;
  images::Store* images = nullptr;
};

struct ExportedImage {
  oci::Descriptor manifest;
  oci::Descriptor config;
  std::vector<std::string> tags;  // normalised
};

// Exports snapshot `top` ("" = an empty image) with `config` (the frontend's image config,
// including the base image's history) and stores it under each of `tags`. `source_date_epoch`,
// when set, is the creation time and the latest mtime in new layers.
Result<ExportedImage> ExportImage(const Context& ctx, const ExportEnv& env, const std::string& top,
                                  const frontend::dockerfile::convert::ImageConfig& config,
                                  const std::vector<std::string>& tags,
                                  std::optional<int64_t> source_date_epoch);

}  // namespace berth::engine
