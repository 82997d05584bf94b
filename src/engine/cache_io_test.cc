#include "engine/cache_io.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(CacheSpecTest, ParsesRegistryAndLocalForms) {
  Result<CacheSpec> bare = ParseCacheImport("registry.example/app:cache");
  ASSERT_TRUE(bare.ok()) << bare.error().ToString();
  EXPECT_EQ(bare->type, CacheSpec::Type::kRegistry);
  EXPECT_EQ(bare->ref, "registry.example/app:cache");

  Result<CacheSpec> to = ParseCacheExport(
      "type=registry,ref=localhost:5000/app:cache,mode=max,image-manifest=true,"
      "oci-mediatypes=true,ignore-error=true");
  ASSERT_TRUE(to.ok()) << to.error().ToString();
  EXPECT_EQ(to->ref, "localhost:5000/app:cache");
  EXPECT_TRUE(to->max);
  EXPECT_TRUE(to->ignore_error);

  Result<CacheSpec> local = ParseCacheExport("type=local,dest=/tmp/c,tag=v2");
  ASSERT_TRUE(local.ok()) << local.error().ToString();
  EXPECT_EQ(local->type, CacheSpec::Type::kLocal);
  EXPECT_EQ(local->dir, "/tmp/c");
  EXPECT_EQ(local->tag, "v2");
  EXPECT_FALSE(local->max);

  Result<CacheSpec> from =
      ParseCacheImport("type=local,src=/tmp/c,digest=sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(from.ok()) << from.error().ToString();
  EXPECT_EQ(from->dir, "/tmp/c");
  EXPECT_EQ(from->digest, "sha256:" + std::string(64, 'a'));
}

TEST(CacheSpecTest, ErrorsNameTheAttribute) {
  struct Case {
    bool export_;
    std::string spec;
    std::string want;
  } cases[] = {
      {true, "type=local", "dest= is required"},
      {false, "type=local,dest=/x", "unknown attribute \"dest\""},
      {false, "type=registry", "ref= is required"},
      {true, "type=registry,ref=a,mode=all", "mode=all"},
      {true, "type=gha", "type=gha is not supported"},
      {true, "type=inline", "type=inline is not supported"},
      {true, "type=floppy,dest=x", "unknown type \"floppy\""},
      {true, "type=local,dest=x,compression=zstd", "compression=zstd"},
      {false, "type=local,src=x,digest=nope", "digest"},
      {true, "type=registry,ref=UPPER/case", "--cache-to"},
      {true, "", "empty value"},
  };
  for (const Case& c : cases) {
    Result<CacheSpec> parsed = c.export_ ? ParseCacheExport(c.spec) : ParseCacheImport(c.spec);
    ASSERT_FALSE(parsed.ok()) << c.spec;
    EXPECT_NE(parsed.error().ToString().find(c.want), std::string::npos)
        << c.spec << " -> " << parsed.error().ToString();
  }
}

}  // namespace
}  // namespace berth::engine
