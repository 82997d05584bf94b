#include "cache/export_format.h"

#include <gtest/gtest.h>

namespace berth::cache {
namespace {

digest::Digest D(char c) {
  return digest::Digest::Parse("sha256:" + std::string(64, c)).value();
}

CacheConfig Sample() {
  CacheConfig config;
  config.layers.push_back({.media_type = "application/vnd.oci.image.layer.v1.tar+gzip",
                           .digest = D('a'),
                           .size = 10,
                           .diff_id = D('b'),
                           .compression = ""});
  config.layers.push_back({.media_type = "application/vnd.oci.image.layer.v1.tar+gzip",
                           .digest = D('c'),
                           .size = 20,
                           .diff_id = D('d'),
                           .compression = ""});
  config.records.push_back({.key = "sha256:k1", .chain = {0}, .description = "FROM base"});
  config.records.push_back({.key = "sha256:k2", .chain = {0, 1}, .description = ""});
  return config;
}

TEST(CacheFormatTest, RoundTrips) {
  CacheConfig config = Sample();
  std::string text = SerializeCacheConfig(config);
  Result<CacheConfig> parsed = ParseCacheConfig(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().ToString();
  EXPECT_EQ(*parsed, config);
  EXPECT_EQ(SerializeCacheConfig(*parsed), text);
}

TEST(CacheFormatTest, ErrorsNameTheField) {
  struct Case {
    std::string json;
    std::string want;
  } cases[] = {
      {"[", "not valid JSON"},
      {"[]", "not a JSON object"},
      {R"({"records":[]})", "no \"layers\""},
      {R"({"layers":{},"records":[]})", "layers: not an array"},
      {R"({"layers":[{"mediaType":"m","digest":"x","size":1,"diffID":"sha256:)" +
           std::string(64, 'a') + R"("}],"records":[]})",
       "layers[0].digest"},
      {R"({"layers":[{"mediaType":"m","digest":"sha256:)" + std::string(64, 'a') +
           R"(","size":-1,"diffID":"sha256:)" + std::string(64, 'a') + R"("}],"records":[]})",
       "layers[0].size"},
      {R"({"layers":[],"records":[{"key":"k","layers":[]}]})", "records[0].layers"},
      {R"({"layers":[],"records":[{"key":"","layers":[0]}]})", "records[0].key"},
  };
  for (const Case& c : cases) {
    Result<CacheConfig> parsed = ParseCacheConfig(c.json);
    ASSERT_FALSE(parsed.ok()) << c.json;
    EXPECT_NE(parsed.error().ToString().find(c.want), std::string::npos)
        << c.json << " -> " << parsed.error().ToString();
  }
}

TEST(CacheFormatTest, RefusesIndexesOutOfRangeAndDuplicateKeys) {
  CacheConfig config = Sample();
  config.records[1].chain = {0, 2};
  Result<CacheConfig> parsed = ParseCacheConfig(SerializeCacheConfig(config));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().ToString().find("records[1].layers[1]"), std::string::npos)
      << parsed.error().ToString();

  config = Sample();
  config.records[1].key = config.records[0].key;
  parsed = ParseCacheConfig(SerializeCacheConfig(config));
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().ToString().find("appears twice"), std::string::npos)
      << parsed.error().ToString();
}

}  // namespace
}  // namespace berth::cache
