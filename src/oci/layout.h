// OCI image layouts: writing images out as a directory or a tar stream, and reading them back.
//
// A layout is an `oci-layout` file ({"imageLayoutVersion":"1.0.0"}), an `index.json` naming the
// images it holds, and every blob under `blobs/<algorithm>/<hex>`. The tar form is the same
// tree as one tar stream (what `skopeo copy ... oci-archive:` and `docker buildx --output
// type=oci` produce). Image names live in index.json annotations: the tag or other short name
// in org.opencontainers.image.ref.name, optionally the full reference in io.containerd.image.name
// (as BuildKit and Docker write it).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/io.h"
#include "base/result.h"
#include "oci/blob_source.h"
#include "oci/image.h"

namespace berth::oci {

inline constexpr std::string_view kLayoutFileName = "oci-layout";
inline constexpr std::string_view kLayoutIndexName = "index.json";
inline constexpr std::string_view kLayoutVersion = "1.0.0";

// One image recorded in a layout's index.json.
struct LayoutEntry {
  Descriptor descriptor;   // an image manifest or an index, as stored among the blobs
  std::string ref_name;    // org.opencontainers.image.ref.name, usually a tag ("v1"); "" for none
  std::string image_name;  // io.containerd.image.name, a full reference; "" for none
};

// Writes the images `entries` name, with every blob they reach (see CollectBlobs in walk.h:
// index children, config, layers), into the layout directory `dir`, creating it if needed.
// Blobs come from `blobs` and are verified while copied (DataLoss on a mismatch); blobs already
// in the directory are kept. An existing index.json is merged: its entries stay unless a new
// entry has the same ref_name. Blob files are renamed into place after fsync, index.json is
// replaced atomically last, so a reader never sees an index naming a missing blob.
// FailedPrecondition when `dir` holds a layout of another version.
Result<> WriteLayoutDir(const std::string& dir, BlobSource& blobs,
                        std::span<const LayoutEntry> entries);

// Streams the same layout as a tar archive to `out` (not closed): oci-layout and index.json
// first, then the blobs. On error the stream is incomplete and should be discarded.
Result<> WriteLayoutTar(Writer& out, BlobSource& blobs, std::span<const LayoutEntry> entries);

// A layout opened for reading; a BlobSource over its blobs whose readers verify each blob's
// digest at the end of the stream (DataLoss on a mismatch). Thread-safe after opening.
class LayoutReader : public BlobSource {
 public:
  // Opens the layout directory `dir`. NotFound without an oci-layout file; FailedPrecondition
  // for another layout version; InvalidArgument for a bad index.json.
  static Result<std::unique_ptr<LayoutReader>> OpenDir(const std::string& dir);
  // Opens the layout tar archive at `path` (plain or compressed with anything libarchive reads).
  // The archive is scanned once here; each Open() scans it again to the blob's entry.
  static Result<std::unique_ptr<LayoutReader>> OpenTar(const std::string& path);

  // The parsed index.json.
  const Index& index() const { return index_; }
  // index.json's entries with their names.
  std::vector<LayoutEntry> Entries() const;
  // The descriptor named `name`: an entry whose ref_name is `name`, else one whose image_name
  // is; with an empty `name`, the only entry of a single-image layout. NotFound (listing the
  // names there are) when none matches; InvalidArgument when `name` is ambiguous.
  Result<Descriptor> Resolve(std::string_view name) const;

 protected:
  explicit LayoutReader(Index index) : index_(std::move(index)) {}

 private:
  Index index_;
};

}  // namespace berth::oci
