// The OCI distribution-spec v2 client: resolve, fetch and push manifests and blobs.
//
// One Client serves a whole process: it owns the HTTP transport (connections are reused across
// requests and threads), the registry configuration (mirrors, insecure hosts), the credentials
// (docker config.json), cached bearer tokens (per registry and scope, until they expire) and a
// memory of which repositories of a registry hold which blobs (so a push can mount instead of
// upload). Every method is thread-safe.
//
// Repositories are named by reference::Reference (domain + path; tag and digest are used where
// an operation takes a manifest). Pull-side calls try the domain's mirrors first, then the
// registry itself (see config.h); push-side calls go to the registry only.
//
// Errors, after retries (retry.h) of network failures, 5xx and 429:
//   NotFound          - 404 (manifest or blob unknown), naming the reference or digest;
//   Unauthenticated   - 401 without usable credentials, naming the registry;
//   PermissionDenied  - 403 (or a 401 despite credentials that the registry refused);
//   DataLoss          - content whose digest or size differs from what was asked for;
//   Unavailable       - the registry could not be reached or kept failing;
//   InvalidArgument   - other 4xx answers;
// with the registry's OCI error document ({"errors":[...]}) decoded into the message.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/io.h"
#include "base/result.h"
#include "content/store.h"
#include "digest/digest.h"
#include "oci/blob_source.h"
#include "oci/image.h"
#include "reference/reference.h"
#include "registry/auth.h"
#include "registry/config.h"
#include "registry/http.h"
#include "registry/progress.h"
#include "registry/retry.h"

namespace berth::registry {

struct ClientOptions {
  RegistryConfig config;
  DockerConfig credentials;
  RetryPolicy retry;
  HttpClient::Options http;
  // Blobs moved at once by Pull and Push (per call).
  size_t parallelism = 4;
  // 0 uploads each blob in one PUT; otherwise in PATCH chunks of this many bytes.
  uint64_t chunk_size = 0;
};

// Counters for tests, benchmarks and build insights.
struct ClientStats {
  uint64_t requests = 0;        // HTTP exchanges, including auth and retries
  uint64_t blobs_uploaded = 0;  // blobs whose bytes were sent
  uint64_t bytes_uploaded = 0;
  uint64_t blobs_mounted = 0;  // cross-repository mounts that succeeded
  uint64_t blobs_skipped = 0;  // already present on push
  uint64_t blobs_downloaded = 0;
  uint64_t bytes_downloaded = 0;
  uint64_t token_fetches = 0;
  uint64_t retries = 0;
};

// A manifest or index as fetched: its descriptor (digest of the exact bytes, media type from
// the registry) and the bytes.
struct FetchedManifest {
  oci::Descriptor descriptor;
  std::string bytes;
};

class Client {
 public:
  explicit Client(ClientOptions options);
  // Reads the config from `$BERTH_ROOT/config.toml` (berth_root may be "": no file) and the
  // credentials from docker's config.json.
  static Result<std::unique_ptr<Client>> FromEnvironment(const std::string& berth_root);
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;
  ~Client();

  // ---- Manifests

  // The descriptor `ref` (by tag, or by digest when it has one) points at: HEAD, falling back to
  // GET when the registry gives no digest. Accepts every OCI and Docker manifest/index type.
  Result<oci::Descriptor> Resolve(const Context& ctx, const reference::Reference& ref);
  // Fetches the manifest or index `ref` names; when `ref` has a digest the bytes are verified
  // against it (DataLoss otherwise).
  Result<FetchedManifest> FetchManifest(const Context& ctx, const reference::Reference& ref);
  // Fetches the manifest `desc` of repository `repo`, verifying digest and size.
  Result<std::string> FetchManifest(const Context& ctx, const reference::Reference& repo,
                                    const oci::Descriptor& desc);
  // Uploads a manifest or index under `tag_or_digest` with its media type.
  Result<> PushManifest(const Context& ctx, const reference::Reference& repo,
                        const std::string& tag_or_digest, const std::string& media_type,
                        const std::string& bytes);

  // ---- Blobs

  // Streams blob `desc` of `repo` into `out` (not closed), verifying size and digest as it
  // goes: on a mismatch returns DataLoss (the caller discards what `out` received). Network
  // failures mid-stream resume with a Range request.
  Result<> FetchBlob(const Context& ctx, const reference::Reference& repo,
                     const oci::Descriptor& desc, Writer& out, const ProgressFn& progress = {});
  // Fetches blob `desc` into `store` through an ingest named after its digest (so an
  // interrupted fetch resumes where it stopped); committed only when size and digest match
  // (DataLoss otherwise, and nothing is stored). Already-present blobs are not fetched.
  Result<> FetchBlobToStore(const Context& ctx, const reference::Reference& repo,
                            const oci::Descriptor& desc, content::Store& store,
                            const ProgressFn& progress = {});
  // Whether `repo` has blob `digest` (HEAD).
  Result<bool> BlobExists(const Context& ctx, const reference::Reference& repo,
                          const digest::Digest& digest);
  // Pushes blob `desc` to `repo` unless it is there: HEAD, then a cross-repository mount from a
  // repository of the same registry known to hold it (`mount_from`, or one this client saw it
  // in), then an upload from `source` (monolithic or chunked, see ClientOptions), restarted from
  // the beginning on retryable failures.
  Result<> PushBlob(const Context& ctx, const reference::Reference& repo,
                    const oci::Descriptor& desc, oci::BlobSource& source,
                    const std::string& mount_from = "", const ProgressFn& progress = {});

  // ---- Tags

  // Every tag of `repo`, following Link pagination; `page_size` > 0 asks for pages of that
  // size (n=).
  Result<std::vector<std::string>> ListTags(const Context& ctx, const reference::Reference& repo,
                                            int page_size = 0);

  // ---- Introspection

  ClientStats stats() const;
  const ClientOptions& options() const { return options_; }
  // Records that `repo` (domain + path) holds `digest`, for later mounts.
  void NoteBlobLocation(const reference::Reference& repo, const digest::Digest& digest);

  // Internal state (transport, tokens, counters), defined in client.cc.
  struct Impl;

 private:
  ClientOptions options_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::registry
