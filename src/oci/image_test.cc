#include "oci/image.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "oci/media_types.h"

namespace berth::oci {
namespace {

using ::testing::HasSubstr;

const std::string kDigestA = "sha256:" + std::string(64, 'a');
const std::string kDigestB = "sha256:" + std::string(64, 'b');
const std::string kDigestC = "sha256:" + std::string(64, 'c');

// Canonical documents: compact, keys in byte order, as Serialize writes them.
const std::string kCanonicalManifest =
    R"({"annotations":{"org.opencontainers.image.created":"2024-01-02T03:04:05Z"},)"
    R"("config":{"digest":")" +
    kDigestA +
    R"(","mediaType":"application/vnd.oci.image.config.v1+json","size":1234},)"
    R"("layers":[{"digest":")" +
    kDigestB +
    R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":5678},)"
    R"({"annotations":{"a":"1","b":"2"},"digest":")" +
    kDigestC +
    R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","size":0,)"
    R"("urls":["https://example.com/layer"]}],)"
    R"("mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2,)"
    R"("subject":{"digest":")" +
    kDigestA + R"(","mediaType":"application/vnd.oci.image.manifest.v1+json","size":99}})";

const std::string kCanonicalIndex =
    R"({"manifests":[{"digest":")" + kDigestA +
    R"(","mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("platform":{"architecture":"amd64","os":"linux"},"size":500},)"
    R"({"digest":")" +
    kDigestB +
    R"(","mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("platform":{"architecture":"arm","os":"linux","variant":"v7"},"size":501},)"
    R"({"digest":")" +
    kDigestC +
    R"(","mediaType":"application/vnd.oci.image.manifest.v1+json",)"
    R"("platform":{"architecture":"amd64","os":"windows","os.features":["win32k"],)"
    R"("os.version":"10.0.17763.5329"},"size":502}],)"
    R"("mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2})";

const std::string kCanonicalConfig =
    R"({"architecture":"arm64","author":"berth",)"
    R"("config":{"ArgsEscaped":true,"Cmd":["--help"],"Entrypoint":["/bin/app"],)"
    R"("Env":["PATH=/usr/bin:/bin","A=b"],"ExposedPorts":{"53/udp":{},"80/tcp":{}},)"
    R"("Healthcheck":{"Interval":30000000000,"Retries":3,"StartInterval":1000000000,)"
    R"("StartPeriod":5000000000,"Test":["CMD-SHELL","curl -f http://localhost/"],)"
    R"("Timeout":10000000000},"Labels":{"a":"b","z":"y"},"OnBuild":["RUN echo hi"],)"
    R"("Shell":["/bin/bash","-c"],"StopSignal":"SIGTERM","User":"1000:1000",)"
    R"("Volumes":{"/data":{}},"WorkingDir":"/srv"},)"
    R"("created":"2024-01-02T03:04:05.123456789Z",)"
    R"("history":[{"created":"2024-01-02T03:04:05Z","created_by":"ADD rootfs.tar /"},)"
    R"({"comment":"buildkit.dockerfile.v0","created_by":"ENV A=b","empty_layer":true}],)"
    R"("os":"linux","rootfs":{"diff_ids":[")" +
    kDigestA + R"(",")" + kDigestB + R"("],"type":"layers"},"variant":"v8"})";

TEST(ManifestTest, CanonicalRoundTrip) {
  Result<Manifest> m = ParseManifest(kCanonicalManifest);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->schema_version, 2);
  EXPECT_EQ(m->media_type, kMediaTypeImageManifest);
  EXPECT_EQ(m->config.digest.ToString(), kDigestA);
  EXPECT_EQ(m->config.size, 1234);
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[1].urls, std::vector<std::string>{"https://example.com/layer"});
  EXPECT_EQ(m->layers[1].annotations.at("b"), "2");
  ASSERT_TRUE(m->subject.has_value());
  EXPECT_EQ(m->subject->size, 99);
  EXPECT_EQ(Serialize(*m), kCanonicalManifest);
}

TEST(ManifestTest, NonCanonicalInputParsesToTheSameValue) {
  // Spacing, key order and unknown fields do not matter to the value.
  std::string doc = R"({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "extra": {"ignored": [1, 2, 3]},
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
               "size": 7, "digest": ")" +
                    kDigestA + R"(", "future": true},
    "layers": []
  })";
  Result<Manifest> m = ParseManifest(doc);
  ASSERT_TRUE(m.ok()) << m.error().ToString();
  EXPECT_EQ(m->media_type, kMediaTypeDockerManifest);
  EXPECT_TRUE(m->layers.empty());
  std::string canonical = Serialize(*m);
  EXPECT_EQ(canonical, R"({"config":{"digest":")" + kDigestA +
                           R"(","mediaType":"application/vnd.docker.container.image.v1+json",)"
                           R"("size":7},"layers":[],)"
                           R"("mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
                           R"("schemaVersion":2})");
  EXPECT_EQ(Serialize(ParseManifest(canonical).value()), canonical);
}

TEST(ManifestTest, SerializationIsDeterministic) {
  Manifest m;
  m.media_type = std::string(kMediaTypeImageManifest);
  m.config = DescribeBlob(kMediaTypeImageConfig, "{}");
  m.annotations = {{"z", "last"}, {"a", "first"}, {"m", "middle"}};
  std::string once = Serialize(m);
  EXPECT_EQ(once, Serialize(m));
  EXPECT_LT(once.find("\"a\""), once.find("\"m\""));
  EXPECT_LT(once.find("\"m\""), once.find("\"z\""));
  EXPECT_EQ(DescribeBlob(kMediaTypeImageManifest, once).digest,
            DescribeBlob(kMediaTypeImageManifest, Serialize(m)).digest);
}

TEST(IndexTest, CanonicalRoundTrip) {
  Result<Index> idx = ParseIndex(kCanonicalIndex);
  ASSERT_TRUE(idx.ok()) << idx.error().ToString();
  ASSERT_EQ(idx->manifests.size(), 3u);
  ASSERT_TRUE(idx->manifests[1].platform.has_value());
  EXPECT_EQ(idx->manifests[1].platform->ToString(), "linux/arm/v7");
  EXPECT_EQ(idx->manifests[2].platform->os_version, "10.0.17763.5329");
  EXPECT_EQ(idx->manifests[2].platform->os_features, std::vector<std::string>{"win32k"});
  EXPECT_EQ(Serialize(*idx), kCanonicalIndex);
}

TEST(IndexTest, DockerManifestList) {
  std::string doc = R"({"schemaVersion":2,
    "mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
    "manifests":[{"mediaType":"application/vnd.docker.distribution.manifest.v2+json",
      "size":528,"digest":")" +
                    kDigestA +
                    R"(","platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]})";
  Result<Index> idx = ParseIndex(doc);
  ASSERT_TRUE(idx.ok()) << idx.error().ToString();
  EXPECT_EQ(idx->media_type, kMediaTypeDockerManifestList);
  EXPECT_EQ(idx->manifests[0].platform->variant, "v8");
}

TEST(ImageConfigTest, CanonicalRoundTrip) {
  Result<ImageConfig> c = ParseImageConfig(kCanonicalConfig);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->architecture, "arm64");
  EXPECT_EQ(c->variant, "v8");
  EXPECT_EQ(c->config.user, "1000:1000");
  EXPECT_EQ(c->config.exposed_ports, (std::set<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(c->config.env, (std::vector<std::string>{"PATH=/usr/bin:/bin", "A=b"}));
  ASSERT_TRUE(c->config.healthcheck.has_value());
  EXPECT_EQ(c->config.healthcheck->interval, 30000000000);
  EXPECT_EQ(c->config.healthcheck->retries, 3);
  EXPECT_TRUE(c->config.args_escaped);
  ASSERT_EQ(c->history.size(), 2u);
  EXPECT_TRUE(c->history[1].empty_layer);
  EXPECT_EQ(c->rootfs.diff_ids.size(), 2u);
  EXPECT_EQ(c->platform().ToString(), "linux/arm64/v8");
  EXPECT_EQ(Serialize(*c), kCanonicalConfig);
}

TEST(ImageConfigTest, DockerStyleConfigWithNulls) {
  // What `docker build` with the classic builder writes: nulls for unset slices and maps, and
  // many fields berth does not model.
  std::string doc = R"({"architecture":"amd64","config":{"Hostname":"","Domainname":"",
    "User":"","AttachStdin":false,"Tty":false,"Env":["PATH=/bin"],"Cmd":["sh"],
    "Image":"sha256:)" +
                    std::string(64, 'd') +
                    R"(","Volumes":null,"WorkingDir":"","Entrypoint":null,"OnBuild":null,
    "Labels":null},"container":"abc","container_config":{"Cmd":["/bin/sh","-c","#(nop) CMD"]},
    "created":"2023-05-19T20:19:32.419357046+02:00","docker_version":"20.10.23",
    "history":[{"created":"2023-05-19T20:19:32Z","created_by":"/bin/sh"}],
    "os":"linux","rootfs":{"type":"layers","diff_ids":[")" +
                    kDigestA + R"("]}})";
  Result<ImageConfig> c = ParseImageConfig(doc);
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->config.cmd, std::vector<std::string>{"sh"});
  EXPECT_TRUE(c->config.entrypoint.empty());
  EXPECT_TRUE(c->config.labels.empty());
  EXPECT_EQ(c->created, "2023-05-19T20:19:32.419357046+02:00");
}

TEST(ImageConfigTest, EmptyImageHasNullDiffIds) {
  Result<ImageConfig> c = ParseImageConfig(
      R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":null}})");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_TRUE(c->rootfs.diff_ids.empty());
  EXPECT_EQ(Serialize(*c), R"({"architecture":"amd64","config":{},"os":"linux",)"
                           R"("rootfs":{"diff_ids":[],"type":"layers"}})");
}

TEST(DescriptorTest, RoundTripAndInvalidUtf8IsReplaced) {
  Descriptor d = DescribeBlob(kMediaTypeImageLayerGzip, "layer bytes");
  d.annotations["note"] = "caf\xc3\xa9";
  d.artifact_type = "application/x-test";
  std::string text = Serialize(d);
  Result<Descriptor> back = ParseDescriptor(text);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, d);

  d.annotations["note"] = "bad\xff";
  Result<Descriptor> replaced = ParseDescriptor(Serialize(d));
  ASSERT_TRUE(replaced.ok()) << replaced.error().ToString();
  EXPECT_EQ(replaced->annotations.at("note"), "bad\xef\xbf\xbd");
}

struct BadDocument {
  std::string name;
  std::string json;
  std::string want;  // substring of the error message
};

std::string ManifestWith(const std::string& config, const std::string& layers,
                         const std::string& extra = "") {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)" + extra +
         R"("config":)" + config + R"(,"layers":)" + layers + "}";
}

std::string Desc(const std::string& digest, const std::string& size,
                 const std::string& extra = "") {
  return R"({"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":)" + digest +
         R"(,"size":)" + size + extra + "}";
}

class ManifestValidationTest : public ::testing::TestWithParam<BadDocument> {};

TEST_P(ManifestValidationTest, NamesTheField) {
  Result<Manifest> m = ParseManifest(GetParam().json);
  ASSERT_FALSE(m.ok()) << GetParam().json;
  EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(m.error().message(), HasSubstr(GetParam().want));
}

const std::string kGood = "\"" + kDigestA + "\"";

INSTANTIATE_TEST_SUITE_P(
    Manifest, ManifestValidationTest,
    ::testing::Values(
        BadDocument{"NotJson", "{", "manifest: invalid JSON"},
        BadDocument{"NotObject", "[1]", "manifest: want a JSON object"},
        BadDocument{"SchemaMissing", R"({"config":{},"layers":[]})",
                    "manifest: schemaVersion: required field missing"},
        BadDocument{"SchemaOne",
                    R"({"schemaVersion":1,"config":)" + Desc(kGood, "1") + R"(,"layers":[]})",
                    "schemaVersion: unsupported version 1"},
        BadDocument{"SchemaFloat",
                    R"({"schemaVersion":2.0,"config":)" + Desc(kGood, "1") + R"(,"layers":[]})",
                    "schemaVersion: want an integer"},
        BadDocument{"SchemaString",
                    R"({"schemaVersion":"2","config":)" + Desc(kGood, "1") + R"(,"layers":[]})",
                    "schemaVersion: want a number"},
        BadDocument{"ConfigMissing", R"({"schemaVersion":2,"layers":[]})",
                    "manifest: config: required field missing"},
        BadDocument{"LayersMissing", R"({"schemaVersion":2,"config":)" + Desc(kGood, "1") + "}",
                    "manifest: layers: required field missing"},
        BadDocument{"LayersNotArray", ManifestWith(Desc(kGood, "1"), "{}"),
                    "layers: want an array of descriptors"},
        BadDocument{"BadLayerDigest",
                    ManifestWith(Desc(kGood, "1"),
                                 "[" + Desc(kGood, "1") + "," + Desc("\"sha256:xyz\"", "1") + "]"),
                    "layers[1].digest: invalid digest \"sha256:xyz\""},
        BadDocument{"UpperCaseDigest",
                    ManifestWith(Desc("\"sha256:" + std::string(64, 'A') + "\"", "1"), "[]"),
                    "config.digest: invalid digest"},
        BadDocument{"DigestMissing", ManifestWith(R"({"mediaType":"a/b","size":1})", "[]"),
                    "config.digest: required field missing"},
        BadDocument{"NegativeSize", ManifestWith(Desc(kGood, "-1"), "[]"),
                    "config.size: must not be negative"},
        BadDocument{"FractionalSize", ManifestWith(Desc(kGood, "1.5"), "[]"),
                    "config.size: want an integer"},
        BadDocument{"HugeSize", ManifestWith(Desc(kGood, "18446744073709551615"), "[]"),
                    "config.size: integer out of range"},
        BadDocument{"SizeMissing",
                    ManifestWith(R"({"mediaType":"a/b","digest":)" + kGood + "}", "[]"),
                    "config.size: required field missing"},
        BadDocument{"MediaTypeMissing", ManifestWith(R"({"size":1,"digest":)" + kGood + "}", "[]"),
                    "config.mediaType: required field missing"},
        BadDocument{"MediaTypeNumber",
                    ManifestWith(R"({"mediaType":5,"size":1,"digest":)" + kGood + "}", "[]"),
                    "config.mediaType: want a string"},
        BadDocument{"AnnotationNotString",
                    ManifestWith(Desc(kGood, "1", R"(,"annotations":{"k":1})"), "[]"),
                    "config.annotations.k: want a string"},
        BadDocument{"UrlsNotStrings", ManifestWith(Desc(kGood, "1", R"(,"urls":[1])"), "[]"),
                    "config.urls[0]: want a string"},
        BadDocument{"PlatformWithoutOs",
                    ManifestWith(Desc(kGood, "1", R"(,"platform":{"architecture":"amd64"})"), "[]"),
                    "config.platform.os: required field missing"},
        BadDocument{"IndexMediaType",
                    R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
                    R"("manifests":[]})",
                    "mediaType: \"application/vnd.oci.image.index.v1+json\" is not an image "
                    "manifest"},
        BadDocument{"IndexWithoutMediaType", R"({"schemaVersion":2,"manifests":[]})",
                    "manifests: present without a mediaType"},
        BadDocument{"SubjectBad", ManifestWith(Desc(kGood, "1"), "[]", R"("subject":{},)"),
                    "subject.mediaType: required field missing"}),
    [](const ::testing::TestParamInfo<BadDocument>& info) { return info.param.name; });

TEST(IndexValidationTest, NamesTheField) {
  Result<Index> a = ParseIndex(R"({"schemaVersion":2,"manifests":[{"mediaType":"a/b"}]})");
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message(), HasSubstr("index: manifests[0].digest: required field"));
  Result<Index> b = ParseIndex(R"({"schemaVersion":2})");
  ASSERT_FALSE(b.ok());
  EXPECT_THAT(b.error().message(), HasSubstr("index: manifests: required field missing"));
  Result<Index> c = ParseIndex(ManifestWith(Desc(kGood, "1"), "[]"));
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message(), HasSubstr("mediaType"));
  Result<Index> d = ParseIndex(R"({"schemaVersion":2,"config":{},"manifests":[]})");
  ASSERT_FALSE(d.ok());
  EXPECT_THAT(d.error().message(), HasSubstr("config: present without a mediaType"));
}

TEST(ImageConfigValidationTest, NamesTheField) {
  struct Case {
    std::string json;
    std::string want;
  };
  const std::string rootfs = R"("rootfs":{"type":"layers","diff_ids":[]})";
  for (const Case& c : std::vector<Case>{
           {R"({"os":"linux",)" + rootfs + "}", "image config: architecture: required field"},
           {R"({"architecture":"amd64",)" + rootfs + "}", "image config: os: required field"},
           {R"({"architecture":"amd64","os":"linux"})", "image config: rootfs: required field"},
           {R"({"architecture":"amd64","os":"linux","rootfs":{"type":"tar","diff_ids":[]}})",
            "rootfs.type: unsupported type \"tar\""},
           {R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers",)"
            R"("diff_ids":["sha256:00"]}})",
            "rootfs.diff_ids[0]: invalid digest"},
           {R"({"architecture":"amd64","os":"linux","created":"yesterday",)" + rootfs + "}",
            "created: \"yesterday\" is not an RFC 3339 timestamp"},
           {R"({"architecture":"amd64","os":"linux","config":{"Env":"A=b"},)" + rootfs + "}",
            "config.Env: want an array of strings"},
           {R"({"architecture":"amd64","os":"linux","config":{"ExposedPorts":{"80":1}},)" + rootfs +
                "}",
            "config.ExposedPorts.80: want {}"},
           {R"({"architecture":"amd64","os":"linux","config":{"Healthcheck":{"Retries":"x"}},)" +
                rootfs + "}",
            "config.Healthcheck.Retries: want a number"},
           {R"({"architecture":"amd64","os":"linux","config":{"ArgsEscaped":1},)" + rootfs + "}",
            "config.ArgsEscaped: want true or false"},
           {R"({"architecture":"amd64","os":"linux","history":[{"empty_layer":"yes"}],)" + rootfs +
                "}",
            "history[0].empty_layer: want true or false"},
           {R"({"architecture":"amd64","os":"linux","history":{},)" + rootfs + "}",
            "history: want an array"},
       }) {
    Result<ImageConfig> r = ParseImageConfig(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_THAT(r.error().message(), HasSubstr(c.want)) << c.json;
  }
}

TEST(Rfc3339Test, Table) {
  for (const char* good : {"2024-01-02T03:04:05Z", "2024-02-29T23:59:59.5+01:00",
                           "1970-01-01T00:00:00.000000000-00:00", "2023-05-19T20:19:32.4193Z"}) {
    EXPECT_TRUE(IsRfc3339(good)) << good;
  }
  for (const char* bad :
       {"", "2024-01-02", "2024-01-02 03:04:05Z", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z",
        "2024-01-02T24:00:00Z", "2024-01-02T03:04:05", "2024-01-02T03:04:05.Z",
        "2024-01-02T03:04:05Zjunk", "2024-01-02T03:04:05+0100", "2024-1-02T03:04:05Z"}) {
    EXPECT_FALSE(IsRfc3339(bad)) << bad;
  }
}

TEST(MediaTypesTest, Predicates) {
  EXPECT_TRUE(IsIndexMediaType(kMediaTypeDockerManifestList));
  EXPECT_TRUE(IsIndexMediaType(kMediaTypeImageIndex));
  EXPECT_FALSE(IsIndexMediaType(kMediaTypeImageManifest));
  EXPECT_TRUE(IsManifestMediaType(kMediaTypeDockerManifest));
  EXPECT_TRUE(IsConfigMediaType(kMediaTypeDockerConfig));
  EXPECT_EQ(LayerCompression(kMediaTypeDockerLayerGzip), Compression::kGzip);
  EXPECT_EQ(LayerCompression(kMediaTypeImageLayerZstd), Compression::kZstd);
  EXPECT_EQ(LayerCompression(kMediaTypeImageLayer), Compression::kNone);
  EXPECT_EQ(LayerCompression(kMediaTypeImageConfig), Compression::kUnknown);
  EXPECT_TRUE(IsNonDistributableLayerMediaType(kMediaTypeDockerForeignLayerGzip));
  EXPECT_FALSE(IsNonDistributableLayerMediaType(kMediaTypeDockerLayerGzip));
  EXPECT_TRUE(IsLayerMediaType(kMediaTypeDockerForeignLayerGzip));
}

}  // namespace
}  // namespace berth::oci
