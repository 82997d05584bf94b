#include "contextsync/bundle.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "compress/compress.h"
#include "contextsync/internal.h"

namespace berth::contextsync {
namespace {

constexpr std::string_view kMagic = "BCTXSYN1";
constexpr char kFileTag = 'F';
constexpr char kEndTag = 'E';
constexpr size_t kDigestBytes = 32;

void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
  }
}

uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) {
    v = (v << 8) | static_cast<unsigned char>(p[i]);
  }
  return v;
}

std::string HexToRaw(const std::string& hex) {
  auto nibble = [](char c) {
    return c <= '9' ? c - '0' : c - 'a' + 10;
  };
  std::string raw(hex.size() / 2, '\0');
  for (size_t i = 0; i < raw.size(); ++i) {
    raw[i] = static_cast<char>((nibble(hex[2 * i]) << 4) | nibble(hex[2 * i + 1]));
  }
  return raw;
}

class CountingWriter final : public Writer {
 public:
  explicit CountingWriter(Writer& downstream) : downstream_(downstream) {}
  Result<> Write(std::string_view data) override {
    BERTH_TRY(downstream_.Write(data));
    bytes_ += data.size();
    return {};
  }
  Result<> Close() override { return {}; }
  uint64_t bytes() const { return bytes_; }

 private:
  Writer& downstream_;
  uint64_t bytes_ = 0;
};

class CountingReader final : public Reader {
 public:
  explicit CountingReader(Reader& upstream) : upstream_(upstream) {}
  Result<size_t> Read(char* buf, size_t size) override {
    size_t n = BERTH_TRY(upstream_.Read(buf, size));
    bytes_ += n;
    return n;
  }
  uint64_t bytes() const { return bytes_; }

 private:
  Reader& upstream_;
  uint64_t bytes_ = 0;
};

Result<> SendFile(const Context& ctx, int root, const Entry& e, Writer& out,
                  std::vector<char>& buf) {
  auto changed = [&](const std::string& how) {
    return Error::FailedPrecondition(e.path + " changed since the context was scanned (" + how +
                                     "); sync again");
  };
  UniqueFd fd = BERTH_TRY(
      internal::OpenBeneath(root, e.path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return Error::FromErrno("stat " + e.path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return changed("not a regular file");
  }
  if (static_cast<uint64_t>(st.st_size) != e.size) {
    return changed("size " + std::to_string(st.st_size) + ", was " + std::to_string(e.size));
  }
  std::string header(1, kFileTag);
  header += HexToRaw(e.digest.hex());
  PutU64(&header, e.size);
  BERTH_TRY(out.Write(header));
  digest::Sha256 hash;
  uint64_t left = e.size;
  while (left > 0) {
    BERTH_TRY(ctx.Check());
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
    ssize_t n = ::read(fd.get(), buf.data(), want);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::FromErrno("read " + e.path, errno);
    }
    if (n == 0) {
      return changed("shorter than scanned");
    }
    std::string_view chunk(buf.data(), static_cast<size_t>(n));
    hash.Update(chunk);
    BERTH_TRY(out.Write(chunk));
    left -= static_cast<uint64_t>(n);
  }
  char extra = 0;
  if (::read(fd.get(), &extra, 1) > 0) {
    return changed("longer than scanned");
  }
  if (hash.Finish() != e.digest) {
    return changed("content differs");
  }
  return {};
}

Result<> ReadExactly(Reader& in, char* buf, size_t size, std::string_view what) {
  size_t n = BERTH_TRY(ReadFull(in, buf, size));
  if (n != size) {
    return Error::DataLoss("bundle: truncated in " + std::string(what));
  }
  return {};
}

}  // namespace

Result<BundleStats> WriteBundle(const Context& ctx, const std::string& dir,
                                const Manifest& manifest, const std::vector<digest::Digest>& wanted,
                                Writer& out, const BundleOptions& options) {
  std::unordered_map<std::string_view, const Entry*> by_hex;
  for (const Entry& e : manifest.entries) {
    if (e.type == EntryType::kFile) {
      by_hex.emplace(e.digest.hex(), &e);
    }
  }
  std::vector<const Entry*> files;
  std::unordered_set<std::string_view> seen;
  for (const digest::Digest& d : wanted) {
    auto it = by_hex.find(d.hex());
    if (d.algorithm() != "sha256" || it == by_hex.end()) {
      return Error::InvalidArgument("bundle: the manifest has no file with digest " + d.ToString());
    }
    if (seen.insert(d.hex()).second) {
      files.push_back(it->second);
    }
  }
  UniqueFd root(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root) {
    return Error::FromErrno("open context " + dir, errno);
  }
  CountingWriter counted(out);
  uint64_t total = 0;
  for (const Entry* e : files) {
    total += e->size;
  }
  compress::WriterOptions copts;
  copts.level = options.level;
  // zstd's worker threads take longer to start than a small bundle takes to compress.
  copts.threads = total < (uint64_t{4} << 20) ? 0 : options.threads;
  std::unique_ptr<Writer> z =
      BERTH_TRY(compress::NewWriter(compress::Format::kZstd, counted, copts));
  BERTH_TRY(z->Write(kMagic));
  BundleStats stats;
  std::vector<char> buf(kDefaultBufferSize);
  for (const Entry* e : files) {
    BERTH_TRY_CONTEXT(SendFile(ctx, root.get(), *e, *z, buf), "bundle");
    ++stats.files;
    stats.bytes += e->size;
    stats.digests.push_back(e->digest);
  }
  std::string end(1, kEndTag);
  PutU64(&end, stats.files);
  PutU64(&end, stats.bytes);
  BERTH_TRY(z->Write(end));
  BERTH_TRY(z->Close());
  stats.wire_bytes = counted.bytes();
  return stats;
}

Result<BundleStats> ReadBundle(const Context& ctx, Reader& in, FileStore& store,
                               const Manifest& manifest,
                               const std::vector<digest::Digest>& expected) {
  std::unordered_map<std::string_view, uint64_t> sizes;
  for (const Entry& e : manifest.entries) {
    if (e.type == EntryType::kFile) {
      sizes.emplace(e.digest.hex(), e.size);
    }
  }
  // hex -> size of every digest still to come.
  std::unordered_map<std::string, uint64_t> pending;
  for (const digest::Digest& d : expected) {
    auto it = sizes.find(d.hex());
    if (d.algorithm() != "sha256" || it == sizes.end()) {
      return Error::InvalidArgument("bundle: the manifest has no file with digest " + d.ToString());
    }
    pending.emplace(d.hex(), it->second);
  }
  size_t wanted = pending.size();

  CountingReader counted(in);
  std::unique_ptr<compress::DecompressingReader> z =
      BERTH_TRY_CONTEXT(compress::NewReader(counted), "bundle");
  if (z->format() == compress::Format::kGzip) {
    return Error::DataLoss("bundle: gzip-compressed; want zstd");
  }
  BundleStats stats;
  char magic[kMagic.size()];
  BERTH_TRY(ReadExactly(*z, magic, sizeof(magic), "the header"));
  if (std::string_view(magic, sizeof(magic)) != kMagic) {
    return Error::DataLoss("bundle: not a berth context bundle (bad magic)");
  }
  std::vector<char> buf(kDefaultBufferSize);
  for (;;) {
    BERTH_TRY(ctx.Check());
    char tag = 0;
    BERTH_TRY(ReadExactly(*z, &tag, 1, "a record tag (no end record)"));
    if (tag == kEndTag) {
      char end[16];
      BERTH_TRY(ReadExactly(*z, end, sizeof(end), "the end record"));
      if (GetU64(end) != stats.files || GetU64(end + 8) != stats.bytes) {
        return Error::DataLoss("bundle: end record counts " + std::to_string(GetU64(end)) +
                               " files, " + std::to_string(GetU64(end + 8)) + " bytes; received " +
                               std::to_string(stats.files) + ", " + std::to_string(stats.bytes));
      }
      char extra = 0;
      if (BERTH_TRY(ReadFull(*z, &extra, 1)) != 0) {
        return Error::DataLoss("bundle: data after the end record");
      }
      break;
    }
    if (tag != kFileTag) {
      return Error::DataLoss("bundle: bad record tag " +
                             std::to_string(static_cast<unsigned char>(tag)));
    }
    char header[kDigestBytes + 8];
    BERTH_TRY(ReadExactly(*z, header, sizeof(header), "a file header"));
    std::string hex = internal::HexEncode(std::string_view(header, kDigestBytes));
    uint64_t size = GetU64(header + kDigestBytes);
    auto it = pending.find(hex);
    if (it == pending.end()) {
      bool twice = std::any_of(stats.digests.begin(), stats.digests.end(),
                               [&](const digest::Digest& d) { return d.hex() == hex; });
      auto in_manifest = sizes.find(hex);
      if (twice || in_manifest == sizes.end()) {
        return Error::DataLoss("bundle: sha256:" + hex +
                               (twice ? " sent twice" : " is not a file of the manifest"));
      }
      // A file of the manifest that another upload stored since this client asked: taken (and
      // verified) like the others.
      it = pending.emplace(hex, in_manifest->second).first;
    }
    if (size != it->second) {
      return Error::DataLoss("bundle: sha256:" + hex + " has " + std::to_string(size) +
                             " bytes; the manifest says " + std::to_string(it->second));
    }
    digest::Digest d = digest::Digest::FromSha256Hex(hex);
    std::unique_ptr<IngestWriter> w = BERTH_TRY_CONTEXT(store.BeginIngest(d, size), "bundle");
    std::string what = "the content of " + d.ToString();
    uint64_t left = size;
    while (left > 0) {
      BERTH_TRY(ctx.Check());
      size_t want = static_cast<size_t>(std::min<uint64_t>(left, buf.size()));
      BERTH_TRY(ReadExactly(*z, buf.data(), want, what));
      BERTH_TRY(w->Write(std::string_view(buf.data(), want)));
      left -= want;
    }
    BERTH_TRY_CONTEXT(w->Close(), "bundle");
    if (w->existed()) {
      ++stats.already_present;
    }
    pending.erase(it);
    ++stats.files;
    stats.bytes += size;
    stats.digests.push_back(std::move(d));
  }
  if (!pending.empty()) {
    return Error::DataLoss(
        "bundle: " + std::to_string(pending.size()) + " of the " + std::to_string(wanted) +
        " requested files did not arrive (one: sha256:" + pending.begin()->first + ")");
  }
  stats.wire_bytes = counted.bytes();
  return stats;
}

}  // namespace berth::contextsync
