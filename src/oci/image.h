// OCI image documents as plain values, with JSON codecs: descriptors, image manifests, image
// indexes (and their Docker schema 2 twins, which share the shape), and image configurations.
//
// Parsing validates what a consumer relies on: schemaVersion 2, well-formed digests,
// non-negative sizes, required fields present and of the right JSON type. Unknown fields are
// ignored (the spec requires it), JSON null counts as absent (Docker writes "Cmd": null), and
// field names match exactly (unlike Go's case-insensitive decoder, which lets two spellings of
// one field disagree). Errors are InvalidArgument and name the field by its path, e.g.
// `manifest.layers[1].digest: invalid digest "sha256:xyz"`.
//
// Serialisation is canonical: compact JSON, object keys in byte order, empty optional fields
// left out, so the same value always gives the same bytes and hence the same digest. Parsing
// and serialising a document berth did not write may change its bytes (key order, spacing,
// unknown fields): keep the original bytes of foreign documents, never re-serialise them.
// Strings that are not valid UTF-8 are written with U+FFFD in place of the bad bytes, as Go's
// encoder does; parsed documents are always valid UTF-8.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "digest/digest.h"
#include "platform/platform.h"

namespace berth::oci {

// The platform of a descriptor: platform::Platform (os, architecture, variant, the one platform
// type berth has) plus the two fields only OCI documents carry. Passes as a platform::Platform
// wherever one is expected.
struct Platform : platform::Platform {
  std::string os_version;                // "os.version", e.g. "10.0.17763.5329" on Windows
  std::vector<std::string> os_features;  // "os.features", e.g. {"win32k"}

  friend bool operator==(const Platform&, const Platform&) = default;
};

struct Descriptor {
  std::string media_type;  // required
  digest::Digest digest;   // required
  int64_t size = 0;        // required, >= 0
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;
  std::string artifact_type;

  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

// An image manifest (OCI, or Docker schema 2 when media_type says so).
struct Manifest {
  int schema_version = 2;
  std::string media_type;  // kMediaTypeImageManifest, kMediaTypeDockerManifest, or "" (OCI)
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  friend bool operator==(const Manifest&, const Manifest&) = default;
};

// An image index (OCI, or a Docker manifest list when media_type says so).
struct Index {
  int schema_version = 2;
  std::string media_type;  // kMediaTypeImageIndex, kMediaTypeDockerManifestList, or "" (OCI)
  std::string artifact_type;
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;

  friend bool operator==(const Index&, const Index&) = default;
};

// Docker's HEALTHCHECK settings; durations in nanoseconds, as Go's time.Duration.
struct HealthConfig {
  std::vector<std::string> test;  // {"CMD-SHELL", "curl -f http://localhost/"}, {"NONE"}
  int64_t interval = 0;
  int64_t timeout = 0;
  int64_t start_period = 0;
  int64_t start_interval = 0;
  int64_t retries = 0;

  friend bool operator==(const HealthConfig&, const HealthConfig&) = default;
};

// The execution parameters of an image ("config" inside the image configuration).
struct ContainerConfig {
  std::string user;
  std::set<std::string> exposed_ports;  // "80/tcp", "53/udp"
  std::vector<std::string> env;         // "KEY=value"
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::set<std::string> volumes;
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<HealthConfig> healthcheck;
  std::vector<std::string> shell;
  std::vector<std::string> on_build;
  bool args_escaped = false;

  friend bool operator==(const ContainerConfig&, const ContainerConfig&) = default;
};

struct RootFs {
  std::string type = "layers";  // the only value the spec allows
  std::vector<digest::Digest> diff_ids;

  friend bool operator==(const RootFs&, const RootFs&) = default;
};

struct History {
  std::string created;  // RFC 3339, or ""
  std::string created_by;
  std::string author;
  std::string comment;
  bool empty_layer = false;

  friend bool operator==(const History&, const History&) = default;
};

// The image configuration (OCI config or Docker container image v1 JSON).
struct ImageConfig {
  std::string created;  // RFC 3339, e.g. "2024-01-02T03:04:05Z", or ""
  std::string author;
  std::string architecture;  // required
  std::string os;            // required
  std::string os_version;
  std::vector<std::string> os_features;
  std::string variant;
  ContainerConfig config;
  RootFs rootfs;  // required
  std::vector<History> history;

  // os/architecture/variant as a platform.
  Platform platform() const;

  friend bool operator==(const ImageConfig&, const ImageConfig&) = default;
};

// Parsers: InvalidArgument naming the field on any violation (see the file comment).
Result<Descriptor> ParseDescriptor(std::string_view json);
Result<Manifest> ParseManifest(std::string_view json);
Result<Index> ParseIndex(std::string_view json);
Result<ImageConfig> ParseImageConfig(std::string_view json);

// Canonical serialisers (see the file comment). Never fail.
std::string Serialize(const Descriptor& descriptor);
std::string Serialize(const Manifest& manifest);
std::string Serialize(const Index& index);
std::string Serialize(const ImageConfig& config);

// A descriptor for `data` stored as a blob of `media_type`: its SHA-256 digest and size.
Descriptor DescribeBlob(std::string_view media_type, std::string_view data);

// Checks that `text` is an RFC 3339 date-time, "2006-01-02T15:04:05.999999999Z07:00".
bool IsRfc3339(std::string_view text);

}  // namespace berth::oci
