// Import and save checked end to end with the real tools: umoci unpacks what `save --format oci`
// writes, skopeo inspects both archive formats, runc runs the imported busybox.
#include "images/import.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "archive/apply.h"
#include "archive/testing/tree.h"
#include "compress/compress.h"
#include "content/local_store.h"
#include "images/blob_source.h"
#include "images/root.h"
#include "images/save.h"
#include "oci/media_types.h"
#include "os/file.h"

namespace berth::images {
namespace {

using archive::testing::TarBuilder;
using archive::testing::TempDir;

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

CommandResult RunCommand(const std::string& command) {
  CommandResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (p == nullptr) {
    return r;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
    r.output.append(buf, n);
  }
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

bool HaveTool(const std::string& tool) {
  return RunCommand("command -v " + tool + " >/dev/null").exit_code == 0;
}

// A small root filesystem: a few files, a directory, a symlink and a hard link.
void MakeTree(const std::string& root) {
  using namespace archive::testing;  // NOLINT(google-build-using-namespace)
  MakeDir(root + "/etc");
  WriteFile(root + "/etc/hostname", "berth\n");
  WriteFile(root + "/etc/motd", "hello from an imported image\n");
  MakeDir(root + "/bin");
  WriteFile(root + "/bin/tool", "#!/bin/sh\necho tool\n", 0755);
  Symlink("tool", root + "/bin/alias");
  Hardlink(root + "/etc/motd", root + "/etc/motd.link");
  MakeDir(root + "/usr");
  MakeDir(root + "/usr/share");
  MakeDir(root + "/usr/share/doc");
  WriteFile(root + "/usr/share/doc/README", std::string(100000, 'x'));
  SetMtime(root + "/etc/motd", 2000000000);
}

class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<std::unique_ptr<Root>> root = Root::Open(dir_ / "root");
    ASSERT_TRUE(root.ok()) << root.error().ToString();
    root_ = std::move(root).value();
  }

  Result<ImportResult> Import(const std::string& source, const std::string& name,
                              const ImportOptions& options = {}) {
    return images::Import(ctx_, root_->content(), root_->images(), source, name, options);
  }

  // Saves `names` to a file and returns its path.
  std::string SaveTo(const std::vector<std::string>& names, SaveFormat format,
                     const std::string& file) {
    std::string path = dir_ / file;
    UniqueFd fd = os::Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644).value();
    FdWriter out(std::move(fd));
    Result<> saved = Save(ctx_, root_->content(), root_->images(), names, format, out);
    EXPECT_TRUE(saved.ok()) << saved.error().ToString();
    EXPECT_TRUE(out.Close().ok());
    return path;
  }

  // Applies the layer of `image` onto a fresh directory and returns it.
  std::string Unpack(const ImportResult& image, const std::string& name) {
    std::string target = dir_ / name;
    archive::testing::MakeDir(target);
    std::unique_ptr<content::BlobReader> blob =
        root_->content().OpenReader(ctx_, image.layer.digest).value();
    Result<archive::ApplyStats> applied =
        archive::ApplyLayer(ctx_, *blob, target, {.preserve_owners = false});
    EXPECT_TRUE(applied.ok()) << applied.error().ToString();
    return target;
  }

  // The SHA-256 of the decompressed layer blob.
  digest::Digest UncompressedDigest(const oci::Descriptor& layer) {
    std::unique_ptr<content::BlobReader> blob =
        root_->content().OpenReader(ctx_, layer.digest).value();
    std::unique_ptr<compress::DecompressingReader> plain = compress::NewReader(*blob).value();
    digest::Sha256 hash;
    std::string buf(1 << 16, '\0');
    for (;;) {
      size_t n = plain->Read(buf.data(), buf.size()).value();
      if (n == 0) {
        break;
      }
      hash.Update(buf.data(), n);
    }
    return hash.Finish();
  }

  void CheckImage(const ImportResult& r, std::string_view layer_media_type) {
    ContentBlobSource blobs(ctx_, root_->content());
    oci::Manifest m = oci::ReadManifest(blobs, r.image.target).value();
    EXPECT_EQ(r.image.target.media_type, oci::kMediaTypeImageManifest);
    ASSERT_EQ(m.layers.size(), 1u);
    EXPECT_EQ(m.layers[0], r.layer);
    EXPECT_EQ(m.layers[0].media_type, layer_media_type);
    EXPECT_EQ(m.config, r.config);
    oci::ImageConfig config = oci::ReadImageConfig(blobs, m.config).value();
    platform::Platform host = platform::HostPlatform();
    EXPECT_EQ(config.os, host.os);
    EXPECT_EQ(config.architecture, host.architecture);
    ASSERT_EQ(config.rootfs.diff_ids.size(), 1u);
    EXPECT_EQ(config.rootfs.diff_ids[0], r.diff_id);
    EXPECT_EQ(UncompressedDigest(r.layer), r.diff_id);
    ASSERT_EQ(config.history.size(), 1u);
    EXPECT_EQ(config.history[0].created_by, "berth image import");
    EXPECT_TRUE(oci::IsRfc3339(config.created)) << config.created;
    EXPECT_EQ(root_->images().Get(ctx_, r.image.name)->target, r.image.target);
  }

  Context ctx_ = Context::Background();
  TempDir dir_;
  std::unique_ptr<Root> root_;
};

TEST_F(ImportTest, DirectoryBecomesAOneLayerImage) {
  std::string tree = dir_ / "tree";
  archive::testing::MakeDir(tree);
  MakeTree(tree);
  Result<ImportResult> r = Import(tree, "example.com/team/app:v1");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(r->image.name, "example.com/team/app:v1");
  CheckImage(*r, oci::kMediaTypeImageLayerGzip);
  archive::testing::DescribeOptions no_owners{.owners = false};
  EXPECT_EQ(archive::testing::DescribeTree(Unpack(*r, "out")), archive::testing::DescribeTree(tree))
      << "layer contents differ from the tree";
  (void)no_owners;
}

TEST_F(ImportTest, TarsPlainAndCompressed) {
  std::string tree = dir_ / "tree";
  archive::testing::MakeDir(tree);
  MakeTree(tree);
  std::string expected = archive::testing::DescribeTree(tree);
  ASSERT_EQ(archive::testing::Shell("tar -C '" + tree + "' -cf '" + (dir_ / "rootfs.tar") +
                                    "' . && gzip -k '" + (dir_ / "rootfs.tar") + "' && zstd -q '" +
                                    (dir_ / "rootfs.tar") + "'"),
            0);
  int i = 0;
  for (const char* file : {"rootfs.tar", "rootfs.tar.gz", "rootfs.tar.zst"}) {
    SCOPED_TRACE(file);
    ImportOptions options;
    if (i == 2) {
      options.compression = compress::Format::kZstd;
    }
    Result<ImportResult> r = Import(dir_ / file, "tarred:" + std::to_string(i), options);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
    CheckImage(*r, i == 2 ? oci::kMediaTypeImageLayerZstd : oci::kMediaTypeImageLayerGzip);
    EXPECT_EQ(archive::testing::DescribeTree(Unpack(*r, "out" + std::to_string(i))), expected);
    ++i;
  }
  // The same tar, whatever its compression, is the same layer.
  ContentBlobSource blobs(ctx_, root_->content());
  digest::Digest first = root_->images().Get(ctx_, "tarred:0")->target.digest;
  EXPECT_EQ(
      oci::ReadManifest(blobs, root_->images().Get(ctx_, "tarred:1")->target)->layers[0].digest,
      oci::ReadManifest(blobs, root_->images().Get(ctx_, "tarred:0")->target)->layers[0].digest);
  (void)first;
}

TEST_F(ImportTest, SourceDateEpochMakesImportsReproducible) {
  std::string tree = dir_ / "tree";
  archive::testing::MakeDir(tree);
  MakeTree(tree);
  ASSERT_EQ(archive::testing::Shell("tar -C '" + tree + "' -cf '" + (dir_ / "rootfs.tar") + "' ."),
            0);
  ImportOptions options;
  options.source_date_epoch = 1700000000;
  options.env = {"PATH=/bin"};
  options.cmd = {"/bin/tool"};
  for (const std::string& source : {tree, dir_ / "rootfs.tar"}) {
    SCOPED_TRACE(source);
    Result<ImportResult> a = Import(source, "repro:a", options);
    ASSERT_TRUE(a.ok()) << a.error().ToString();
    ::sleep(1);  // a different "now", which must not matter
    archive::testing::SetMtime(tree + "/etc/hostname", 1800000000);  // later than the epoch
    Result<ImportResult> b = Import(source, "repro:b", options);
    ASSERT_TRUE(b.ok()) << b.error().ToString();
    EXPECT_EQ(a->image.target.digest, b->image.target.digest);
    EXPECT_EQ(a->layer.digest, b->layer.digest);
    ContentBlobSource blobs(ctx_, root_->content());
    oci::ImageConfig config = oci::ReadImageConfig(blobs, a->config).value();
    EXPECT_EQ(config.created, "2023-11-14T22:13:20Z");
    EXPECT_EQ(config.config.cmd, std::vector<std::string>{"/bin/tool"});
    EXPECT_EQ(config.config.env, std::vector<std::string>{"PATH=/bin"});
    // No mtime after the epoch.
    std::string out = Unpack(*a, "out-" + std::to_string(source.size()));
    struct stat st {};
    ASSERT_EQ(::stat((out + "/etc/motd").c_str(), &st), 0);
    EXPECT_EQ(st.st_mtime, 1700000000);
  }
  // Without the epoch, the creation time differs.
  Result<ImportResult> c = Import(tree, "repro:c");
  ::sleep(1);
  Result<ImportResult> d = Import(tree, "repro:d");
  ASSERT_TRUE(c.ok() && d.ok());
  EXPECT_NE(c->image.target.digest, d->image.target.digest);
}

TEST_F(ImportTest, HostileTarsAreRefused) {
  struct Case {
    const char* what;
    std::string tar;
  };
  std::vector<Case> cases;
  cases.push_back({"dotdot", TarBuilder().File("ok", "x").File("../evil", "x").Finish()});
  cases.push_back({"inner dotdot", TarBuilder().Dir("a").File("a/../../evil", "x").Finish()});
  cases.push_back({"absolute dotdot", TarBuilder().File("/../../etc/evil", "x").Finish()});
  cases.push_back(
      {"hardlink", TarBuilder().File("a", "x").Hardlink("b", "../../etc/passwd").Finish()});
  cases.push_back({"whiteout", TarBuilder().Dir("d").Whiteout("d/gone").Finish()});
  cases.push_back({"not a tar", std::string(4096, 'z')});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::string path = dir_ / "hostile.tar";
    ASSERT_TRUE(os::WriteFileAtomic(path, c.tar).ok());
    Result<ImportResult> r = Import(path, "hostile");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << r.error().ToString();
    EXPECT_EQ(root_->images().Get(ctx_, "hostile").error().code(), ErrorCode::kNotFound);
  }
  // Nothing is left behind: no ingests, and a GC finds no blob to keep.
  EXPECT_TRUE(root_->content().ListIngests(ctx_)->empty());
  Result<content::GcStats> gc = root_->images().GarbageCollect(ctx_);
  ASSERT_TRUE(gc.ok());
  size_t blobs = 0;
  ASSERT_TRUE(root_->content()
                  .Walk(ctx_,
                        [&](const content::Info&) -> Result<> {
                          ++blobs;
                          return {};
                        })
                  .ok());
  EXPECT_EQ(blobs, 0u);
}

TEST_F(ImportTest, TarNamesAreCanonical) {
  std::string tar = TarBuilder()
                        .Dir("./")
                        .Dir("./etc")
                        .File("./etc/a", "a")
                        .File("/etc//b", "b")
                        .File("etc/./c", "c")
                        .Finish();
  ASSERT_TRUE(os::WriteFileAtomic(dir_ / "in.tar", tar).ok());
  Result<ImportResult> r = Import(dir_ / "in.tar", "canon");
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  std::unique_ptr<content::BlobReader> blob =
      root_->content().OpenReader(ctx_, r->layer.digest).value();
  ASSERT_TRUE(
      os::WriteFileAtomic(dir_ / "layer.tgz",
                          content::ReadBlob(ctx_, root_->content(), r->layer.digest).value())
          .ok());
  CommandResult list = RunCommand("tar -tzf '" + (dir_ / "layer.tgz") + "'");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_EQ(list.output, "etc/\netc/a\netc/b\netc/c\n");
}

TEST_F(ImportTest, BadArguments) {
  std::string tree = dir_ / "tree";
  archive::testing::MakeDir(tree);
  EXPECT_EQ(Import(dir_ / "missing", "x").error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(Import(tree, "Bad").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(Import(tree, "x@sha256:" + std::string(64, 'a')).error().code(),
            ErrorCode::kInvalidArgument);
}

// Imports racing garbage collection (another process deleting an image, say) never lose a blob:
// the import's lease covers them until the name does, and GC excludes Puts while it marks.
TEST_F(ImportTest, ImportsSurviveConcurrentCollection) {
  std::string tree = dir_ / "tree";
  archive::testing::MakeDir(tree);
  MakeTree(tree);
  constexpr int kImports = 12;
  std::atomic<bool> done{false};
  std::thread collector([&] {
    while (!done.load()) {
      Result<content::GcStats> gc = root_->images().GarbageCollect(ctx_);
      EXPECT_TRUE(gc.ok()) << gc.error().ToString();
    }
  });
  for (int i = 0; i < kImports; ++i) {
    // Vary the config so every import stores new blobs.
    ImportOptions options;
    options.env = {"N=" + std::to_string(i)};
    Result<ImportResult> r = Import(tree, "race:" + std::to_string(i), options);
    ASSERT_TRUE(r.ok()) << r.error().ToString();
  }
  done = true;
  collector.join();
  ASSERT_TRUE(root_->images().GarbageCollect(ctx_).ok());
  ContentBlobSource blobs(ctx_, root_->content());
  for (int i = 0; i < kImports; ++i) {
    images::Image image = root_->images().Get(ctx_, "race:" + std::to_string(i)).value();
    Result<oci::Manifest> m = oci::ReadManifest(blobs, image.target);
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    EXPECT_TRUE(oci::ReadImageConfig(blobs, m->config).ok());
    EXPECT_TRUE(root_->content().Exists(ctx_, m->layers[0].digest).value());
  }
}

// umoci and skopeo read what `save` writes; runc runs the imported busybox.
TEST_F(ImportTest, SavedBusyboxWorksWithRealTools) {
  for (const char* tool : {"umoci", "skopeo", "tar"}) {
    if (!HaveTool(tool)) {
      GTEST_SKIP() << tool << " is not installed";
    }
  }
  std::string rootfs = dir_ / "busybox";
  CommandResult made =
      RunCommand(std::string(BERTH_SOURCE_DIR) + "/scripts/make-busybox-rootfs '" + rootfs + "'");
  if (made.exit_code != 0) {
    GTEST_SKIP() << "cannot make a busybox root filesystem: " << made.output;
  }
  ImportOptions options;
  options.cmd = {"sh"};
  options.env = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin"};
  Result<ImportResult> r = Import(rootfs, "busybox:latest", options);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  ASSERT_TRUE(Import(rootfs, "localhost:5000/mirror/busybox:1", options).ok());
  std::vector<std::string> names = {"busybox", "localhost:5000/mirror/busybox:1"};

  // OCI: skopeo inspects the archive, umoci unpacks it.
  std::string oci_tar = SaveTo(names, SaveFormat::kOci, "busybox-oci.tar");
  CommandResult inspect = RunCommand("skopeo inspect 'oci-archive:" + oci_tar + ":latest'");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  nlohmann::json j = nlohmann::json::parse(inspect.output);
  EXPECT_EQ(j["Digest"], r->image.target.digest.ToString());
  EXPECT_EQ(j["Architecture"], platform::HostPlatform().architecture);
  ASSERT_EQ(j["Layers"].size(), 1u);
  EXPECT_EQ(j["Layers"][0], r->layer.digest.ToString());

  std::string layout = dir_ / "layout";
  archive::testing::MakeDir(layout);
  ASSERT_EQ(RunCommand("tar -C '" + layout + "' -xf '" + oci_tar + "'").exit_code, 0);
  CommandResult ls = RunCommand("umoci ls --layout '" + layout + "'");
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_NE(ls.output.find("latest"), std::string::npos) << ls.output;
  EXPECT_NE(ls.output.find("1"), std::string::npos) << ls.output;
  std::string bundle = dir_ / "bundle";
  CommandResult unpack =
      RunCommand("umoci unpack --image '" + layout + ":latest' '" + bundle + "'");
  ASSERT_EQ(unpack.exit_code, 0) << unpack.output;
  struct stat st {};
  ASSERT_EQ(::lstat((bundle + "/rootfs/bin/busybox").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
  ASSERT_EQ(::lstat((bundle + "/rootfs/bin/sh").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(
      archive::testing::ReadFileOrEmpty(bundle + "/rootfs/etc/passwd").rfind("root:x:0:0:", 0), 0u);

  // Docker: skopeo reads the archive by tag.
  std::string docker_tar = SaveTo(names, SaveFormat::kDocker, "busybox-docker.tar");
  CommandResult dinspect =
      RunCommand("skopeo inspect 'docker-archive:" + docker_tar + ":busybox:latest'");
  ASSERT_EQ(dinspect.exit_code, 0) << dinspect.output;
  nlohmann::json dj = nlohmann::json::parse(dinspect.output);
  ASSERT_EQ(dj["Layers"].size(), 1u);
  EXPECT_EQ(dj["Os"], "linux");
  CommandResult manifest = RunCommand("tar -xOf '" + docker_tar + "' manifest.json");
  ASSERT_EQ(manifest.exit_code, 0) << manifest.output;
  nlohmann::json mj = nlohmann::json::parse(manifest.output);
  ASSERT_EQ(mj.size(), 1u);  // both names point at one manifest
  EXPECT_EQ(mj[0]["RepoTags"].size(), 2u);

  // runc runs the unpacked bundle.
  if (!HaveTool("runc")) {
    GTEST_SKIP() << "runc is not installed";
  }
  if (::geteuid() != 0) {
    GTEST_SKIP() << "runc needs root here (no rootless setup)";
  }
  std::string config_path = bundle + "/config.json";
  nlohmann::json spec = nlohmann::json::parse(os::ReadFile(config_path).value());
  spec["process"]["args"] = {"/bin/busybox", "echo", "hello"};
  spec["process"]["terminal"] = false;
  ASSERT_TRUE(os::WriteFileAtomic(config_path, spec.dump()).ok());
  std::string id = "berth-images-test-" + std::to_string(::getpid());
  CommandResult run = RunCommand("runc run --bundle '" + bundle + "' " + id + " </dev/null");
  (void)RunCommand("runc delete -f " + id);
  if (run.exit_code != 0 && run.output.find("hello") == std::string::npos &&
      (run.output.find("cgroup") != std::string::npos ||
       run.output.find("operation not permitted") != std::string::npos)) {
    GTEST_SKIP() << "runc cannot start containers here: " << run.output;
  }
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_EQ(run.output, "hello\n");
}

}  // namespace
}  // namespace berth::images
