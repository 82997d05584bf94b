#include "archive/tar_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "archive/testing/tree.h"
#include "digest/digest.h"

namespace berth::archive {
namespace {

using testing::DescribeTree;
using ::testing::ElementsAre;
using testing::Hardlink;
using ::testing::HasSubstr;
using testing::MakeDir;
using testing::SetMtime;
using testing::SetXattr;
using testing::Shell;
using testing::Symlink;
using testing::TempDir;
using testing::WriteFile;

// One entry of a tar as libarchive reads it back.
struct ReadEntry {
  std::string path;
  mode_t type = 0;
  mode_t perm = 0;
  int64_t uid = 0;
  int64_t gid = 0;
  int64_t mtime = 0;
  int64_t size = 0;
  std::string symlink;
  std::string hardlink;
  std::string data;
  std::vector<std::pair<std::string, std::string>> xattrs;
};

std::vector<ReadEntry> ReadTar(const std::string& tar) {
  std::vector<ReadEntry> out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  struct archive_entry* e = nullptr;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    ReadEntry re;
    re.path = archive_entry_pathname(e);
    re.type = archive_entry_filetype(e);
    re.perm = archive_entry_perm(e);
    re.uid = archive_entry_uid(e);
    re.gid = archive_entry_gid(e);
    re.mtime = archive_entry_mtime(e);
    re.size = archive_entry_size(e);
    if (const char* s = archive_entry_symlink(e)) {
      re.symlink = s;
    }
    if (const char* h = archive_entry_hardlink(e)) {
      re.hardlink = h;
    }
    const char* key;
    const void* value;
    size_t size;
    archive_entry_xattr_reset(e);
    while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
      re.xattrs.emplace_back(key, std::string(static_cast<const char*>(value), size));
    }
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof(buf))) > 0) {
      re.data.append(buf, static_cast<size_t>(n));
    }
    out.push_back(std::move(re));
  }
  EXPECT_EQ(r, ARCHIVE_EOF) << archive_error_string(a);
  archive_read_free(a);
  return out;
}

std::vector<std::string> Paths(const std::vector<ReadEntry>& entries) {
  std::vector<std::string> out;
  for (const ReadEntry& e : entries) {
    out.push_back(e.path);
  }
  return out;
}

Result<std::string> Tar(const std::string& dir, const TarOptions& options = {}) {
  StringWriter out;
  BERTH_TRY(WriteLayerTar(Context::Background(), dir, out, options));
  return out.Take();
}

const ReadEntry* Find(const std::vector<ReadEntry>& entries, const std::string& path) {
  for (const ReadEntry& e : entries) {
    if (e.path == path) {
      return &e;
    }
  }
  return nullptr;
}

// A tree with one of everything a layer holds.
void MakeSampleTree(const TempDir& t, const std::string& root) {
  MakeDir(root);
  MakeDir(root + "/etc", 0750);
  WriteFile(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
  WriteFile(root + "/etc/shadow", "root:*:1::::::\n", 0600);
  MakeDir(root + "/bin");
  WriteFile(root + "/bin/tool", std::string(300000, 'x') + "end", 04755);
  Hardlink(root + "/bin/tool", root + "/bin/tool-alias");
  Symlink("tool", root + "/bin/sh");
  Symlink("/nonexistent/absolute", root + "/bin/dangling");
  MakeDir(root + "/empty", 01777);
  WriteFile(root + "/empty-file", "", 0444);
  SetXattr(root + "/etc/passwd", "user.comment", "hello");
  SetXattr(root + "/etc", "user.dir", std::string("bin\0ary", 7));
  if (geteuid() == 0) {
    // security.capability v2: effective, permitted = CAP_NET_BIND_SERVICE.
    std::string cap(20, '\0');
    cap[0] = 0x01;
    cap[3] = 0x02;
    cap[5] = 0x04;  // bit 10 of permitted[0]
    SetXattr(root + "/bin/tool", "security.capability", cap);
    ASSERT_EQ(chown((root + "/etc/shadow").c_str(), 0, 42), 0);
    ASSERT_EQ(lchown((root + "/bin/sh").c_str(), 7, 8), 0);
    ASSERT_EQ(mknod((root + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(mknod((root + "/loop9").c_str(), S_IFBLK | 0660, makedev(7, 9)), 0);
    ASSERT_EQ(chown((root + "/etc").c_str(), 1000, 1000), 0);
  }
  ASSERT_EQ(mkfifo((root + "/fifo").c_str(), 0600), 0);
  WriteFile(root + "/caf\xc3\xa9", "utf8 name");
  WriteFile(root + "/" + std::string(120, 'L'), "long name");
  SetMtime(root + "/etc/passwd", 1500000000);
  (void)t;
}

TEST(TarWriterTest, WritesEveryKindSortedWithoutRoot) {
  TempDir t;
  std::string root = t / "root";
  MakeSampleTree(t, root);
  Result<std::string> tar = Tar(root);
  ASSERT_TRUE(tar.ok()) << tar.error().ToString();
  std::vector<ReadEntry> entries = ReadTar(*tar);

  // Bytewise order of names within each directory, depth first; no "./", no root entry.
  std::vector<std::string> want = {
      std::string(120, 'L'), "bin/",        "bin/dangling", "bin/sh",     "bin/tool",
      "bin/tool-alias",      "caf\xc3\xa9", "empty/",       "empty-file", "etc/",
      "etc/passwd",          "etc/shadow",  "fifo"};
  if (geteuid() == 0) {
    want.push_back("loop9");
    want.push_back("null");
  }
  EXPECT_EQ(Paths(entries), want);

  const ReadEntry* tool = Find(entries, "bin/tool");
  ASSERT_NE(tool, nullptr);
  EXPECT_EQ(tool->type, AE_IFREG);
  EXPECT_EQ(tool->perm, 04755);
  EXPECT_EQ(tool->data, std::string(300000, 'x') + "end");
  const ReadEntry* alias = Find(entries, "bin/tool-alias");
  ASSERT_NE(alias, nullptr);
  EXPECT_EQ(alias->hardlink, "bin/tool");
  EXPECT_EQ(alias->size, 0);
  const ReadEntry* sh = Find(entries, "bin/sh");
  ASSERT_NE(sh, nullptr);
  EXPECT_EQ(sh->type, AE_IFLNK);
  EXPECT_EQ(sh->symlink, "tool");
  EXPECT_EQ(Find(entries, "bin/dangling")->symlink, "/nonexistent/absolute");
  EXPECT_EQ(Find(entries, "empty/")->perm, 01777);
  EXPECT_EQ(Find(entries, "etc/")->perm, 0750);
  EXPECT_EQ(Find(entries, "fifo")->type, AE_IFIFO);
  EXPECT_EQ(Find(entries, "etc/passwd")->mtime, 1500000000);
  EXPECT_THAT(Find(entries, "etc/passwd")->xattrs,
              ElementsAre(std::pair<std::string, std::string>("user.comment", "hello")));
  EXPECT_THAT(Find(entries, "etc/")->xattrs, ElementsAre(std::pair<std::string, std::string>(
                                                 "user.dir", std::string("bin\0ary", 7))));
  ASSERT_NE(Find(entries, "caf\xc3\xa9"), nullptr);
  ASSERT_NE(Find(entries, std::string(120, 'L')), nullptr);
  EXPECT_EQ(Find(entries, std::string(120, 'L'))->data, "long name");
  if (geteuid() == 0) {
    EXPECT_EQ(Find(entries, "etc/shadow")->gid, 42);
    EXPECT_EQ(Find(entries, "bin/sh")->uid, 7);
    EXPECT_EQ(Find(entries, "etc/")->uid, 1000);
    EXPECT_EQ(Find(entries, "null")->type, AE_IFCHR);
    EXPECT_EQ(Find(entries, "loop9")->type, AE_IFBLK);
    ASSERT_EQ(tool->xattrs.size(), 1u);
    EXPECT_EQ(tool->xattrs[0].first, "security.capability");
  }
}

TEST(TarWriterTest, OrderIsDepthFirstByName) {
  TempDir t;
  std::string root = t / "root";
  MakeDir(root);
  MakeDir(root + "/a");
  WriteFile(root + "/a/b", "");
  WriteFile(root + "/a-b", "");
  WriteFile(root + "/B", "");
  WriteFile(root + "/b", "");
  MakeDir(root + "/a/c");
  WriteFile(root + "/a/c/z", "");
  WriteFile(root + "/a/a", "");
  Result<std::string> tar = Tar(root);
  ASSERT_TRUE(tar.ok()) << tar.error().ToString();
  EXPECT_THAT(Paths(ReadTar(*tar)),
              ElementsAre("B", "a/", "a/a", "a/b", "a/c/", "a/c/z", "a-b", "b"));
}

TEST(TarWriterTest, SourceDateEpochGivesIdenticalBytes) {
  TempDir t;
  std::string root = t / "root";
  MakeSampleTree(t, root);
  SetMtime(root + "/etc/shadow", 100);  // older than the epoch: kept
  TarOptions options;
  options.source_date_epoch = 1700000000;
  Result<std::string> first = Tar(root, options);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  // Touching files (new mtimes, all after the epoch) changes nothing.
  SetMtime(root + "/bin/tool", 1800000000);
  SetMtime(root + "/empty", 1750000000);
  Result<std::string> second = Tar(root, options);
  ASSERT_TRUE(second.ok()) << second.error().ToString();
  EXPECT_EQ(digest::FromBytes(*first), digest::FromBytes(*second));
  std::vector<ReadEntry> entries = ReadTar(*first);
  EXPECT_EQ(Find(entries, "bin/tool")->mtime, 1700000000);
  EXPECT_EQ(Find(entries, "etc/shadow")->mtime, 100);
  EXPECT_EQ(Find(entries, "etc/passwd")->mtime, 1500000000);
  // No pax header carries a pid, atime or ctime.
  EXPECT_EQ(first->find("atime="), std::string::npos);
  EXPECT_EQ(first->find("ctime="), std::string::npos);
  EXPECT_EQ(first->find("PaxHeaders."), std::string::npos);

  // Without an epoch the touched file shows its new mtime.
  Result<std::string> plain = Tar(root);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(Find(ReadTar(*plain), "bin/tool")->mtime, 1800000000);
}

TEST(TarWriterTest, SourceDateEpochFromEnv) {
  unsetenv("SOURCE_DATE_EPOCH");
  EXPECT_EQ(*SourceDateEpochFromEnv(), std::nullopt);
  setenv("SOURCE_DATE_EPOCH", "1234", 1);
  EXPECT_EQ(*SourceDateEpochFromEnv(), 1234);
  setenv("SOURCE_DATE_EPOCH", "12x", 1);
  EXPECT_EQ(SourceDateEpochFromEnv().error().code(), ErrorCode::kInvalidArgument);
  setenv("SOURCE_DATE_EPOCH", "-5", 1);
  EXPECT_FALSE(SourceDateEpochFromEnv().ok());
  unsetenv("SOURCE_DATE_EPOCH");
}

TEST(TarWriterTest, RefusesReservedWhiteoutNames) {
  TempDir t;
  std::string root = t / "root";
  MakeDir(root);
  MakeDir(root + "/d");
  WriteFile(root + "/d/.wh.sneaky", "");
  Result<std::string> tar = Tar(root);
  ASSERT_FALSE(tar.ok());
  EXPECT_EQ(tar.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(tar.error().ToString(), HasSubstr("d/.wh.sneaky"));
}

TEST(TarWriterTest, MissingDirectoryIsNotFound) {
  Result<std::string> tar = Tar("/nonexistent/berth/dir");
  ASSERT_FALSE(tar.ok());
  EXPECT_EQ(tar.error().code(), ErrorCode::kNotFound);
}

TEST(TarWriterTest, CancelledContextStops) {
  TempDir t;
  std::string root = t / "root";
  MakeSampleTree(t, root);
  Context ctx = Context::Background().WithCancel();
  ctx.Cancel("stop");
  StringWriter out;
  Result<TarStats> r = WriteLayerTar(ctx, root, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
}

// Real overlay whiteouts need mknod (CAP_MKNOD) and trusted.* xattrs (CAP_SYS_ADMIN).
bool CanMakeOverlayUpper(const std::string& dir) {
  std::string probe = dir + "/probe";
  if (mknod(probe.c_str(), S_IFCHR | 0, makedev(0, 0)) != 0) {
    return false;
  }
  unlink(probe.c_str());
  return setxattr(dir.c_str(), "trusted.berth-probe", "1", 1, 0) == 0 &&
         removexattr(dir.c_str(), "trusted.berth-probe") == 0;
}

TEST(TarWriterTest, ConvertsOverlayWhiteoutsAndOpaqueDirs) {
  TempDir t;
  std::string upper = t / "upper";
  MakeDir(upper);
  if (!CanMakeOverlayUpper(upper)) {
    GTEST_SKIP() << "needs CAP_MKNOD and CAP_SYS_ADMIN (trusted.* xattrs) to fake an upper";
  }
  ASSERT_EQ(mknod((upper + "/gone").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  MakeDir(upper + "/opq");
  SetXattr(upper + "/opq", "trusted.overlay.opaque", "y");
  SetXattr(upper + "/opq", "user.keep", "1");
  WriteFile(upper + "/opq/new", "new");
  WriteFile(upper + "/opq/-first", "sorts before the marker's '.'");
  MakeDir(upper + "/uopq");
  SetXattr(upper + "/uopq", "user.overlay.opaque", "y");
  MakeDir(upper + "/notopq");
  SetXattr(upper + "/notopq", "trusted.overlay.opaque", "x");  // "may hold xattr whiteouts"
  ASSERT_EQ(mknod((upper + "/notopq/gone2").c_str(), S_IFCHR | 0, makedev(0, 0)), 0);
  // overlayfs shares one whiteout inode between many names: not hard links in the layer.
  Hardlink(upper + "/notopq/gone2", upper + "/notopq/gone3");
  WriteFile(upper + "/copied-up", "x");
  SetXattr(upper + "/copied-up", "trusted.overlay.origin", "abc");
  ASSERT_EQ(mknod((upper + "/realdev").c_str(), S_IFCHR | 0600, makedev(1, 7)), 0);

  TarOptions options;
  options.layout = SourceLayout::kOverlayUpper;
  Result<std::string> tar = Tar(upper, options);
  ASSERT_TRUE(tar.ok()) << tar.error().ToString();
  std::vector<ReadEntry> entries = ReadTar(*tar);
  EXPECT_THAT(Paths(entries),
              ElementsAre(".wh.gone", "copied-up", "notopq/", "notopq/.wh.gone2",
                          "notopq/.wh.gone3", "opq/", "opq/.wh..wh..opq", "opq/-first", "opq/new",
                          "realdev", "uopq/", "uopq/.wh..wh..opq"));
  const ReadEntry* wh = Find(entries, ".wh.gone");
  EXPECT_EQ(wh->type, AE_IFREG);
  EXPECT_EQ(wh->size, 0);
  EXPECT_TRUE(Find(entries, "notopq/.wh.gone3")->hardlink.empty());
  EXPECT_TRUE(Find(entries, "copied-up")->xattrs.empty());
  EXPECT_THAT(Find(entries, "opq/")->xattrs,
              ElementsAre(std::pair<std::string, std::string>("user.keep", "1")));
  EXPECT_TRUE(Find(entries, "uopq/")->xattrs.empty());
  EXPECT_EQ(Find(entries, "realdev")->type, AE_IFCHR);

  // As a plain directory the same tree keeps its devices, loses only trusted.overlay.*.
  Result<std::string> plain = Tar(upper);
  ASSERT_TRUE(plain.ok()) << plain.error().ToString();
  std::vector<ReadEntry> plain_entries = ReadTar(*plain);
  EXPECT_EQ(Find(plain_entries, "gone")->type, AE_IFCHR);
  EXPECT_EQ(Find(plain_entries, "opq/.wh..wh..opq"), nullptr);
  EXPECT_EQ(Find(plain_entries, "notopq/gone3")->hardlink, "notopq/gone2");
  EXPECT_THAT(Find(plain_entries, "uopq/")->xattrs,
              ElementsAre(std::pair<std::string, std::string>("user.overlay.opaque", "y")));
}

TEST(TarWriterTest, RefusesUppersThatNeedTheirLowers) {
  TempDir t;
  std::string upper = t / "upper";
  MakeDir(upper);
  if (!CanMakeOverlayUpper(upper)) {
    GTEST_SKIP() << "needs CAP_SYS_ADMIN for trusted.* xattrs";
  }
  MakeDir(upper + "/moved");
  SetXattr(upper + "/moved", "trusted.overlay.redirect", "/orig");
  TarOptions options;
  options.layout = SourceLayout::kOverlayUpper;
  Result<std::string> tar = Tar(upper, options);
  ASSERT_FALSE(tar.ok());
  EXPECT_EQ(tar.error().code(), ErrorCode::kUnimplemented);
  EXPECT_THAT(tar.error().ToString(), HasSubstr("moved"));
}

// GNU tar reads what we write, and extracting it gives back the source tree.
TEST(TarWriterTest, SystemTarListsAndExtracts) {
  if (Shell("tar --version >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "no system tar";
  }
  TempDir t;
  std::string root = t / "root";
  MakeSampleTree(t, root);
  Result<std::string> tar = Tar(root);
  ASSERT_TRUE(tar.ok()) << tar.error().ToString();
  WriteFile(t / "layer.tar", *tar);
  ASSERT_EQ(Shell("tar -tvf '" + (t / "layer.tar") + "' > '" + (t / "listing") + "' 2>&1"), 0)
      << testing::ReadFileOrEmpty(t / "listing");
  std::string listing = testing::ReadFileOrEmpty(t / "listing");
  EXPECT_THAT(listing, HasSubstr("bin/tool-alias link to bin/tool"));
  EXPECT_THAT(listing, HasSubstr("bin/sh -> tool"));
  EXPECT_THAT(listing, HasSubstr("etc/passwd"));
  EXPECT_THAT(listing, HasSubstr("caf\xc3\xa9"));
  EXPECT_THAT(listing, ::testing::Not(HasSubstr("Ignoring")));

  MakeDir(t / "out");
  ASSERT_EQ(Shell("tar --xattrs --xattrs-include='*' --numeric-owner -xpf '" + (t / "layer.tar") +
                  "' -C '" + (t / "out") + "' 2>'" + (t / "err") + "'"),
            0)
      << testing::ReadFileOrEmpty(t / "err");
  EXPECT_EQ(DescribeTree(t / "out"), DescribeTree(root));
}

}  // namespace
}  // namespace berth::archive
