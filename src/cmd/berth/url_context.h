// Build contexts fetched over HTTP(S), as `docker buildx build https://host/ctx.tar.gz` takes
// them: the URL is downloaded (through registry::HttpClient, capped in size) into a new directory
// under <root>/tmp, and its content decides what it is, never its name:
//   - a tar archive (plain, or gzip, zstd, xz or bzip2 compressed) is extracted there with the
//     extractor of `ADD` for local archives (fileop), which refuses entries that would leave the
//     directory ("..", paths through symlinks); the result is the context;
//   - anything else is the Dockerfile itself, with an empty context (the main context only: a
//     named context must be an archive).
// A git URL ("https://host/repo.git#ref") is an http(s) URL too: callers check IsGitContext
// first.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/context.h"
#include "base/result.h"

namespace berth::cmd {

// The most a URL context may download (the bytes on the wire, before decompression).
inline constexpr uint64_t kMaxUrlContextBytes = uint64_t{1} << 30;
// The most a URL may serve when it is a Dockerfile rather than an archive.
inline constexpr uint64_t kMaxUrlDockerfileBytes = uint64_t{4} << 20;

// Whether `context` is an http:// or https:// URL (scheme in any case) rather than a local path
// (a path that exists is always local).
bool IsUrlContext(const std::string& context);

// What the first bytes of a download are.
enum class UrlContent {
  kTar,         // an uncompressed tar (a header with a valid checksum)
  kCompressed,  // gzip, zstd, xz or bzip2: taken for a compressed tar, as BuildKit does
  kText,        // anything else: a Dockerfile
};
// Classifies `prefix`, the first bytes of a download (512 or all there are).
UrlContent DetectUrlContent(std::string_view prefix);

struct UrlContextOptions {
  // A named context (`--build-context`, bake's `contexts`) must be an archive: other content is
  // InvalidArgument rather than a Dockerfile.
  bool require_archive = false;
  uint64_t max_bytes = kMaxUrlContextBytes;
};

struct UrlContext {
  // The new directory under <root>/tmp that holds everything below; the caller removes it.
  std::string temp_dir;
  // The context directory: the archive's contents, or an empty directory when the URL served a
  // Dockerfile.
  std::string dir;
  // The Dockerfile's text when the URL served one rather than an archive.
  std::optional<std::string> dockerfile;
};

// Downloads `url` and makes it a context as the file comment says.
// Errors, each naming the URL: NotFound for HTTP 404 and 410; PermissionDenied for 401 and
// 403; Unavailable for other statuses and transport failures; ResourceExhausted past
// `options.max_bytes` (or kMaxUrlDockerfileBytes for a Dockerfile); InvalidArgument for a
// compressed download that is not a tar, for a hostile archive entry, for binary content that
// is no Dockerfile, and for a named context that is not an archive; DataLoss for a corrupt
// archive. Nothing is left under <root>/tmp on error.
Result<UrlContext> FetchUrlContext(const Context& ctx, const std::string& root,
                                   const std::string& url, const UrlContextOptions& options = {});

}  // namespace berth::cmd
