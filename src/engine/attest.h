// Build attestations: `--attest type=provenance|sbom`, `--provenance`, `--sbom`, bake's `attest`.
//
// An attested image is an OCI index holding the image manifest and, beside it, an attestation
// manifest (platform unknown/unknown; annotations vnd.docker.reference.type=attestation-manifest
// and vnd.docker.reference.digest=<the image manifest>) whose layers are in-toto statements
// (media type application/vnd.in-toto+json, annotation in-toto.io/predicate-type), the layout
// BuildKit uses, so that registries, `docker buildx imagetools inspect` and other tools read it.
//
//   provenance  SLSA provenance v0.2 (version=v1: v1) about the build: builder id, the
//               Dockerfile, build arguments, labels and target, the platform, materials (base
//               images with their digests, git sources with their commits, HTTP sources with their
//               checksums) and timestamps; mode=max adds the secret and ssh ids and the steps
//               with their Dockerfile lines and the Dockerfile itself. Secret values never.
//   sbom        an SPDX 2.3 document of the packages installed in the image (dpkg, apk, Python,
//               npm), found by sbom::ScanRootfs on a read-only view of the result.
//
// Attestations go with image outputs that can hold an index (the image store, registries, OCI
// archives and directories); a docker archive gets the image manifest alone, as with buildx.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "content/store.h"
#include "graph/graph.h"
#include "oci/image.h"

namespace berth::engine {

struct AttestOptions {
  bool provenance = false;
  bool provenance_max = false;              // mode=max
  std::string provenance_version = "v0.2";  // or "v1"
  std::string builder_id;                   // builder-id=
  bool sbom = false;

  bool any() const { return provenance || sbom; }
};

// --attest values in order; a later value of a type replaces an earlier one (disabled=true
// turns the type off). InvalidArgument names an unknown type or attribute.
Result<AttestOptions> ParseAttests(const std::vector<std::string>& specs);

// The --attest value the shorthands stand for: --provenance true|false|min|max|ATTRS and
// --sbom true|false|ATTRS.
Result<std::string> ProvenanceAttest(std::string_view value);
Result<std::string> SbomAttest(std::string_view value);

// A source the build read, for provenance materials.
struct Material {
  std::string uri;                            // pkg:docker/..., a git or http URL
  std::map<std::string, std::string> digest;  // algorithm -> hex
};

// A step of the build, for provenance in mode=max.
struct ProvenanceStep {
  std::string description;  // "[build 2/4] RUN make"
  std::string location;     // "Dockerfile:7"
};

// What the provenance says of one build.
struct BuildFacts {
  std::vector<std::string> subjects;  // image names (empty: "_")
  std::string dockerfile_name;
  std::string dockerfile_text;  // written in mode=max only
  std::map<std::string, std::string> build_args;
  std::map<std::string, std::string> labels;
  std::string target;
  std::vector<std::string> secret_ids;  // written in mode=max only
  std::vector<std::string> ssh_ids;     // written in mode=max only
  std::string platform;                 // "linux/amd64"
  std::vector<Material> materials;
  std::vector<ProvenanceStep> steps;  // written in mode=max only
  int64_t started = 0;                // Unix seconds
  int64_t finished = 0;
};

// The materials and steps of `target`'s closure in `graph`: base images (with the digests they
// resolved to), git sources (with `commits`, by vertex), HTTP sources (with their --checksum);
// steps are the ops with a Dockerfile line.
void DescribeGraph(const graph::Graph& graph, graph::Ref target,
                   const std::map<graph::VertexId, std::string>& commits, BuildFacts& facts);

// An in-toto statement about one image manifest.
struct Statement {
  std::string predicate_type;
  std::string json;
};

// The provenance statement of a build whose image manifest is `image`.
Statement ProvenanceStatement(const AttestOptions& options, const BuildFacts& facts,
                              const oci::Descriptor& image);

// The SBOM statement: `spdx_json` (an SPDX document) about `image`.
Statement SbomStatement(const std::vector<std::string>& subjects, const std::string& spdx_json,
                        const oci::Descriptor& image);

// Stores the attestation manifest holding `statements` and the index of `image` and it (under
// `lease`); returns the index's descriptor.
Result<oci::Descriptor> AttachAttestations(const Context& ctx, content::Store& content,
                                           const std::string& lease, const oci::Descriptor& image,
                                           const std::vector<Statement>& statements);

}  // namespace berth::engine
