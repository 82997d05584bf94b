// registryserver: berthd's OCI registry (the distribution spec, served under /v2/ beside the
// JSON API; DESIGN.md "Registry"; docs/decisions/0006-registry-server.md).
//
// What it serves:
//   GET  /v2/                                  API version check (any valid credential)
//   GET  /v2/token?service=&scope=             the Docker token flow: a short-lived bearer token
//   GET|HEAD /v2/<name>/blobs/<digest>         with single Range requests (206)
//   DELETE   /v2/<name>/blobs/<digest>         unlinks the blob from the repository
//   POST /v2/<name>/blobs/uploads/             a session; ?digest= monolithic; ?mount=&from=
//   PATCH|PUT|GET|DELETE /v2/<name>/blobs/uploads/<id>    chunk, finish (?digest=), status, cancel
//   GET|HEAD|PUT|DELETE /v2/<name>/manifests/<tag|digest>
//   GET  /v2/<name>/tags/list?n=&last=         byte-ordered pages, Link header
//   GET  /v2/<name>/referrers/<digest>?artifactType=
//   GET  /v2/_catalog?n=&last=                 the repositories of the projects the caller may pull
//
// Storage: blob and manifest bytes live in the content store (the builder's, so a saved build
// needs no copy), added to one content-store lease so that GC keeps them; the metastore says
// which repository holds which blob, manifest and tag. An upload session is a content-store
// ingest ("registry-upload-<id>") plus a small record under ROOT/registry/uploads naming its
// repository: a chunk appends to the ingest, the final PUT verifies the digest and commits
// atomically, so a killed upload never leaves a visible blob; idle sessions are removed by
// CleanUploads (run at start and then now and then as uploads begin).
//
// Who may do what: a repository is "<project-id>" or "<project-id>/<path>". Requests carry
// either a berthd token (basic auth with user x-token, or "Bearer <secret>": pull and push on
// every project the token reaches, service::AuthorizeProject) or a registry token from
// /v2/token (pull and/or push on the projects it names), as "Bearer <token>" or as the basic
// auth password (so a short-lived pull token works with docker login and skopeo --creds; the
// token endpoint then grants at most what it grants). No credentials: 401 with a Bearer
// challenge. A project the berthd token cannot reach: 404 NAME_UNKNOWN, as for one that does
// not exist. A registry token without the project: 401 (insufficient_scope); with pull only, a
// push is 403 DENIED.
//
// Thread-safety: handlers run on the server's threads at once; the registry keeps no mutable
// state beyond the stores' (which are thread-safe) and an atomic clean-up timestamp.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "content/store.h"
#include "httpserver/server.h"
#include "metastore/store.h"
#include "registryserver/token.h"

namespace berth::registryserver {

struct ExpiryStats;

class Registry {
 public:
  struct Options {
    // berthd's root: ROOT/registry holds the token secret and the upload records.
    std::string root;
    // Where clients fetch tokens: "<base>/v2/token". Empty: the scheme below and the request's
    // Host header.
    std::string external_url;
    bool tls = false;
    std::chrono::seconds token_ttl{300};
    // Upload sessions idle for longer are removed.
    std::chrono::seconds upload_max_age{std::chrono::hours(24)};
    // The content-store lease that keeps every blob and manifest the registry serves.
    std::string lease = "berthd-registry";
    size_t max_manifest_bytes = size_t{4} << 20;
  };

  // `metadata` and `content` must outlive the registry (and the server it is registered on).
  static Result<std::unique_ptr<Registry>> Create(metastore::Store& metadata,
                                                  content::Store& content, Options options);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;
  Registry(Registry&&) = delete;
  Registry& operator=(Registry&&) = delete;
  ~Registry();

  // Registers the /v2 routes. The registry must outlive the server.
  void Register(httpserver::Server& server);

  // Removes upload sessions (records and ingests) idle for longer than Options::upload_max_age,
  // except those a request is writing right now. Returns how many it removed.
  Result<size_t> CleanUploads(const Context& ctx);

  // Saves a build (`berth build --save`): records the image whose manifest or index
  // `manifest_digest` is in the content store (the builder made it there) in `repository` (one
  // of `project_id`'s) under every tag of `tags`, with no copy: each blob it references and each
  // child manifest of an index (platforms, attestations) is linked into the repository and added
  // to the registry's lease, children before their index, the tags last. Idempotent.
  // InvalidArgument for a bad repository name or tag; FailedPrecondition when something the
  // manifest references is not in the content store.
  Result<> Save(const Context& ctx, const std::string& project_id, const std::string& repository,
                const std::string& manifest_digest, const std::vector<std::string>& tags);

  // Retention (saved.h): removes the tags of `project_id`'s repositories last set before
  // `tag_cutoff`, then every manifest and blob link created before `object_cutoff` that no
  // remaining tag reaches (an index reaches its children; a manifest reaches the referrers whose
  // subject it is). Records created at or after `object_cutoff` stay: an upload in progress.
  Result<ExpiryStats> Collect(const Context& ctx, const std::string& project_id,
                              std::chrono::system_clock::time_point tag_cutoff,
                              std::chrono::system_clock::time_point object_cutoff);
  // Removes from the registry's lease every digest no repository of any project holds any
  // more, except blobs written within `grace` (an upload between its commit and its link).
  // Returns how many left; the content store's GC can then delete them.
  Result<int64_t> ReleaseUnreferenced(const Context& ctx, std::chrono::seconds grace);

  const TokenSigner& signer() const { return signer_; }
  content::Store& content() { return content_; }

 private:
  class Handlers;
  Result<> SaveManifest(const Context& ctx, const std::string& project_id,
                        const std::string& repository, const digest::Digest& manifest, int depth);
  Registry(metastore::Store& metadata, content::Store& content, Options options,
           TokenSigner signer);

  metastore::Store& metadata_;
  content::Store& content_;
  Options options_;
  TokenSigner signer_;
  std::unique_ptr<Handlers> handlers_;
  std::atomic<int64_t> last_clean_{0};
};

}  // namespace berth::registryserver
