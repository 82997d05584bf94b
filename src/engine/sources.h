// Remote sources of a build: files from HTTP(S) URLs (`ADD https://...`) and git repositories
// (`ADD git@...`, `ADD https://host/repo.git#ref:subdir`, and git build contexts).
//
// HTTP: the file is fetched through libcurl (redirects followed, proxies from the environment),
// hashed while it is written, and checked against `--checksum` when given. Its cache key is the
// content digest (plus Last-Modified, which becomes the file's mtime), so a changed file at the
// same URL reruns the steps after it, and an unchanged one keeps them cached.
//
// git: the `git` program does the work (what BuildKit does too): `git ls-remote` resolves a
// branch or tag to its commit, which is the cache key; a checkout is a shallow fetch of that
// commit into an empty directory, with submodules unless disabled, without .git unless kept.
#pragma once

#include <cstdint>
#include <string>

#include "base/context.h"
#include "base/result.h"
#include "digest/digest.h"

namespace berth::engine {

struct Download {
  digest::Digest digest;  // of the content
  uint64_t size = 0;
  int64_t mtime = 0;  // from Last-Modified; 0 when the server sent none
};

// Fetches `url` into the new file `path`. `checksum` ("sha256:<hex>", or "") must match the
// content (InvalidArgument naming both digests otherwise, and the file is removed). A status
// other than 2xx is an error naming the URL and the status.
Result<Download> DownloadUrl(const Context& ctx, const std::string& url, const std::string& path,
                             const std::string& checksum);

// The commit `ref` (a branch, tag, full commit id, or "" for the default branch) names at
// `remote`. NotFound when the remote has no such ref.
Result<std::string> GitResolve(const Context& ctx, const std::string& remote,
                               const std::string& ref);

struct GitCheckoutOptions {
  bool keep_git_dir = false;
  bool submodules = true;
  std::string subdir;  // only this directory's contents end up in `dest`
};

// Checks out `commit` of `remote` into the empty directory `dest` (created if needed).
Result<> GitCheckout(const Context& ctx, const std::string& remote, const std::string& commit,
                     const std::string& dest, const GitCheckoutOptions& options);

}  // namespace berth::engine
