// `docker save` archives: the tar that `docker load` (and `skopeo ... docker-archive:`) reads.
//
// Written in the form Docker 25 and later produce, which is an OCI image layout at the same
// time, so both generations of tools read it:
//   manifest.json  [{"Config":"blobs/sha256/<config>","RepoTags":["app:v1"],
//                    "Layers":["blobs/sha256/<layer>",...]}]  (the classic docker load index)
//   repositories   {"app":{"v1":"<hex of the top layer blob>"}}  (for pre-1.10 loaders)
//   oci-layout, index.json (one entry per tag, with io.containerd.image.name and
//   org.opencontainers.image.ref.name annotations), blobs/sha256/...
// Layers are stored as they are in the source, compressed or not: docker load and skopeo
// decompress what they find and check the result against the config's diff_ids.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "base/io.h"
#include "base/result.h"
#include "oci/blob_source.h"
#include "oci/image.h"

namespace berth::oci {

struct DockerArchiveImage {
  // A single-platform image manifest (OCI or Docker schema 2); resolve indexes first, e.g.
  // with ResolveManifest.
  Descriptor manifest;
  // References to tag the image with when loaded: "app:v1", "localhost:5000/team/app:v1".
  // Normalised like Docker does ("app" is "docker.io/library/app:latest"); digest references
  // are not allowed. May be empty (docker load then loads the image untagged).
  std::vector<std::string> repo_tags;
};

// Streams a docker-save archive of `images` to `out` (not closed). Blobs come from `blobs`
// and are verified while copied (DataLoss on a mismatch). InvalidArgument for a bad tag or a
// descriptor that is not an image manifest; FailedPrecondition when a config's diff_ids do not
// match its manifest's layers (docker load would refuse the image).
Result<> WriteDockerArchive(Writer& out, BlobSource& blobs,
                            std::span<const DockerArchiveImage> images);

}  // namespace berth::oci
