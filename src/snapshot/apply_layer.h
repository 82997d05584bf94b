// Unpacking image layers into snapshots: how a pulled image becomes a chain of committed
// snapshots that RUN steps stack on.
#pragma once

#include <string>

#include "archive/apply.h"
#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "snapshot/snapshotter.h"

namespace berth::snapshot {

// Applies the layer tar read from `layer` (uncompressed, gzip or zstd) over committed snapshot
// `parent` ("" for the first layer) and commits the result as `name`; returns `name`.
//
// The layer is applied onto the mounted merged view (parent chain + a fresh upper), not onto
// the upper directory itself: archive::ApplyLayer turns an OCI whiteout into a deletion, which
// is right only on a full tree, and on the merged view the kernel records that deletion as an
// overlay whiteout in the upper. Parents resolve through symlinks inside the root
// (follow_symlinks_in_root, docs/decisions/0003), as containerd does for image layers.
//
// If `name` already exists (another build unpacked the same chain first) the work is discarded
// and `name` is returned: AlreadyExists from Commit is success. On any error the temporary
// active snapshot is removed. The mount point is a temporary directory under $TMPDIR.
//
// With `expect_diff_id` set, the uncompressed stream must hash to it: otherwise DataLoss and
// nothing is committed. Snapshots named by chain ids are shared by every build and project on
// the machine, so a layer that lies about its diff ID must not take the name of another's.
Result<std::string> ApplyLayerSnapshot(const Context& ctx, Snapshotter& snapshotter,
                                       const std::string& parent, const std::string& name,
                                       Reader& layer, archive::ApplyStats* stats = nullptr,
                                       const digest::Digest* expect_diff_id = nullptr);

}  // namespace berth::snapshot
