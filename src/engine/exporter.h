// The exporters: a build result (a chain of committed snapshots) -> an OCI image in the content
// store (which the engine then names, pushes or saves), or the plain file system (a directory or
// a tar). Each snapshot's layer is exported once (archive::ExportLayer of its overlay
// upper, gzip) and remembered in the cache index under LayerKey(snapshot), so a second export
// of the same snapshot reuses the blob without tar, compression or hashing; base image layers
// were recorded with their own blobs when they were unpacked.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/io.h"
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
};

struct ExportedImage {
  oci::Descriptor manifest;  // with its platform set
  oci::Descriptor config;
};

// The committed snapshots from the bottom of `top`'s chain up to `top` itself ("" = none).
Result<std::vector<std::string>> SnapshotChain(const Context& ctx,
                                               snapshot::OverlaySnapshotter& snapshotter,
                                               const std::string& top);

// The layer of snapshot `name`: the recorded one when its blob is still stored, else a fresh
// export of the snapshot's upper directory (gzip; then recorded). The blob is added to `lease`.
Result<cache::Layer> SnapshotLayer(const Context& ctx, const ExportEnv& env,
                                   const std::string& name, const std::string& lease,
                                   std::optional<int64_t> source_date_epoch);

// Stores `data` as a blob of `media_type` under `lease` and describes it.
Result<oci::Descriptor> StoreDocument(const Context& ctx, content::Store& content,
                                      std::string_view media_type, const std::string& data,
                                      const std::string& lease);

// Exports snapshot `top` ("" = an empty image) with `config` (the frontend's image config,
// including the base image's history) into the content store, under a lease that keeps it for a
// day (the caller names it in the image store to keep it longer). `annotations` go into the
// manifest. `source_date_epoch`, when set, is the creation time and the latest mtime in new
// layers.
Result<ExportedImage> ExportImage(const Context& ctx, const ExportEnv& env, const std::string& top,
                                  const frontend::dockerfile::convert::ImageConfig& config,
                                  const std::map<std::string, std::string>& annotations,
                                  std::optional<int64_t> source_date_epoch);

// Mounts a read-only view of `top` on a fresh directory under `tmp_dir` and calls fn(dir);
// "" (scratch) gives an empty directory.
Result<> WithView(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                  const std::string& tmp_dir, const std::string& top,
                  const std::function<Result<>(const std::string&)>& fn);

// Copies the file system of snapshot `top` ("" = empty) into directory `dest` (created if
// needed; existing files are overwritten), owners, modes, links and xattrs kept.
Result<> ExportFiles(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                     const std::string& tmp_dir, const std::string& top, const std::string& dest);

// Streams the file system of snapshot `top` as one uncompressed tar to `out` (not closed).
Result<> ExportTar(const Context& ctx, snapshot::OverlaySnapshotter& snapshotter,
                   const std::string& tmp_dir, const std::string& top,
                   std::optional<int64_t> source_date_epoch, Writer& out);

}  // namespace berth::engine
