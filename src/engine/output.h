// Build outputs: buildx's `--output` syntax and what each exporter writes.
//
//   type=image[,name=N[,N2]][,push=true]  the local image store under each name (and -t), and
//                                         with push=true every name pushed to its registry
//   type=registry[,name=N]                the same as type=image,push=true (`--push`)
//   type=oci,dest=FILE|-[,tar=false]      an OCI image layout: a tar, or a directory (tar=false)
//   type=docker[,dest=FILE|-]             a `docker load` archive; without dest, the local store
//                                         (as `--load` does for docker)
//   type=local,dest=DIR                   the final file system, copied into DIR
//   type=tar,dest=FILE|-                  the final file system as one tar
// Shorthands: `--output DIR` is type=local,dest=DIR and `--output -` is type=tar,dest=-.
// Attributes berth does not act on yet but buildx users pass (oci-mediatypes, unpack, store,
// compression-level, force-compression, name-canonical, push-by-digest, dangling-name-prefix,
// platform-split) are accepted and ignored; compression= must be gzip for now; any other key is
// an error naming it.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::engine {

enum class OutputType { kImage, kOci, kDocker, kLocal, kTar };

struct Output {
  OutputType type = OutputType::kImage;
  std::vector<std::string> names;  // image names (type=image/registry/oci/docker)
  bool push = false;               // type=image: push every name
  std::string dest;                // file, directory, or "-" for stdout; "" = none given
  bool tar = true;                 // type=oci: false writes a layout directory
  // annotation.KEY=VALUE / annotation-manifest.KEY=VALUE: added to the image manifest.
  std::map<std::string, std::string> annotations;
};

// Parses one --output value (CSV: `type=local,dest=out`; a field may be quoted, as in
// `"name=a,b"`). InvalidArgument names the offending field.
Result<Output> ParseOutput(std::string_view spec);

// Splits one CSV record the way Go's encoding/csv does for buildx flags: commas separate fields,
// a field starting with `"` runs to the matching `"` (with `""` an escaped quote).
Result<std::vector<std::string>> SplitCsv(std::string_view text);

// A CSV flag value (`type=registry,ref=x`, see SplitCsv) as fields by lower-case key (the last of
// a repeated key wins). InvalidArgument, starting with `what` (the flag and value), for a field
// that is not KEY=VALUE.
Result<std::map<std::string, std::string>> ParseCsvFields(const std::string& what,
                                                          std::string_view spec);

// A boolean attribute of a CSV flag value: true, 1 or empty; false or 0. InvalidArgument
// names `flag` and the field otherwise.
Result<bool> ParseBoolField(std::string_view flag, std::string_view field, std::string_view value);

// The name of a type, as in --output ("image", "oci", ...).
std::string_view OutputTypeName(OutputType type);

}  // namespace berth::engine
