// Parsers for what registry clients send berthd's registry: request paths, repository names,
// tags, byte ranges (Range and Content-Range headers) and token scopes. Every input is untrusted;
// each function returns an error value (or nullopt) for anything malformed and never throws.
// Fuzzed by tests/fuzz/registryserver_fuzz.cc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::registryserver {

// The longest repository name the registry takes (as the distribution server).
inline constexpr size_t kMaxNameBytes = 255;

// Whether `name` is a repository name of the distribution spec: path components of
// [a-z0-9]+ joined by '.', '_', "__" or runs of '-', separated by '/', at most kMaxNameBytes.
bool IsValidName(std::string_view name);
// Whether `tag` is [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
bool IsValidTag(std::string_view tag);

// What a path under /v2/ addresses.
struct RegistryPath {
  enum class Kind {
    kBase,       // /v2/
    kTags,       // /v2/<name>/tags/list
    kManifest,   // /v2/<name>/manifests/<reference>
    kBlob,       // /v2/<name>/blobs/<digest>
    kUploads,    // /v2/<name>/blobs/uploads/
    kUpload,     // /v2/<name>/blobs/uploads/<id>
    kReferrers,  // /v2/<name>/referrers/<digest>
    kToken,      // /v2/token
    kCatalog,    // /v2/_catalog
  };
  Kind kind = Kind::kBase;
  std::string name;       // The repository (not validated here).
  std::string reference;  // Tag, digest or upload id (not validated here).
};

// Splits a request path (decoded, starting with "/v2/"). The repository name is everything
// between "/v2/" and the last route keyword, so a name may itself hold "blobs" or "manifests"
// as a component. nullopt when the path is none of the above.
std::optional<RegistryPath> ParseRegistryPath(std::string_view path);

// An inclusive byte range [first, last].
struct ByteRange {
  uint64_t first = 0;
  uint64_t last = 0;
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// A Range request header ("bytes=a-b", "bytes=a-", "bytes=-n") against a body of `size` bytes.
// Returns the range clipped to the body, or:
//   InvalidArgument for a header that does not parse or holds several ranges;
//   OutOfRange for a well-formed range that the body cannot satisfy (416).
Result<ByteRange> ParseRangeHeader(std::string_view header, uint64_t size);

// A Content-Range header of a chunked upload: "a-b" (as the distribution spec writes it) or
// "bytes a-b/*" / "bytes a-b/total" (RFC 9110). InvalidArgument when malformed or b < a.
Result<ByteRange> ParseContentRange(std::string_view header);

// One scope of the Docker token flow: "repository:<name>:pull,push". Actions are deduplicated,
// in the order given; unknown actions are kept (the issuer grants only those it knows).
struct Scope {
  std::string type;  // "repository"
  std::string name;
  std::vector<std::string> actions;
};
// Parses the `scope` parameter of a token request: one or more scopes separated by spaces.
// The name may hold ':' (a registry host with a port), so the actions are after the last ':'.
// InvalidArgument when a scope is malformed.
Result<std::vector<Scope>> ParseScopes(std::string_view text);

// The media types of the manifests the registry stores.
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
bool IsManifestType(std::string_view type);
inline bool IsIndexType(std::string_view type) {
  return type == kOciIndex || type == kDockerList;
}

// The media types an Accept header names (parameters and q-values dropped, lower-cased, in the
// order given, several headers' values joined with commas). Empty when the client takes
// anything: no header, or a wildcard ("*/*", "application/*").
std::vector<std::string> AcceptedMediaTypes(std::string_view accept);

// A descriptor a manifest holds.
struct ManifestDescriptor {
  std::string media_type;
  std::string digest;  // Parses as a digest.
  int64_t size = 0;
  bool external = false;  // Has "urls": a foreign layer the registry need not hold.
};

// What the registry records of a manifest (image manifest, index or artifact).
struct ParsedManifest {
  std::string media_type;     // The manifest's mediaType, else `content_type`.
  std::string artifact_type;  // artifactType, else the config's media type.
  std::string subject;        // The subject's digest; "" if none.
  std::string annotations_json = "{}";
  std::vector<ManifestDescriptor> blobs;     // config and layers (image manifests)
  std::vector<ManifestDescriptor> children;  // manifests (indexes)
};

// Parses a manifest body as the registry takes it at PUT (and when it saves a build).
// `content_type` is the request's Content-Type without parameters ("" if none): OCI allows
// leaving mediaType out, and when both are there they must agree. InvalidArgument, with the
// reason, for anything the registry refuses (MANIFEST_INVALID).
Result<ParsedManifest> ParseManifest(std::string_view body, std::string_view content_type);

}  // namespace berth::registryserver
