// Saving stored images to a file (`berth image save`, like `docker save`): as an OCI image
// layout tar (what `skopeo ... oci-archive:` and umoci read) or as a docker-save archive (what
// `docker load` reads; berth writes Docker 25's form, which is an OCI layout as well).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "content/store.h"
#include "images/store.h"

namespace berth::images {

enum class SaveFormat { kOci, kDocker };

// "oci" or "docker"; InvalidArgument otherwise.
Result<SaveFormat> ParseSaveFormat(std::string_view text);

// Streams the images `names` (normalised as the store does) to `out`, which is not closed.
//
// OCI: one index.json entry per name, the target as stored (an index stays an index), with
// org.opencontainers.image.ref.name set to the tag (the full name when two of the saved names
// share a tag) and io.containerd.image.name to the full name.
// Docker: one image per distinct manifest, tagged with every name that points at it; an index is
// resolved to the host platform's manifest first (a docker archive holds single-platform images).
//
// Errors: NotFound for a name not stored or a blob the content store lacks; InvalidArgument for
// no names; DataLoss for a corrupt blob; the writers' errors pass through. On error `out` holds
// an incomplete archive.
Result<> Save(const Context& ctx, content::Store& content, Store& images,
              std::span<const std::string> names, SaveFormat format, Writer& out);

// The same for images that need not be in the store (a build's result): each Image's name is a
// normalised reference, or "" for an image saved without a name.
Result<> SaveImages(const Context& ctx, content::Store& content, std::span<const Image> images,
                    SaveFormat format, Writer& out);

}  // namespace berth::images
