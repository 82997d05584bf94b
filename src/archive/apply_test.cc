#include "archive/apply.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "archive/tar_writer.h"
#include "archive/testing/tree.h"
#include "base/scope_exit.h"
#include "compress/compress.h"
#include "digest/digest.h"

namespace berth::archive {
namespace {

using testing::DescribeTree;
using testing::Hardlink;
using ::testing::HasSubstr;
using testing::MakeDir;
using testing::ReadFileOrEmpty;
using testing::SetMtime;
using testing::SetXattr;
using testing::Symlink;
using testing::TarBuilder;
using testing::TempDir;
using testing::WriteFile;

Result<ApplyStats> Apply(const std::string& tar, const std::string& target,
                         const ApplyOptions& options = {}) {
  StringReader reader(tar);
  return ApplyLayer(Context::Background(), reader, target, options);
}

std::string Compress(compress::Format format, const std::string& data) {
  StringWriter out;
  auto w = compress::NewWriter(format, out);
  EXPECT_TRUE(w.ok());
  EXPECT_TRUE((*w)->Write(data).ok());
  EXPECT_TRUE((*w)->Close().ok());
  return out.Take();
}

// The content hash prefix DescribeTree() shows for a file holding `data`.
std::string H(std::string_view data) {
  return digest::FromBytes(data).hex().substr(0, 16);
}

void MakeSampleTree(const std::string& root) {
  MakeDir(root);
  MakeDir(root + "/etc", 0750);
  WriteFile(root + "/etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0644);
  SetXattr(root + "/etc/passwd", "user.comment", "hello");
  MakeDir(root + "/bin");
  WriteFile(root + "/bin/tool", std::string(700000, 'x'), 04755);
  Hardlink(root + "/bin/tool", root + "/bin/tool-alias");
  Symlink("tool", root + "/bin/sh");
  Symlink("../../../../outside", root + "/bin/escape-looking");
  MakeDir(root + "/ro", 0500);
  WriteFile(root + "/ro/inside", "in a read-only dir", 0400);
  MakeDir(root + "/tmp", 01777);
  WriteFile(root + "/caf\xc3\xa9", "utf8");
  WriteFile(root + "/bad\xff", "not utf8");
  ASSERT_EQ(mkfifo((root + "/fifo").c_str(), 0640), 0);
  if (geteuid() == 0) {
    std::string cap(20, '\0');
    cap[0] = 0x01;
    cap[3] = 0x02;
    cap[5] = 0x04;
    SetXattr(root + "/bin/tool", "security.capability", cap);
    ASSERT_EQ(chown((root + "/etc").c_str(), 1000, 1001), 0);
    ASSERT_EQ(lchown((root + "/bin/sh").c_str(), 7, 8), 0);
    ASSERT_EQ(mknod((root + "/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(mknod((root + "/sda").c_str(), S_IFBLK | 0660, makedev(8, 0)), 0);
  }
  SetMtime(root + "/etc/passwd", 1500000000);
  SetMtime(root + "/ro", 1400000000);  // after its child was written
  SetMtime(root + "/etc", 1300000000);
}

TEST(ApplyTest, RoundTripGivesTheSameTree) {
  TempDir t;
  std::string src = t / "src";
  MakeSampleTree(src);
  StringWriter tar;
  ASSERT_TRUE(WriteLayerTar(Context::Background(), src, tar).ok());
  for (compress::Format format :
       {compress::Format::kNone, compress::Format::kGzip, compress::Format::kZstd}) {
    SCOPED_TRACE(compress::FormatName(format));
    std::string dst = t / ("dst-" + std::string(compress::FormatName(format)));
    MakeDir(dst);
    Result<ApplyStats> stats = Apply(Compress(format, tar.data()), dst);
    ASSERT_TRUE(stats.ok()) << stats.error().ToString();
    EXPECT_EQ(DescribeTree(dst), DescribeTree(src));
    EXPECT_GT(stats->entries, 10u);
    EXPECT_EQ(stats->file_bytes, 700000u + 26 + 18 + 4 + 8);
  }
}

TEST(ApplyTest, WhiteoutsAndOpaqueDirsHideLowerFiles) {
  TempDir t;
  std::string dst = t / "dst";
  MakeDir(dst);
  MakeDir(dst + "/a");
  WriteFile(dst + "/a/x", "lower");
  WriteFile(dst + "/a/y", "lower");
  MakeDir(dst + "/b");
  WriteFile(dst + "/b/z", "lower");
  MakeDir(dst + "/opq");
  WriteFile(dst + "/opq/old", "lower");
  MakeDir(dst + "/opq/sub");
  WriteFile(dst + "/opq/sub/deep", "lower");
  MakeDir(dst + "/late");
  WriteFile(dst + "/late/old", "lower");
  MakeDir(dst + "/late/kept");
  WriteFile(dst + "/late/kept/old", "lower");
  Symlink("/etc", dst + "/link");

  std::string layer = TarBuilder()
                          .Whiteout("a/x")
                          .Whiteout("b")
                          .Whiteout("link")
                          .Whiteout("missing")
                          .Whiteout("nodir/missing")
                          .Dir("opq")
                          .Opaque("opq")
                          .File("opq/new", "layer")
                          .Dir("late")
                          .File("late/new", "layer")
                          .Dir("late/kept")
                          .File("late/kept/new", "layer")
                          // An opaque marker after the layer's own entries keeps them.
                          .Opaque("late")
                          .File("same", "layer")
                          // A whiteout never hides an entry of its own layer.
                          .Whiteout("same")
                          .Finish();
  Result<ApplyStats> stats = Apply(layer, dst);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  EXPECT_EQ(stats->whiteouts, 8u);
  testing::DescribeOptions names_only{.mtimes = false, .owners = false, .xattrs = false};
  std::string lower = " f 0644 size=5 " + H("lower") + "\n";
  std::string layer_file = " f 0644 size=5 " + H("layer") + "\n";
  EXPECT_EQ(DescribeTree(dst, names_only),
            "a d 0755\n"
            "a/y" +
                lower +
                "late d 0755\n"
                "late/kept d 0755\n"
                "late/kept/new" +
                layer_file + "late/new" + layer_file +
                "opq d 0755\n"
                "opq/new" +
                layer_file + "same" + layer_file);
  EXPECT_TRUE(access("/etc", F_OK) == 0);  // the whiteout removed the link, not its target
}

TEST(ApplyTest, EntriesReplaceWhatIsThere) {
  TempDir t;
  std::string dst = t / "dst";
  MakeDir(dst);
  MakeDir(dst + "/dir-becomes-file");
  WriteFile(dst + "/dir-becomes-file/child", "x");
  WriteFile(dst + "/file-becomes-dir", "x");
  Symlink("/etc", dst + "/link-becomes-dir");
  WriteFile(dst + "/kept-dir-file", "x");
  MakeDir(dst + "/kept");
  WriteFile(dst + "/kept/old", "stays");

  TarBuilder::Meta mode700 = TarBuilder::Dir755();
  mode700.perm = 0700;
  std::string layer = TarBuilder()
                          .File("dir-becomes-file", "now a file")
                          .Dir("file-becomes-dir")
                          .Dir("link-becomes-dir")
                          .File("link-becomes-dir/f", "inside")
                          .Dir("kept", mode700)
                          .File("kept/new", "new")
                          .File("deep/missing/parents/f", "made")
                          .Finish();
  Result<ApplyStats> stats = Apply(layer, dst);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  testing::DescribeOptions names_only{.mtimes = false, .owners = false, .xattrs = false};
  EXPECT_EQ(DescribeTree(dst, names_only),
            "deep d 0755\n"
            "deep/missing d 0755\n"
            "deep/missing/parents d 0755\n"
            "deep/missing/parents/f f 0644 size=4 " +
                H("made") +
                "\n"
                "dir-becomes-file f 0644 size=10 " +
                H("now a file") +
                "\n"
                "file-becomes-dir d 0755\n"
                "kept d 0700\n"
                "kept-dir-file f 0644 size=1 " +
                H("x") +
                "\n"
                "kept/new f 0644 size=3 " +
                H("new") +
                "\n"
                "kept/old f 0644 size=5 " +
                H("stays") +
                "\n"
                "link-becomes-dir d 0755\n"
                "link-becomes-dir/f f 0644 size=6 " +
                H("inside") + "\n");
}

TEST(ApplyTest, RootEntryAndDirectoryTimesAreKept) {
  TempDir t;
  std::string dst = t / "dst";
  MakeDir(dst, 0700);
  TarBuilder::Meta root = TarBuilder::Dir755();
  root.mtime = 1234;
  TarBuilder::Meta d = TarBuilder::Dir755();
  d.mtime = 5678;
  d.perm = 0555;
  std::string layer =
      TarBuilder().Dir("./", root).Dir("./d", d).File("./d/f", "x").File("/abs", "y").Finish();
  Result<ApplyStats> stats = Apply(layer, dst);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  struct stat st;
  ASSERT_EQ(stat(dst.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1234);
  ASSERT_EQ(stat((dst + "/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0555u);
  EXPECT_EQ(st.st_mtim.tv_sec, 5678);
  EXPECT_EQ(ReadFileOrEmpty(dst + "/abs"), "y");  // a leading "/" means the target
}

TEST(ApplyTest, SparseFilesKeepTheirHoles) {
  TempDir t;
  std::string src = t / "src";
  MakeDir(src);
  ASSERT_EQ(testing::Shell("cd '" + src + "' && truncate -s 3000000 sparse && echo tail >> sparse" +
                           " && tar --sparse --format=pax -cf ../sparse.tar sparse"),
            0);
  std::string dst = t / "dst";
  MakeDir(dst);
  Result<ApplyStats> stats = Apply(ReadFileOrEmpty(t / "sparse.tar"), dst);
  ASSERT_TRUE(stats.ok()) << stats.error().ToString();
  EXPECT_EQ(ReadFileOrEmpty(dst + "/sparse"), ReadFileOrEmpty(src + "/sparse"));
  EXPECT_LT(stats->file_bytes, 100000u);  // only the data, not the hole
  struct stat st;
  ASSERT_EQ(stat((dst + "/sparse").c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 3000005);
  EXPECT_LT(st.st_blocks * 512, 1000000);
}

TEST(ApplyTest, CorruptInputIsDataLoss) {
  TempDir t;
  std::string dst = t / "dst";
  MakeDir(dst);
  std::string layer = TarBuilder().File("f", std::string(100000, 'a')).Finish();

  Result<ApplyStats> garbage = Apply("this is not a tar archive at all, not even close......", dst);
  ASSERT_FALSE(garbage.ok());
  EXPECT_EQ(garbage.error().code(), ErrorCode::kDataLoss);

  Result<ApplyStats> truncated = Apply(layer.substr(0, 5000), dst);
  ASSERT_FALSE(truncated.ok());
  EXPECT_EQ(truncated.error().code(), ErrorCode::kDataLoss);

  std::string gz = Compress(compress::Format::kGzip, layer);
  gz[gz.size() - 6] ^= 0x55;  // the CRC
  Result<ApplyStats> bad_crc = Apply(gz, dst);
  ASSERT_FALSE(bad_crc.ok());
  EXPECT_EQ(bad_crc.error().code(), ErrorCode::kDataLoss) << bad_crc.error().ToString();

  EXPECT_TRUE(Apply("", dst).ok());  // an empty stream is an empty layer
}

// The point of the overlay layout: a real overlayfs upper, exported and applied onto its lower,
// gives what the mount showed.
TEST(OverlayTest, UpperAppliedOnLowerEqualsMergedView) {
  TempDir t;
  std::string lower = t / "lower", upper = t / "upper", work = t / "work", merged = t / "merged";
  MakeSampleTree(lower);
  MakeDir(lower + "/gone-dir");
  WriteFile(lower + "/gone-dir/f", "x");
  MakeDir(lower + "/opaque");
  WriteFile(lower + "/opaque/old", "old");
  MakeDir(lower + "/opaque/sub");
  WriteFile(lower + "/opaque/sub/old", "old");
  MakeDir(upper);
  MakeDir(work);
  MakeDir(merged);
  std::string options = "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + work +
                        ",redirect_dir=off,metacopy=off";
  if (mount("overlay", merged.c_str(), "overlay", 0, options.c_str()) != 0) {
    GTEST_SKIP() << "cannot mount overlayfs here: " << std::strerror(errno);
  }
  bool mounted = true;
  auto unmount = [&] {
    if (mounted) {
      mounted = umount2(merged.c_str(), MNT_DETACH) != 0;
    }
  };
  ScopeExit unmount_on_failure(unmount);  // before TempDir removes the tree
  ASSERT_EQ(unlink((merged + "/etc/passwd").c_str()), 0);
  ASSERT_EQ(testing::Shell("rm -rf '" + merged + "/gone-dir' '" + merged + "/opaque'"), 0);
  MakeDir(merged + "/opaque");  // recreated: opaque in the upper
  WriteFile(merged + "/opaque/new", "new");
  WriteFile(merged + "/bin/tool", "rewritten", 0755);            // copy-up
  ASSERT_EQ(chmod((merged + "/caf\xc3\xa9").c_str(), 0600), 0);  // metadata-only copy-up
  ASSERT_EQ(rename((merged + "/fifo").c_str(), (merged + "/fifo2").c_str()), 0);
  WriteFile(merged + "/etc/new", "added");
  Symlink("new", merged + "/etc/new-link");
  SetXattr(merged + "/etc/new", "user.x", "1");
  std::string want = DescribeTree(merged);
  unmount();
  ASSERT_FALSE(mounted);

  TarOptions tar_options;
  tar_options.layout = SourceLayout::kOverlayUpper;
  StringWriter tar;
  Result<TarStats> written = WriteLayerTar(Context::Background(), upper, tar, tar_options);
  ASSERT_TRUE(written.ok()) << written.error().ToString();
  EXPECT_GE(written->whiteouts, 4u);  // passwd, gone-dir, fifo, opaque marker

  std::string dst = t / "dst";
  ASSERT_EQ(testing::Shell("cp -a '" + lower + "' '" + dst + "'"), 0);
  Result<ApplyStats> applied = Apply(tar.data(), dst);
  ASSERT_TRUE(applied.ok()) << applied.error().ToString();
  EXPECT_EQ(DescribeTree(dst), want);
}

// --- Hostile layers -----------------------------------------------------------------------------

// A target inside a parent that also holds "outside/secret", the file attacks aim at.
class HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    target_ = t_ / "target";
    MakeDir(target_);
    MakeDir(t_ / "outside");
    WriteFile(t_ / "outside/secret", "secret");
    before_ = Outside();
  }

  // Everything but the target.
  std::string Outside() {
    std::string all = DescribeTree(t_.path());
    std::string out;
    size_t pos = 0;
    while (pos < all.size()) {
      size_t nl = all.find('\n', pos);
      std::string line = all.substr(pos, nl - pos + 1);
      if (line.rfind("target", 0) != 0) {
        out += line;
      }
      pos = nl + 1;
    }
    return out;
  }

  // Applies `layer`, expects InvalidArgument mentioning `name`, and nothing touched outside.
  void ExpectRefused(const std::string& layer, const std::string& name,
                     const ApplyOptions& options = {}) {
    Result<ApplyStats> r = Apply(layer, target_, options);
    ASSERT_FALSE(r.ok()) << "applied a hostile layer";
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
    EXPECT_THAT(r.error().ToString(), HasSubstr(name));
    EXPECT_EQ(Outside(), before_);
    EXPECT_EQ(ReadFileOrEmpty(t_ / "outside/secret"), "secret");
  }

  TempDir t_;
  std::string target_;
  std::string before_;
};

TEST_F(HostileTest, DotDotPaths) {
  ExpectRefused(TarBuilder().File("../outside/pwned", "x").Finish(), "../outside/pwned");
  ExpectRefused(TarBuilder().File("a/../../outside/pwned", "x").Finish(), "a/../../outside");
  ExpectRefused(TarBuilder().Dir("..").Finish(), "..");
  ExpectRefused(TarBuilder().Symlink("a/..", "x").Finish(), "a/..");
}

TEST_F(HostileTest, AbsolutePathsStayInside) {
  Result<ApplyStats> r = Apply(TarBuilder().File("/outside/pwned", "x").Finish(), target_);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ReadFileOrEmpty(target_ + "/outside/pwned"), "x");
  EXPECT_EQ(Outside(), before_);
}

TEST_F(HostileTest, WritingThroughAPlantedSymlink) {
  ExpectRefused(TarBuilder().Symlink("link", "../outside").File("link/pwned", "x").Finish(),
                "link/pwned");
  ExpectRefused(TarBuilder().Symlink("abs", t_.path()).File("abs/outside/pwned", "x").Finish(),
                "abs/outside/pwned");
  ExpectRefused(TarBuilder().Symlink("root", "/").Dir("root/tmp/pwned").Finish(), "root/tmp/pwned");
  ExpectRefused(TarBuilder()
                    .Dir("d")
                    .Symlink("d/up", "../..")
                    .Symlink("d/up2", "up/outside")
                    .File("d/up2/secret", "overwritten")
                    .Finish(),
                "d/up2/secret");
  // The symlink itself is fine and stays a symlink.
  struct stat st;
  ASSERT_EQ(lstat((target_ + "/link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST_F(HostileTest, WritingThroughALowerLayersSymlink) {
  Symlink("../outside", target_ + "/lower-link");
  ExpectRefused(TarBuilder().File("lower-link/secret", "overwritten").Finish(),
                "lower-link/secret");
  ExpectRefused(TarBuilder().Dir("lower-link/newdir").Finish(), "lower-link/newdir");
}

TEST_F(HostileTest, ReplacingASymlinkNeverFollowsIt) {
  Result<ApplyStats> r = Apply(TarBuilder()
                                   .Symlink("f", "../outside/secret")
                                   .File("f", "replaced")
                                   .Symlink("d", "../outside")
                                   .Dir("d")
                                   .File("d/secret", "inside")
                                   .Symlink("n", "../outside/newnode")
                                   .Fifo("n")
                                   .Finish(),
                               target_);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ReadFileOrEmpty(target_ + "/f"), "replaced");
  EXPECT_EQ(ReadFileOrEmpty(target_ + "/d/secret"), "inside");
  EXPECT_EQ(Outside(), before_);
}

TEST_F(HostileTest, HardlinksOutOfTheTarget) {
  ExpectRefused(TarBuilder().Hardlink("h", "../outside/secret").Finish(), "../outside/secret");
  ExpectRefused(TarBuilder().Symlink("link", "../outside").Hardlink("h", "link/secret").Finish(),
                "link/secret");
  ExpectRefused(TarBuilder().Hardlink("h", "/etc/passwd").Finish(), "/etc/passwd");
  ExpectRefused(TarBuilder().Dir("d").Hardlink("h", "d").Finish(), "\"d\"");
  ExpectRefused(TarBuilder().Hardlink("h", "h").Finish(), "\"h\"");
  ExpectRefused(TarBuilder().Hardlink("h", "/").Finish(), "\"/\"");
  // A hard link to a symlink links the symlink, not what it points at.
  Result<ApplyStats> r =
      Apply(TarBuilder().Symlink("s", "../outside/secret").Hardlink("h", "s").Finish(), target_);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  struct stat st;
  ASSERT_EQ(lstat((target_ + "/h").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(Outside(), before_);
}

TEST_F(HostileTest, WhiteoutsOutOfTheTarget) {
  ExpectRefused(TarBuilder().Whiteout("../outside").Finish(), "../.wh.outside");
  ExpectRefused(TarBuilder().File(".wh..", "").Finish(), ".wh..");
  ExpectRefused(TarBuilder().File("a/.wh...", "").Finish(), "a/.wh...");
  ExpectRefused(TarBuilder().Symlink("link", "../outside").Whiteout("link/secret").Finish(),
                "link/.wh.secret");
  ExpectRefused(TarBuilder().Symlink("link", "../outside").Opaque("link").Finish(),
                "link/.wh..wh..opq");
  ExpectRefused(TarBuilder().Symlink("link", "..").Opaque("link/outside").Finish(),
                "link/outside/.wh..wh..opq");
}

TEST_F(HostileTest, EntriesBelowAFile) {
  ExpectRefused(TarBuilder().File("f", "x").File("f/g", "y").Finish(), "f/g");
}

TEST_F(HostileTest, FollowingSymlinksInRootStaysInside) {
  ApplyOptions options;
  options.follow_symlinks_in_root = true;
  Result<ApplyStats> r = Apply(TarBuilder()
                                   .Symlink("up", "../../../..")
                                   .File("up/escaped", "x")
                                   .Dir("outside")
                                   .Symlink("abs", "/outside")
                                   .File("abs/secret", "inside")
                                   .Symlink("usr-bin", "/usr/bin")
                                   .Dir("usr")
                                   .Dir("usr/bin")
                                   .File("usr-bin/tool", "tool")
                                   .Finish(),
                               target_, options);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ReadFileOrEmpty(target_ + "/outside/secret"), "inside");
  EXPECT_EQ(ReadFileOrEmpty(target_ + "/usr/bin/tool"), "tool");
  EXPECT_EQ(ReadFileOrEmpty(target_ + "/escaped"), "x");  // "up" resolved to the target
  EXPECT_EQ(Outside(), before_);
  // Still no ".." and no dangling-symlink directories.
  ExpectRefused(TarBuilder().File("../x", "").Finish(), "../x", options);
  ExpectRefused(TarBuilder().Symlink("dangle", "/nowhere").File("dangle/x", "").Finish(),
                "dangle/x", options);
}

}  // namespace
}  // namespace berth::archive

namespace berth::archive {
namespace {

// Writes the seed corpus of tests/fuzz/tar_fuzz.cc. Run by hand after changing it:
//   archive_test --gtest_also_run_disabled_tests --gtest_filter='FuzzCorpus.*'
TEST(FuzzCorpus, DISABLED_Write) {
  std::string dir = std::string(BERTH_SOURCE_DIR) + "/tests/fuzz/corpus/tar";
  ASSERT_EQ(testing::Shell("mkdir -p '" + dir + "'"), 0);
  auto put = [&](const std::string& name, const std::string& data) {
    WriteFile(dir + "/" + name, data);
  };
  TarBuilder::Meta with_xattrs;
  with_xattrs.uid = 1000;
  with_xattrs.gid = 1000;
  with_xattrs.xattrs = {{"user.k", "v"}, {"trusted.overlay.redirect", "/x"}};
  std::string layer = TarBuilder()
                          .Dir("etc")
                          .File("etc/passwd", "root:x:0:0::/root:/bin/sh\n", with_xattrs)
                          .Symlink("etc/link", "passwd")
                          .Hardlink("etc/hard", "etc/passwd")
                          .Fifo("etc/fifo")
                          .CharDevice("null", 1, 3)
                          .Whiteout("gone")
                          .Dir("opq")
                          .Opaque("opq")
                          .File("opq/" + std::string(150, 'n'), "long name")
                          .File("caf\xc3\xa9", "utf8")
                          .Finish();
  put("layer.tar", layer);
  put("layer.tar.gz", Compress(compress::Format::kGzip, layer));
  put("layer.tar.zst", Compress(compress::Format::kZstd, layer));
  put("dotdot.tar", TarBuilder().File("../escape", "x").File("a/../../b", "y").Finish());
  put("symlink-through.tar", TarBuilder()
                                 .Symlink("link", "../outside")
                                 .File("link/secret", "overwritten")
                                 .Symlink("up", "../../../../..")
                                 .Dir("up/tmp/pwned")
                                 .Finish());
  put("hardlink-out.tar", TarBuilder()
                              .Hardlink("h1", "../outside/secret")
                              .Symlink("l", "..")
                              .Hardlink("h2", "l/outside/secret")
                              .Finish());
  put("whiteout-out.tar", TarBuilder()
                              .Whiteout("../outside")
                              .Symlink("l", "../outside")
                              .Whiteout("l/secret")
                              .Opaque("l")
                              .Finish());
  put("replace.tar", TarBuilder()
                         .Symlink("f", "../outside/secret")
                         .File("f", "replaced")
                         .Dir("d")
                         .File("d", "file over dir")
                         .Dir("/abs")
                         .File("abs/f", "inside")
                         .Finish());
  // A GNU sparse file, the one path that writes at offsets.
  TempDir t;
  WriteFile(t / "sparse", "");
  ASSERT_EQ(testing::Shell("cd '" + t.path() + "' && truncate -s 200000 sparse && echo end >> " +
                           "sparse && tar --sparse --format=gnu -cf sparse.tar sparse"),
            0);
  put("sparse.tar", ReadFileOrEmpty(t / "sparse.tar"));
}

}  // namespace
}  // namespace berth::archive
