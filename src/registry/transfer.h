// Whole-image transfers between registries and local content: Pull and Push.
//
// Pull resolves a reference, picks the platform's manifest from an index, and fetches the config
// and layers in parallel into a content store, each verified before it is committed. Push
// uploads every blob an image reaches once per registry (HEAD first, cross-repository mount when
// another repository of the registry has it), in parallel, then the manifests, then every tag;
// several registries are pushed at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "content/store.h"
#include "oci/blob_source.h"
#include "oci/image.h"
#include "oci/platform.h"
#include "reference/reference.h"
#include "registry/client.h"

namespace berth::registry {

struct PullResult {
  oci::Descriptor root;      // what the reference names: an index or a manifest
  oci::Descriptor manifest;  // the image manifest chosen for the platform (== root if no index)
  oci::Manifest image;       // that manifest, parsed
};

// Pulls `ref` into `store`: the root document, the chosen manifest, its config and layers.
// Blobs the store has are not fetched again. NotFound names the reference (or lists the
// platforms an index offers); DataLoss when a blob does not match its digest (nothing of it is
// stored). Uses up to ClientOptions::parallelism transfers at once.
Result<PullResult> Pull(const Context& ctx, Client& client, const reference::Reference& ref,
                        const oci::PlatformMatcher& matcher, content::Store& store,
                        const ProgressFn& progress = {});

// Pushes the image (manifest or index) `root`, with every blob it reaches from `source`, to each
// of `targets` (tag or digest references; several repositories and registries allowed).
// Child manifests are pushed by digest, `root` under each target's tag (or digest).
Result<> Push(const Context& ctx, Client& client, oci::BlobSource& source,
              const oci::Descriptor& root, const std::vector<reference::Reference>& targets,
              const ProgressFn& progress = {});

// A BlobSource over a content store (for pushing what a build or pull stored).
class StoreBlobSource final : public oci::BlobSource {
 public:
  StoreBlobSource(content::Store& store, Context ctx) : store_(store), ctx_(std::move(ctx)) {}
  Result<std::unique_ptr<Reader>> Open(const digest::Digest& digest) override;

 private:
  content::Store& store_;
  Context ctx_;
};

}  // namespace berth::registry
