#include "oci/layout.h"

#include <fcntl.h>

#include <filesystem>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "oci/media_types.h"
#include "oci/testing/test_image.h"
#include "os/file.h"

namespace berth::oci {
namespace {

using test::BuildTinyImage;
using test::CommandResult;
using test::HaveTool;
using test::RunCommand;
using test::TempDir;
using test::TinyImage;
using ::testing::HasSubstr;

const std::vector<std::pair<std::string, std::string>> kFiles = {
    {"hello.txt", "hello from berth\n"},
    {"etc/motd", "welcome\n"},
};

Result<> WriteTarFile(const std::string& path, BlobSource& blobs,
                      std::span<const LayoutEntry> entries) {
  UniqueFd fd = BERTH_TRY(os::Open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
  FdWriter out(std::move(fd));
  BERTH_TRY(WriteLayoutTar(out, blobs, entries));
  return out.Close();
}

// Reads an image back through `layout` and checks it is `image`, byte for byte.
void ExpectImage(LayoutReader& layout, std::string_view name, const TinyImage& image) {
  Result<Descriptor> d = layout.Resolve(name);
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  EXPECT_EQ(d->digest, image.manifest.digest);
  Result<Manifest> m = ReadManifest(layout, *d);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  Result<ImageConfig> c = ReadImageConfig(layout, m->config);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(*c, image.config_value);
  ASSERT_EQ(m->layers.size(), 1u);
  Result<std::string> layer = ReadBlob(layout, m->layers[0], 1 << 20);
  ASSERT_TRUE(layer.ok()) << layer.error().ToString();
  EXPECT_EQ(layer->size(), static_cast<size_t>(image.layers[0].size));
}

class LayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<TinyImage> img = BuildTinyImage(blobs_, scratch_.path(), kFiles);
    ASSERT_TRUE(img.ok()) << img.error().ToString();
    image_ = std::move(img).value();
  }

  MemoryBlobSource blobs_;
  TempDir scratch_;
  TempDir out_;
  TinyImage image_;
};

TEST_F(LayoutTest, DirRoundTrip) {
  std::string dir = out_.Join("layout");
  LayoutEntry entry{image_.manifest, "v1", "docker.io/library/tiny:v1"};
  ASSERT_TRUE(WriteLayoutDir(dir, blobs_, {&entry, 1}).ok());

  EXPECT_EQ(os::ReadFile(dir + "/oci-layout").value(), R"({"imageLayoutVersion":"1.0.0"})");
  for (const Descriptor& d : {image_.manifest, image_.config, image_.layers[0]}) {
    EXPECT_TRUE(os::Exists(dir + "/blobs/sha256/" + d.digest.hex())) << d.digest.ToString();
  }
  Result<std::unique_ptr<LayoutReader>> layout = LayoutReader::OpenDir(dir);
  ASSERT_TRUE(layout.ok()) << layout.error().ToString();
  ExpectImage(**layout, "v1", image_);
  ExpectImage(**layout, "docker.io/library/tiny:v1", image_);
  ExpectImage(**layout, "", image_);
  std::vector<LayoutEntry> entries = (*layout)->Entries();
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].ref_name, "v1");
  EXPECT_EQ(entries[0].image_name, "docker.io/library/tiny:v1");
  EXPECT_EQ(entries[0].descriptor.annotations.at(std::string(kAnnotationRefName)), "v1");

  Result<Descriptor> missing = (*layout)->Resolve("v2");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
  EXPECT_THAT(missing.error().message(), HasSubstr("names: v1"));
}

TEST_F(LayoutTest, DirMergesAndReplacesTags) {
  std::string dir = out_.Join("layout");
  MemoryBlobSource other_blobs;
  TempDir other_scratch;
  Result<TinyImage> other =
      BuildTinyImage(other_blobs, other_scratch.path(), {{"other.txt", "other"}}, "arm64");
  ASSERT_TRUE(other.ok()) << other.error().ToString();

  LayoutEntry v1{image_.manifest, "v1", ""};
  LayoutEntry v2{image_.manifest, "v2", ""};
  ASSERT_TRUE(WriteLayoutDir(dir, blobs_, std::vector<LayoutEntry>{v1, v2}).ok());
  LayoutEntry v1_again{other->manifest, "v1", ""};
  ASSERT_TRUE(WriteLayoutDir(dir, other_blobs, {&v1_again, 1}).ok());

  auto layout = LayoutReader::OpenDir(dir).value();
  ASSERT_EQ(layout->index().manifests.size(), 2u);
  EXPECT_EQ(layout->Resolve("v1")->digest, other->manifest.digest);
  EXPECT_EQ(layout->Resolve("v2")->digest, image_.manifest.digest);
  ExpectImage(*layout, "v1", *other);
  ExpectImage(*layout, "v2", image_);
  EXPECT_EQ(layout->Resolve("").error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(LayoutTest, ReadingDetectsCorruptBlobs) {
  std::string dir = out_.Join("layout");
  LayoutEntry entry{image_.manifest, "v1", ""};
  ASSERT_TRUE(WriteLayoutDir(dir, blobs_, {&entry, 1}).ok());
  std::string config_path = dir + "/blobs/sha256/" + image_.config.digest.hex();
  std::string config = os::ReadFile(config_path).value();
  config[config.size() / 2] ^= 1;
  ASSERT_TRUE(os::WriteFileAtomic(config_path, config).ok());

  auto layout = LayoutReader::OpenDir(dir).value();
  Result<ImageConfig> c = ReadImageConfig(*layout, image_.config);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().code(), ErrorCode::kDataLoss);
  // A raw Open() verifies too, at the end of the stream.
  std::unique_ptr<Reader> r = layout->Open(image_.config.digest).value();
  EXPECT_EQ(ReadAll(*r).error().code(), ErrorCode::kDataLoss);
}

TEST_F(LayoutTest, WritingRefusesMissingAndCorruptBlobs) {
  LayoutEntry entry{image_.manifest, "v1", ""};
  MemoryBlobSource partial = blobs_;
  partial.Remove(image_.layers[0].digest);
  StringWriter sink;
  Result<> r = WriteLayoutTar(sink, partial, {&entry, 1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);

  Result<> d = WriteLayoutDir(out_.Join("partial"), partial, {&entry, 1});
  EXPECT_EQ(d.error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(os::Exists(out_.Join("partial/index.json")));
}

TEST_F(LayoutTest, RejectsOtherLayoutVersions) {
  std::string dir = out_.Join("layout");
  ASSERT_TRUE(os::MakeDirs(dir).ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir + "/oci-layout", R"({"imageLayoutVersion":"2.0.0"})").ok());
  LayoutEntry entry{image_.manifest, "v1", ""};
  EXPECT_EQ(WriteLayoutDir(dir, blobs_, {&entry, 1}).error().code(),
            ErrorCode::kFailedPrecondition);
  EXPECT_EQ(LayoutReader::OpenDir(dir).error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_EQ(LayoutReader::OpenDir(out_.Join("nothing")).error().code(), ErrorCode::kNotFound);
}

TEST_F(LayoutTest, TarRoundTripIsDeterministic) {
  LayoutEntry entry{image_.manifest, "v1", "docker.io/library/tiny:v1"};
  std::string a = out_.Join("a.tar");
  std::string b = out_.Join("b.tar");
  ASSERT_TRUE(WriteTarFile(a, blobs_, {&entry, 1}).ok());
  ASSERT_TRUE(WriteTarFile(b, blobs_, {&entry, 1}).ok());
  EXPECT_EQ(os::ReadFile(a).value(), os::ReadFile(b).value());

  Result<std::unique_ptr<LayoutReader>> layout = LayoutReader::OpenTar(a);
  ASSERT_TRUE(layout.ok()) << layout.error().ToString();
  ExpectImage(**layout, "v1", image_);
  EXPECT_EQ((*layout)->Open(digest::FromBytes("nope")).error().code(), ErrorCode::kNotFound);

  // Compressed layout archives read the same.
  CommandResult gz = RunCommand("gzip -k '" + a + "'");
  ASSERT_EQ(gz.exit_code, 0) << gz.output;
  Result<std::unique_ptr<LayoutReader>> compressed = LayoutReader::OpenTar(a + ".gz");
  ASSERT_TRUE(compressed.ok()) << compressed.error().ToString();
  ExpectImage(**compressed, "v1", image_);

  // The system tar agrees on the listing.
  CommandResult list = RunCommand("tar -tf '" + a + "'");
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("oci-layout\nindex.json\nblobs/\nblobs/sha256/\n"));
  EXPECT_THAT(list.output, HasSubstr("blobs/sha256/" + image_.layers[0].digest.hex()));
}

TEST_F(LayoutTest, TarReaderDetectsCorruptBlobs) {
  LayoutEntry entry{image_.manifest, "v1", ""};
  std::string dir = out_.Join("layout");
  ASSERT_TRUE(WriteLayoutDir(dir, blobs_, {&entry, 1}).ok());
  std::string layer_path = dir + "/blobs/sha256/" + image_.layers[0].digest.hex();
  std::string layer = os::ReadFile(layer_path).value();
  layer[layer.size() - 10] ^= 0x55;
  ASSERT_TRUE(os::WriteFileAtomic(layer_path, layer).ok());
  std::string tar = out_.Join("corrupt.tar");
  CommandResult r =
      RunCommand("tar -C '" + dir + "' -cf '" + tar + "' oci-layout index.json blobs");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  auto layout = LayoutReader::OpenTar(tar).value();
  EXPECT_TRUE(ReadManifest(*layout, image_.manifest).ok());
  EXPECT_EQ(ReadBlob(*layout, image_.layers[0], 1 << 20).error().code(), ErrorCode::kDataLoss);

  // Appending the good blob under the same name fixes the archive: the last entry wins, as
  // when it is extracted.
  layer[layer.size() - 10] ^= 0x55;
  ASSERT_TRUE(os::WriteFileAtomic(layer_path, layer).ok());
  CommandResult append = RunCommand("tar -C '" + dir + "' -rf '" + tar + "' blobs/sha256/" +
                                    image_.layers[0].digest.hex());
  ASSERT_EQ(append.exit_code, 0) << append.output;
  auto fixed = LayoutReader::OpenTar(tar).value();
  Result<std::string> good = ReadBlob(*fixed, image_.layers[0], 1 << 20);
  ASSERT_TRUE(good.ok()) << good.error().ToString();
  EXPECT_EQ(*good, layer);
}

TEST_F(LayoutTest, MultiPlatformIndexRoundTrip) {
  TempDir arm_scratch;
  Result<TinyImage> arm = BuildTinyImage(blobs_, arm_scratch.path(), {{"arch", "arm64"}}, "arm64");
  ASSERT_TRUE(arm.ok());
  Descriptor amd64_d = image_.manifest;
  amd64_d.platform = image_.config_value.platform();
  Descriptor arm64_d = arm->manifest;
  arm64_d.platform = arm->config_value.platform();
  Index index;
  index.media_type = std::string(kMediaTypeImageIndex);
  index.manifests = {amd64_d, arm64_d};
  Descriptor index_d = blobs_.Add(kMediaTypeImageIndex, Serialize(index));

  LayoutEntry entry{index_d, "multi", ""};
  std::string tar = out_.Join("multi.tar");
  ASSERT_TRUE(WriteTarFile(tar, blobs_, {&entry, 1}).ok());
  auto layout = LayoutReader::OpenTar(tar).value();
  Descriptor root = layout->Resolve("multi").value();
  EXPECT_EQ(root.media_type, kMediaTypeImageIndex);
  Result<Descriptor> picked =
      ResolveManifest(*layout, root, PlatformMatcher::Compatible({"linux", "aarch64", ""}));
  ASSERT_TRUE(picked.ok()) << picked.error().ToString();
  EXPECT_EQ(picked->digest, arm->manifest.digest);
  Result<Manifest> m = ReadManifest(*layout, *picked);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(ReadImageConfig(*layout, m->config)->architecture, "arm64");
}

// ---- Checked by real tools ----

TEST_F(LayoutTest, UmociListsAndUnpacks) {
  if (!HaveTool("umoci")) {
    GTEST_SKIP() << "umoci is not installed";
  }
  std::string dir = out_.Join("layout");
  LayoutEntry entry{image_.manifest, "v1", ""};
  ASSERT_TRUE(WriteLayoutDir(dir, blobs_, {&entry, 1}).ok());

  CommandResult ls = RunCommand("umoci ls --layout '" + dir + "'");
  ASSERT_EQ(ls.exit_code, 0) << ls.output;
  EXPECT_EQ(ls.output, "v1\n");

  std::string bundle = out_.Join("bundle");
  CommandResult unpack = RunCommand("umoci unpack --image '" + dir + ":v1' '" + bundle + "'");
  ASSERT_EQ(unpack.exit_code, 0) << unpack.output;
  EXPECT_EQ(os::ReadFile(bundle + "/rootfs/hello.txt").value(), "hello from berth\n");
  EXPECT_EQ(os::ReadFile(bundle + "/rootfs/etc/motd").value(), "welcome\n");
  // umoci turns the image config into the runtime spec.
  EXPECT_THAT(os::ReadFile(bundle + "/config.json").value(), HasSubstr("\"/bin/sh\""));
}

TEST_F(LayoutTest, SkopeoReadsDirAndTar) {
  if (!HaveTool("skopeo")) {
    GTEST_SKIP() << "skopeo is not installed";
  }
  std::string dir = out_.Join("layout");
  LayoutEntry entry{image_.manifest, "v1", ""};
  ASSERT_TRUE(WriteLayoutDir(dir, blobs_, {&entry, 1}).ok());
  CommandResult inspect = RunCommand("skopeo inspect 'oci:" + dir + ":v1'");
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  EXPECT_THAT(inspect.output, HasSubstr(image_.manifest.digest.ToString()));
  EXPECT_THAT(inspect.output, HasSubstr("\"Architecture\": \"amd64\""));
  EXPECT_THAT(inspect.output, HasSubstr(image_.layers[0].digest.ToString()));

  std::string tar = out_.Join("image.tar");
  ASSERT_TRUE(WriteTarFile(tar, blobs_, {&entry, 1}).ok());
  CommandResult inspect_tar = RunCommand("skopeo inspect 'oci-archive:" + tar + ":v1'");
  ASSERT_EQ(inspect_tar.exit_code, 0) << inspect_tar.output;
  EXPECT_THAT(inspect_tar.output, HasSubstr(image_.manifest.digest.ToString()));

  std::string copy = out_.Join("copy");
  CommandResult cp = RunCommand("skopeo --insecure-policy copy --quiet 'oci-archive:" + tar +
                                ":v1' 'oci:" + copy + ":copied'");
  ASSERT_EQ(cp.exit_code, 0) << cp.output;
  // skopeo copied every blob unchanged: reading its layout with ours finds the same image.
  auto layout = LayoutReader::OpenDir(copy);
  ASSERT_TRUE(layout.ok()) << layout.error().ToString();
  ExpectImage(**layout, "copied", image_);
}

}  // namespace
}  // namespace berth::oci
