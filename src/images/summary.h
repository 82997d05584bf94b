// What `berth image ls` shows of a stored image: repository, tag, platform, size and creation
// time, read from its manifest and config in the content store.
#pragma once

#include <cstdint>
#include <string>

#include "base/context.h"
#include "base/result.h"
#include "content/store.h"
#include "images/store.h"

namespace berth::images {

struct ImageSummary {
  Image image;
  std::string repository;  // the familiar name without tag or digest: "busybox", "ghcr.io/o/r"
  std::string tag;         // "" for a digest reference
  // The bytes the image occupies in the content store (target, manifest, config and compressed
  // layers of the host platform's manifest), not the unpacked size docker reports.
  int64_t size = 0;
  std::string created;   // the config's creation time (RFC 3339), "" if unknown
  std::string platform;  // "linux/amd64", "" if unknown
  // False when a blob the image needs is missing from the content store; size and created
  // then describe only what was found.
  bool complete = true;
};

// Never fails on missing or corrupt blobs (they show as complete = false); fails only on
// cancellation and for a malformed name.
Result<ImageSummary> Summarize(const Context& ctx, content::Store& content, const Image& image);

}  // namespace berth::images
