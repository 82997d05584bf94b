// Media types and well-known annotation keys of OCI images and Docker schema 2 images.
//
// A descriptor's media type says how to read the blob it points at; these constants are the
// ones berth reads and writes, with predicates that treat the OCI and Docker spellings of the
// same kind of document alike.
#pragma once

#include <string_view>

namespace berth::oci {

// ---- OCI image spec v1.1 ----
inline constexpr std::string_view kMediaTypeImageIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kMediaTypeImageManifest =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kMediaTypeImageConfig =
    "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kMediaTypeImageLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kMediaTypeImageLayerGzip =
    "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kMediaTypeImageLayerZstd =
    "application/vnd.oci.image.layer.v1.tar+zstd";
// Deprecated by the spec but still found in Windows images.
inline constexpr std::string_view kMediaTypeImageLayerNonDistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kMediaTypeImageLayerNonDistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kMediaTypeImageLayerNonDistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
// The `{}` blob that artifacts use as a placeholder config or layer.
inline constexpr std::string_view kMediaTypeEmptyJson = "application/vnd.oci.empty.v1+json";

// ---- Docker image manifest v2, schema 2 ----
inline constexpr std::string_view kMediaTypeDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kMediaTypeDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kMediaTypeDockerConfig =
    "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kMediaTypeDockerLayer =
    "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kMediaTypeDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kMediaTypeDockerLayerZstd =
    "application/vnd.docker.image.rootfs.diff.tar.zstd";
inline constexpr std::string_view kMediaTypeDockerForeignLayerGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// Schema 1 (signed, long deprecated): recognised only to give a clear error.
inline constexpr std::string_view kMediaTypeDockerSchema1SignedManifest =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";

// ---- Annotation keys ----
// The tag (or other name) of an image inside an OCI image layout's index.json.
inline constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
inline constexpr std::string_view kAnnotationCreated = "org.opencontainers.image.created";
// containerd's (and Docker's) full reference of an image, e.g. "docker.io/library/busybox:latest".
inline constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";

// An index or a Docker manifest list.
bool IsIndexMediaType(std::string_view media_type);
// An OCI image manifest or a Docker schema 2 manifest.
bool IsManifestMediaType(std::string_view media_type);
// An OCI or Docker image configuration.
bool IsConfigMediaType(std::string_view media_type);
// Any layer type above, compressed or not, distributable or not.
bool IsLayerMediaType(std::string_view media_type);
// A layer that registries may refuse to host (Docker foreign, OCI non-distributable); writers
// may leave its blob out when they do not have it.
bool IsNonDistributableLayerMediaType(std::string_view media_type);

enum class Compression { kNone, kGzip, kZstd, kUnknown };
// The compression of a layer media type (kUnknown when `media_type` is not a layer type).
Compression LayerCompression(std::string_view media_type);

}  // namespace berth::oci
