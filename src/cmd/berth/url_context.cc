#include "cmd/berth/url_context.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>

#include "base/io.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "compress/compress.h"
#include "fileop/fileop.h"
#include "graph/graph.h"
#include "os/file.h"
#include "registry/http.h"
#include "snapshot/fs_util.h"

namespace berth::cmd {
namespace {

constexpr size_t kTarBlock = 512;

// "4 MiB", or the bytes when less than a MiB.
std::string Limit(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 20) && bytes % (uint64_t{1} << 20) == 0) {
    return std::to_string(bytes >> 20) + " MiB";
  }
  return std::to_string(bytes) + " bytes";
}

// Passes bytes on to a borrowed Writer, failing once more than `max` have come: a server that
// sends more than it should cannot fill the disk.
class CappedWriter final : public Writer {
 public:
  CappedWriter(Writer& downstream, uint64_t max) : downstream_(downstream), max_(max) {}

  Result<> Write(std::string_view data) override {
    if (data.size() > max_ - written_) {
      return Error::ResourceExhausted("larger than " + Limit(max_) +
                                      ", the most a URL context may download");
    }
    written_ += data.size();
    return downstream_.Write(data);
  }
  Result<> Close() override { return {}; }

  uint64_t written() const { return written_; }

 private:
  Writer& downstream_;
  uint64_t max_;
  uint64_t written_ = 0;
};

// A tar header's checksum field: octal digits, maybe after spaces, ended by NUL or space.
std::optional<uint64_t> ParseOctal(std::string_view field) {
  size_t i = 0;
  while (i < field.size() && field[i] == ' ') {
    ++i;
  }
  uint64_t value = 0;
  size_t digits = 0;
  for (; i < field.size() && field[i] >= '0' && field[i] <= '7'; ++i, ++digits) {
    value = value * 8 + static_cast<uint64_t>(field[i] - '0');
  }
  if (digits == 0 || (i < field.size() && field[i] != '\0' && field[i] != ' ')) {
    return std::nullopt;
  }
  return value;
}

// Whether `block` starts with a tar header: what Go's archive/tar checks before it takes one (a
// non-zero block whose checksum, the sum of its bytes with the checksum field as spaces, matches
// the field; old tars summed signed bytes, so either sum counts).
bool IsTarHeader(std::string_view block) {
  if (block.size() < kTarBlock) {
    return false;
  }
  block = block.substr(0, kTarBlock);
  std::optional<uint64_t> want = ParseOctal(block.substr(148, 8));
  if (!want) {
    return false;
  }
  uint64_t unsigned_sum = 0;
  int64_t signed_sum = 0;
  for (size_t i = 0; i < kTarBlock; ++i) {
    char c = i >= 148 && i < 156 ? ' ' : block[i];
    unsigned_sum += static_cast<unsigned char>(c);
    signed_sum += static_cast<signed char>(c);
  }
  return *want == unsigned_sum || static_cast<int64_t>(*want) == signed_sum;
}

bool IsXz(std::string_view prefix) {
  return prefix.starts_with(
      std::string_view("\xFD"
                       "7zXZ\0",
                       6));
}

// "BZh", the block size '1'-'9', then a block header (0x314159265359, the digits of pi: "1AY&SY")
// or the end of stream (0x177245385090, those of sqrt(pi)).
bool IsBzip2(std::string_view prefix) {
  if (prefix.size() < 10 || !prefix.starts_with("BZh") || prefix[3] < '1' || prefix[3] > '9') {
    return false;
  }
  std::string_view magic = prefix.substr(4, 6);
  return magic == "1AY&SY" || magic == "\x17\x72\x45\x38\x50\x90";
}

Result<> CheckStatus(long status) {
  if (status >= 200 && status < 300) {
    return {};
  }
  std::string what = "HTTP status " + std::to_string(status);
  if (status == 404 || status == 410) {
    return Error::NotFound(what);
  }
  if (status == 401 || status == 403) {
    return Error::PermissionDenied(what);
  }
  return Error::Unavailable(what);
}

// Downloads `url` into the new file `path`; returns its size.
Result<uint64_t> Download(const Context& ctx, const std::string& url, const std::string& path,
                          uint64_t max_bytes) {
  UniqueFd fd = BERTH_TRY(os::Open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  FdWriter file(std::move(fd));
  CappedWriter capped(file, max_bytes);
  registry::HttpClient client;
  registry::HttpRequest request;
  request.url = url;
  request.sink = &capped;
  registry::HttpResponse response = BERTH_TRY(client.Do(ctx, request));
  BERTH_TRY(CheckStatus(response.status));
  BERTH_TRY_CONTEXT(file.Close(), "writing " + path);
  return capped.written();
}

// The first `size` bytes of the file at `path` (fewer when it is shorter).
Result<std::string> ReadPrefix(const std::string& path, size_t size) {
  UniqueFd fd = BERTH_TRY(os::Open(path, O_RDONLY | O_CLOEXEC));
  FdReader reader(fd.get());
  std::string prefix(size, '\0');
  size_t got = 0;
  while (got < size) {
    size_t n = BERTH_TRY(reader.Read(prefix.data() + got, size - got));
    if (n == 0) {
      break;
    }
    got += n;
  }
  prefix.resize(got);
  return prefix;
}

// Fills the empty directory `temp` (see FetchUrlContext): the download, then the context in
// `temp`/context.
Result<UrlContext> FetchInto(const Context& ctx, const std::string& temp, const std::string& url,
                             const UrlContextOptions& options) {
  std::string download = temp + "/download";
  uint64_t size = BERTH_TRY(Download(ctx, url, download, options.max_bytes));
  std::string prefix = BERTH_TRY(ReadPrefix(download, kTarBlock));
  UrlContent kind = DetectUrlContent(prefix);
  UrlContext made{.temp_dir = temp, .dir = temp + "/context"};
  if (kind == UrlContent::kText) {
    if (options.require_archive) {
      return Error::InvalidArgument("not a tar archive (a named context must be one)");
    }
    if (size > kMaxUrlDockerfileBytes) {
      return Error::ResourceExhausted("not a tar archive, and at " + std::to_string(size) +
                                      " bytes too large for a Dockerfile (at most " +
                                      Limit(kMaxUrlDockerfileBytes) + ")");
    }
    if (prefix.find('\0') != std::string::npos) {
      return Error::InvalidArgument("neither a tar archive nor a Dockerfile (binary content)");
    }
    made.dockerfile = BERTH_TRY(os::ReadFile(download));
    BERTH_TRY(os::MakeDirs(made.dir, 0755));
  } else {
    // ADD's extraction of a local archive: into <temp>/context, which it creates. A file it does
    // not take for a tar is copied to that name instead, so a directory there means extracted.
    graph::CopyAction unpack{
        .src_input = 0,
        .src = "/download",
        .dest = "/context",
        // Owned by whoever runs berth: a tar's owners need not exist here, and the build
        // context's owners are reset when it is copied anyway.
        .chown =
            graph::ChownOpt{.user = std::to_string(geteuid()), .group = std::to_string(getegid())},
        .follow_symlinks = false,
        .attempt_unpack = true,
        .allow_wildcard = false,
    };
    fileop::FileOpEnv env{.dest_root = temp, .sources = {{.path = temp}}};
    BERTH_TRY(fileop::Apply(ctx, unpack, env));
    struct stat st {};
    if (::lstat(made.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Error::InvalidArgument(kind == UrlContent::kCompressed
                                        ? "compressed, but not a tar archive"
                                        : "not a tar archive libarchive can read");
    }
  }
  if (::unlink(download.c_str()) != 0) {
    return Error::FromErrno("removing " + download, errno);
  }
  return made;
}

}  // namespace

bool IsUrlContext(const std::string& context) {
  if (os::Exists(context)) {
    return false;
  }
  std::string lower = ToLower(context.substr(0, 8));
  return lower.starts_with("http://") || lower.starts_with("https://");
}

UrlContent DetectUrlContent(std::string_view prefix) {
  if (compress::DetectFormat(prefix) != compress::Format::kNone || IsXz(prefix) ||
      IsBzip2(prefix)) {
    return UrlContent::kCompressed;
  }
  return IsTarHeader(prefix) ? UrlContent::kTar : UrlContent::kText;
}

Result<UrlContext> FetchUrlContext(const Context& ctx, const std::string& root,
                                   const std::string& url, const UrlContextOptions& options) {
  BERTH_TRY(os::MakeDirs(root + "/tmp", 0700));
  std::string temp = root + "/tmp/context-XXXXXX";
  if (mkdtemp(temp.data()) == nullptr) {
    return Error::FromErrno("mkdtemp", errno);
  }
  Result<UrlContext> made = FetchInto(ctx, temp, url, options);
  if (!made.ok()) {
    (void)snapshot::RemoveAll(temp);
    return std::move(made).error().AddContext("context " + url);
  }
  return made;
}

}  // namespace berth::cmd
