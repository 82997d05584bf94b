#include "registryserver/parse.h"

#include <gtest/gtest.h>

namespace berth::registryserver {
namespace {

using Kind = RegistryPath::Kind;

TEST(NameTest, DistributionGrammar) {
  for (const char* good :
       {"a", "p_abc234", "library/busybox", "a.b", "a__b", "a---b", "p_x/sub/dir-1/x.y"}) {
    EXPECT_TRUE(IsValidName(good)) << good;
  }
  for (const char* bad : {"", "A", "a/", "/a", "a//b", "a..b", "a___b", "-a", "a-", "a/../b", "..",
                          ".", "a b", "a/.b", "a%2fb", "a:b"}) {
    EXPECT_FALSE(IsValidName(bad)) << bad;
  }
  EXPECT_TRUE(IsValidName(std::string(255, 'a')));
  EXPECT_FALSE(IsValidName(std::string(256, 'a')));
}

TEST(TagTest, Grammar) {
  for (const char* good : {"latest", "v1.2.3", "_x", "A-b_c.d", "0"}) {
    EXPECT_TRUE(IsValidTag(good)) << good;
  }
  for (const char* bad : {"", ".x", "-x", "a:b", "a/b", "a b", "sha256:00"}) {
    EXPECT_FALSE(IsValidTag(bad)) << bad;
  }
  EXPECT_TRUE(IsValidTag(std::string(128, 'a')));
  EXPECT_FALSE(IsValidTag(std::string(129, 'a')));
}

TEST(PathTest, SplitsEveryRoute) {
  struct Case {
    const char* path;
    Kind kind;
    const char* name;
    const char* ref;
  };
  for (const Case& c : {
           Case{"/v2/", Kind::kBase, "", ""},
           Case{"/v2", Kind::kBase, "", ""},
           Case{"/v2/token", Kind::kToken, "", ""},
           Case{"/v2/_catalog", Kind::kCatalog, "", ""},
           Case{"/v2/a/b/tags/list", Kind::kTags, "a/b", ""},
           Case{"/v2/a/manifests/latest", Kind::kManifest, "a", "latest"},
           Case{"/v2/a/blobs/sha256:00", Kind::kBlob, "a", "sha256:00"},
           Case{"/v2/a/blobs/uploads/", Kind::kUploads, "a", ""},
           Case{"/v2/a/blobs/uploads", Kind::kUploads, "a", ""},
           Case{"/v2/a/blobs/uploads/0123", Kind::kUpload, "a", "0123"},
           Case{"/v2/a/referrers/sha256:00", Kind::kReferrers, "a", "sha256:00"},
           // A name may hold the keywords as components: the last keyword decides.
           Case{"/v2/blobs/manifests/x", Kind::kManifest, "blobs", "x"},
           Case{"/v2/a/manifests/b/manifests/c", Kind::kManifest, "a/manifests/b", "c"},
       }) {
    std::optional<RegistryPath> p = ParseRegistryPath(c.path);
    ASSERT_TRUE(p.has_value()) << c.path;
    EXPECT_EQ(p->kind, c.kind) << c.path;
    EXPECT_EQ(p->name, c.name) << c.path;
    EXPECT_EQ(p->reference, c.ref) << c.path;
  }
  for (const char* bad : {"/v3/", "/v2/a", "/v2/a/", "/v2/a/manifests/", "/v2/manifests/x",
                          "/v2/a/tags", "/v2//blobs/uploads/", "/v2/tags/list"}) {
    EXPECT_FALSE(ParseRegistryPath(bad).has_value()) << bad;
  }
}

TEST(RangeTest, RangeHeader) {
  auto ok = [](const char* h, uint64_t size, uint64_t first, uint64_t last) {
    Result<ByteRange> r = ParseRangeHeader(h, size);
    ASSERT_TRUE(r.ok()) << h << ": " << r.error().ToString();
    EXPECT_EQ(*r, (ByteRange{first, last})) << h;
  };
  ok("bytes=0-9", 10, 0, 9);
  ok("bytes=2-4", 10, 2, 4);
  ok("bytes=5-", 10, 5, 9);
  ok("bytes=5-100", 10, 5, 9);
  ok("bytes=-3", 10, 7, 9);
  ok("bytes=-30", 10, 0, 9);
  // The error code, or nullopt for success.
  auto code = [](const char* h, uint64_t size) -> std::optional<ErrorCode> {
    Result<ByteRange> r = ParseRangeHeader(h, size);
    if (r.ok()) {
      return std::nullopt;
    }
    return r.error().code();
  };
  EXPECT_EQ(code("bytes=10-20", 10), ErrorCode::kOutOfRange);
  EXPECT_EQ(code("bytes=0-0", 0), ErrorCode::kOutOfRange);
  EXPECT_EQ(code("bytes=-0", 10), ErrorCode::kOutOfRange);
  for (const char* bad :
       {"", "bytes", "bytes=", "bytes=a-b", "bytes=5-2", "bytes=0-1,3-4", "items=0-1", "bytes=-",
        "bytes=99999999999999999999999-", "bytes=0x1-2", "bytes=+1-2"}) {
    EXPECT_EQ(code(bad, 10), ErrorCode::kInvalidArgument) << bad;
  }
}

TEST(RangeTest, ContentRange) {
  Result<ByteRange> r = ParseContentRange("0-4");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (ByteRange{0, 4}));
  r = ParseContentRange("bytes 5-9/*");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (ByteRange{5, 9}));
  r = ParseContentRange("bytes 5-9/10");
  ASSERT_TRUE(r.ok());
  for (const char* bad : {"", "5", "9-5", "a-b", "-4", "4-", "bytes 5-9", "bytes 5-9/x",
                          "18446744073709551616-18446744073709551617"}) {
    EXPECT_FALSE(ParseContentRange(bad).ok()) << bad;
  }
}

TEST(ScopeTest, ParsesTokenScopes) {
  Result<std::vector<Scope>> s =
      ParseScopes("repository:p_a/x:pull,push repository:localhost:5000/b:pull,pull");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  ASSERT_EQ(s->size(), 2u);
  EXPECT_EQ((*s)[0].type, "repository");
  EXPECT_EQ((*s)[0].name, "p_a/x");
  EXPECT_EQ((*s)[0].actions, (std::vector<std::string>{"pull", "push"}));
  EXPECT_EQ((*s)[1].name, "localhost:5000/b");
  EXPECT_EQ((*s)[1].actions, (std::vector<std::string>{"pull"}));
  s = ParseScopes("");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->empty());
  for (const char* bad : {"repository", "repository:x", "::pull", "repository::pull"}) {
    EXPECT_FALSE(ParseScopes(bad).ok()) << bad;
  }
}

TEST(AcceptedMediaTypesTest, ListsTypesAndTreatsWildcardsAsAnything) {
  EXPECT_TRUE(AcceptedMediaTypes("").empty());
  EXPECT_TRUE(AcceptedMediaTypes("*/*").empty());
  EXPECT_TRUE(AcceptedMediaTypes("application/json, application/*;q=0.1").empty());
  EXPECT_EQ(AcceptedMediaTypes(" Application/Vnd.OCI.Image.Index.v1+json ; q=0.9,,a/b,"),
            (std::vector<std::string>{"application/vnd.oci.image.index.v1+json", "a/b"}));
}

}  // namespace
}  // namespace berth::registryserver
