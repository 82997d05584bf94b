#include "contextsync/bundle.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "compress/compress.h"
#include "contextsync/testing/util.h"

namespace berth::contextsync {
namespace {

using archive::testing::MakeDir;
using archive::testing::Symlink;
using archive::testing::WriteFile;
using testing::Describe;
using testing::Must;
using testing::TempDir;

// Every blob in the store hashes to its name and no ingest is left over.
void ExpectStoreClean(const std::string& root) {
  for (const auto& e : std::filesystem::directory_iterator(root + "/blobs")) {
    std::string name = e.path().filename();
    EXPECT_EQ(digest::FromBytes(archive::testing::ReadFileOrEmpty(e.path())).hex(),
              name.substr(0, 64));
  }
  EXPECT_TRUE(std::filesystem::is_empty(root + "/tmp"));
}

// Builds bundles by hand, hostile ones included.
class RawBundle {
 public:
  RawBundle& Magic(std::string_view magic = "BCTXSYN1") {
    data_ += magic;
    return *this;
  }
  RawBundle& File(const digest::Digest& d, uint64_t size, std::string_view content) {
    data_ += 'F';
    for (size_t i = 0; i < 64; i += 2) {
      data_ += static_cast<char>(std::stoi(d.hex().substr(i, 2), nullptr, 16));
    }
    U64(size);
    data_ += content;
    return *this;
  }
  RawBundle& File(std::string_view content) {
    return File(digest::FromBytes(content), content.size(), content);
  }
  RawBundle& End(uint64_t files, uint64_t bytes) {
    data_ += 'E';
    U64(files);
    U64(bytes);
    return *this;
  }
  RawBundle& Append(std::string_view s) {
    data_ += s;
    return *this;
  }
  const std::string& plain() const { return data_; }
  std::string zstd() const {
    StringWriter out;
    auto w = Must(compress::NewWriter(compress::Format::kZstd, out));
    Must(w->Write(data_));
    Must(w->Close());
    return out.Take();
  }

 private:
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      data_ += static_cast<char>((v >> (8 * i)) & 0xFF);
    }
  }
  std::string data_;
};

Entry FileEntry(std::string path, std::string_view content) {
  Entry e;
  e.path = std::move(path);
  e.mode = 0644;
  e.size = content.size();
  e.digest = digest::FromBytes(content);
  return e;
}

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = Must(FileStore::Open(t_ / "store"));
    manifest_.entries = {FileEntry("a", "alpha"), FileEntry("b", "bravo!"),
                         FileEntry("c", "charlie")};
    expected_ = FileDigests(manifest_);
  }

  Result<BundleStats> Read(const std::string& bytes) {
    StringReader in(bytes);
    return ReadBundle(Context::Background(), in, *store_, manifest_, expected_);
  }

  void ExpectRejected(const std::string& bytes, const std::string& why) {
    Result<BundleStats> r = Read(bytes);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_EQ(r.error().code(), ErrorCode::kDataLoss) << why << ": " << r.error().ToString();
    ExpectStoreClean(store_->root());
  }

  TempDir t_;
  std::unique_ptr<FileStore> store_;
  Manifest manifest_;
  std::vector<digest::Digest> expected_;
};

TEST_F(BundleTest, AcceptsAWellFormedBundle) {
  RawBundle b;
  b.Magic().File("bravo!").File("alpha").File("charlie").End(3, 18);
  for (const std::string& bytes : {b.zstd(), b.plain()}) {
    BundleStats stats = Must(Read(bytes));
    EXPECT_EQ(stats.files, 3u);
    EXPECT_EQ(stats.bytes, 18u);
    EXPECT_EQ(stats.wire_bytes, bytes.size());
  }
  for (const digest::Digest& d : expected_) {
    EXPECT_TRUE(store_->Has(d));
  }
  ExpectStoreClean(store_->root());
}

// Two clients uploading one context at once: the second was told a file was missing that the
// first has stored since; the file is taken, not refused.
TEST_F(BundleTest, TakesAFileOfTheManifestStoredSinceTheClientAsked) {
  expected_.erase(expected_.begin());  // the server has that one now
  RawBundle b;
  b.Magic().File("bravo!").File("alpha").File("charlie").End(3, 18);
  BundleStats stats = Must(Read(b.zstd()));
  EXPECT_EQ(stats.files, 3u);
  ExpectStoreClean(store_->root());
}

TEST_F(BundleTest, RejectsHostileBundles) {
  digest::Digest alpha = digest::FromBytes("alpha");
  auto good = [] {
    RawBundle b;
    b.Magic().File("alpha").File("bravo!").File("charlie");
    return b;
  };
  ExpectRejected("", "empty");
  ExpectRejected(RawBundle().Magic("NOTMAGIC").zstd(), "bad magic");
  ExpectRejected(good().End(3, 18).Append("x").zstd(), "trailing data");
  ExpectRejected(good().zstd(), "no end record");
  ExpectRejected(good().End(4, 18).zstd(), "end record miscounts");
  ExpectRejected(good().Append("X").zstd(), "bad tag");
  ExpectRejected(RawBundle().Magic().File("alpha").End(1, 5).zstd(), "files missing");
  ExpectRejected(RawBundle().Magic().File("delta").zstd(), "not a file of the manifest");
  ExpectRejected(RawBundle().Magic().File("alpha").File("alpha").zstd(), "sent twice");
  ExpectRejected(RawBundle().Magic().File(alpha, 5, "ALPHA").zstd(), "digest mismatch");
  ExpectRejected(RawBundle().Magic().File(alpha, 6, "alpha!").zstd(), "size mismatch");
  ExpectRejected(RawBundle().Magic().File(alpha, uint64_t{1} << 62, "alpha").zstd(), "huge size");
  // A file whose bytes run into the next record's header.
  ExpectRejected(RawBundle().Magic().File(alpha, 5, "alp").File("bravo!").zstd(), "short file");
  // gzip is not a bundle encoding.
  StringWriter gz;
  auto w = Must(compress::NewWriter(compress::Format::kGzip, gz));
  Must(w->Write(good().End(3, 18).plain()));
  Must(w->Close());
  ExpectRejected(gz.Take(), "gzip");
  // A digest that is not in the manifest cannot be expected.
  expected_.push_back(digest::FromBytes("unlisted"));
  Result<BundleStats> r = Read(good().End(3, 18).zstd());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(BundleTest, EveryTruncationIsRejectedAndLeavesNoPartialFile) {
  RawBundle b;
  std::string big(size_t{200} * 1024, 'q');
  big += "end";
  manifest_.entries.push_back(FileEntry("d", big));
  expected_ = FileDigests(manifest_);
  b.Magic().File("alpha").File(big).File("bravo!").File("charlie").End(4, 18 + big.size());
  const std::string plain = b.plain();
  for (size_t cut = 0; cut < plain.size(); cut += (cut < 200 ? 1 : 997)) {
    ExpectRejected(plain.substr(0, cut), "plain cut at " + std::to_string(cut));
  }
  const std::string z = b.zstd();
  for (size_t cut = 0; cut < z.size(); cut += std::max<size_t>(1, z.size() / 50)) {
    ExpectRejected(z.substr(0, cut), "zstd cut at " + std::to_string(cut));
  }
  BundleStats stats = Must(Read(z));
  EXPECT_EQ(stats.files, 4u);
}

TEST(BundleRoundTripTest, ContextTreeSurvives) {
  TempDir t;
  std::string src = t / "src";
  MakeDir(src);
  MakeDir(src + "/dir", 0750);
  WriteFile(src + "/dir/a", "a", 0600);
  WriteFile(src + "/dir/b", "same");
  WriteFile(src + "/c", "same");
  WriteFile(src + "/x.sh", "#!/bin/sh", 0755);
  WriteFile(src + "/e", "");
  Symlink("/etc/passwd", src + "/abs-link");
  auto store = Must(FileStore::Open(t / "store"));
  BundleStats sent;
  Manifest m = testing::Sync(src, {}, {}, *store, &sent);
  EXPECT_EQ(sent.files, 3u);  // "same" once; the empty file never travels
  EXPECT_EQ(sent.bytes, 1u + 4u + 9u);
  Must(store->Materialize(Context::Background(), m, t / "dest"));
  EXPECT_EQ(Describe(t / "dest"), Describe(src));
  ExpectStoreClean(t / "store");
}

TEST(BundleWriteTest, RefusesFilesChangedSinceTheScan) {
  TempDir t;
  std::string src = t / "src";
  MakeDir(src);
  MakeDir(src + "/d");
  WriteFile(src + "/d/f", "original");
  WriteFile(t / "outside", "original");
  Manifest m = Must(Scan(Context::Background(), src, {}));
  std::vector<digest::Digest> all = FileDigests(m);
  StringWriter out;
  // Same size, other bytes.
  WriteFile(src + "/d/f", "ORIGINAL");
  Result<BundleStats> r = WriteBundle(Context::Background(), src, m, all, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kFailedPrecondition) << r.error().ToString();
  // The directory swapped for a symlink to a place outside the context.
  std::filesystem::remove_all(src + "/d");
  Symlink(t.path(), src + "/d");
  WriteFile(t / "f", "original");
  r = WriteBundle(Context::Background(), src, m, all, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sys_errno() != 0 || r.error().code() == ErrorCode::kFailedPrecondition, true)
      << r.error().ToString();
  // Asking for a digest the manifest does not have.
  r = WriteBundle(Context::Background(), src, m, {digest::FromBytes("nope")}, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
}

// A fresh directory on tmpfs (/dev/shm) when it is writable, else under $TMPDIR or /tmp;
// removed with its contents.
class ShmTempDir {
 public:
  ShmTempDir() {
    if (::access("/dev/shm", W_OK) == 0) {
      std::string templ = "/dev/shm/berth-contextsync-test-XXXXXX";
      if (::mkdtemp(templ.data()) != nullptr) {
        path_ = templ;
        return;
      }
    }
    fallback_ = std::make_unique<TempDir>();
    path_ = fallback_->path();
  }
  ShmTempDir(const ShmTempDir&) = delete;
  ShmTempDir& operator=(const ShmTempDir&) = delete;
  ShmTempDir(ShmTempDir&&) = delete;
  ShmTempDir& operator=(ShmTempDir&&) = delete;
  ~ShmTempDir() {
    if (!fallback_) {
      std::error_code ec;
      std::filesystem::remove_all(path_, ec);
    }
  }
  std::string operator/(std::string_view rel) const { return path_ + "/" + std::string(rel); }

 private:
  std::unique_ptr<TempDir> fallback_;
  std::string path_;
};

// The check: the second sync of an unchanged 10,000-file context sends no file
// content; changing one file sends only that file.
TEST(IncrementalSyncTest, TenThousandFilesThenOneChange) {
  // 30,000 files are made and removed: on tmpfs when there is one, as a disk's journal can
  // make that take minutes.
  ShmTempDir t;
  std::string src = t / "src";
  MakeDir(src);
  constexpr size_t kDirs = 100;
  constexpr size_t kFilesPerDir = 100;
  for (size_t d = 0; d < kDirs; ++d) {
    std::string dir = src + "/pkg" + std::to_string(d);
    MakeDir(dir);
    for (size_t f = 0; f < kFilesPerDir; ++f) {
      WriteFile(dir + "/file" + std::to_string(f) + ".txt",
                "package " + std::to_string(d) + " file " + std::to_string(f) + "\n");
    }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ScanOptions options;
  options.cache_dir = t / "cache";
  auto store = Must(FileStore::Open(t / "store"));

  BundleStats sent;
  ScanStats scanned;
  Manifest first = testing::Sync(src, {}, options, *store, &sent, &scanned);
  EXPECT_EQ(first.entries.size(), kDirs + kDirs * kFilesPerDir);
  EXPECT_EQ(scanned.hashed_files, kDirs * kFilesPerDir);
  EXPECT_EQ(sent.files, kDirs * kFilesPerDir);

  // Unchanged: nothing hashed, nothing sent.
  Manifest second = testing::Sync(src, {}, options, *store, &sent, &scanned);
  EXPECT_EQ(second, first);
  EXPECT_EQ(scanned.hashed_files, 0u);
  EXPECT_EQ(scanned.cache_hits, kDirs * kFilesPerDir);
  EXPECT_EQ(sent.files, 0u);
  EXPECT_EQ(sent.bytes, 0u);

  // One file changed: one hashed, one sent, and its bytes only.
  std::string changed = "package 42 file 7 was edited\n";
  WriteFile(src + "/pkg42/file7.txt", changed);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Manifest third = testing::Sync(src, {}, options, *store, &sent, &scanned);
  EXPECT_EQ(scanned.hashed_files, 1u);
  EXPECT_EQ(sent.files, 1u);
  EXPECT_EQ(sent.bytes, changed.size());
  ASSERT_EQ(sent.digests.size(), 1u);
  EXPECT_EQ(sent.digests[0], digest::FromBytes(changed));

  Must(store->Materialize(Context::Background(), third, t / "dest"));
  EXPECT_EQ(Describe(t / "dest"), Describe(src));
}

}  // namespace
}  // namespace berth::contextsync
