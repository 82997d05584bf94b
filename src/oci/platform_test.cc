#include "oci/platform.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "oci/media_types.h"

namespace berth::oci {
namespace {

platform::Platform P(std::string_view text) {
  // Built by hand (not ParsePlatform) so the tests also feed un-normalised spellings.
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t slash = text.find('/', start);
    parts.emplace_back(text.substr(start, slash - start));
    if (slash == std::string_view::npos) {
      break;
    }
    start = slash + 1;
  }
  platform::Platform p;
  p.os = parts[0];
  p.architecture = parts.size() > 1 ? parts[1] : "";
  p.variant = parts.size() > 2 ? parts[2] : "";
  return p;
}

struct MatchCase {
  std::string wanted;
  std::vector<std::string> match;
  std::vector<std::string> no_match;
};

// The behaviour of containerd's platforms.Only, case by case.
TEST(PlatformMatcherTest, CompatibleTable) {
  const std::vector<MatchCase> cases = {
      {"linux/amd64",
       {"linux/amd64", "linux/386", "linux/x86_64", "linux/amd64/v1", "LINUX/AMD64"},
       {"linux/amd64/v2", "linux/arm/v7", "linux/arm64", "windows/amd64", "windows/arm"}},
      {"linux/amd64/v2",
       {"linux/amd64", "linux/amd64/v1", "linux/amd64/v2", "linux/386"},
       {"linux/amd64/v3", "linux/amd64/v4", "linux/arm/v7", "linux/arm64", "windows/amd64"}},
      {"linux/386", {"linux/386", "linux/i386"}, {"linux/amd64", "linux/arm/v7", "linux/arm64"}},
      {"linux/arm/v8",
       {"linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8"},
       {"linux/amd64", "linux/arm/v4", "linux/arm64", "windows/arm"}},
      {"linux/arm/v7",
       {"linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/armhf", "linux/arm/7"},
       {"linux/amd64", "linux/arm/v4", "linux/arm/v8", "linux/arm64", "windows/arm"}},
      {"linux/arm", {"linux/arm/v7", "linux/arm/v6", "linux/arm/v5"}, {"linux/arm/v8"}},
      {"linux/arm/v6",
       {"linux/arm/v5", "linux/arm/v6", "linux/armel"},
       {"linux/arm", "linux/arm/v4", "linux/arm/v7", "linux/arm/v8", "linux/arm64"}},
      {"linux/arm/v5",
       {"linux/arm/v5"},
       {"linux/arm", "linux/arm/v4", "linux/arm/v6", "linux/arm/v7", "linux/arm64"}},
      {"linux/arm/v4", {"linux/arm/v4"}, {"linux/arm", "linux/arm/v5", "linux/arm/v6"}},
      {"linux/arm64/v9",
       {"linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
        "linux/arm64/v8", "linux/arm64/v8.1", "linux/arm64/v8.2", "linux/arm64/v8.3",
        "linux/arm64/v8.4", "linux/arm64/v8.5", "linux/arm64/v9", "linux/arm64/v9.0"},
       {"linux/amd64", "linux/arm/v4", "windows/arm", "linux/arm64/v8.6"}},
      {"linux/arm64/v8.1",
       {"linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
        "linux/arm64/v8", "linux/arm64/v8.1"},
       {"linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "linux/arm64/v8.2"}},
      {"linux/arm64",
       {"linux/arm", "linux/arm/v5", "linux/arm/v6", "linux/arm/v7", "linux/arm/v8", "linux/arm64",
        "linux/arm64/v8", "linux/aarch64"},
       {"linux/amd64", "linux/arm/v4", "linux/arm/v9", "linux/arm64/v9", "windows/amd64",
        "linux/arm64/v8.1"}},
      {"linux/aarch64", {"linux/arm64", "linux/arm64/v8", "linux/arm/v7"}, {"linux/amd64"}},
      {"windows/amd64", {"windows/amd64", "windows/386"}, {"linux/amd64", "windows/arm64"}},
  };
  for (const MatchCase& c : cases) {
    PlatformMatcher m = PlatformMatcher::Compatible(P(c.wanted));
    for (const std::string& yes : c.match) {
      EXPECT_TRUE(m.Match(P(yes))) << c.wanted << " should match " << yes;
    }
    for (const std::string& no : c.no_match) {
      EXPECT_FALSE(m.Match(P(no))) << c.wanted << " should not match " << no;
    }
  }
}

TEST(PlatformMatcherTest, ExactOnlyNormalises) {
  PlatformMatcher arm64 = PlatformMatcher::Exact(P("linux/aarch64"));
  EXPECT_TRUE(arm64.Match(P("linux/arm64/v8")));
  EXPECT_TRUE(arm64.Match(P("linux/arm64")));
  EXPECT_FALSE(arm64.Match(P("linux/arm/v7")));
  PlatformMatcher arm = PlatformMatcher::Exact(P("linux/arm"));
  EXPECT_TRUE(arm.Match(P("linux/arm/v7")));
  EXPECT_FALSE(arm.Match(P("linux/arm/v6")));
  PlatformMatcher amd64 = PlatformMatcher::Exact(P("linux/amd64"));
  EXPECT_FALSE(amd64.Match(P("linux/386")));
}

TEST(PlatformMatcherTest, RanksPreferNewerVariants) {
  PlatformMatcher m = PlatformMatcher::Compatible(P("linux/arm64"));
  EXPECT_EQ(m.Rank(P("linux/arm64/v8")), 0u);
  EXPECT_LT(*m.Rank(P("linux/arm64")), *m.Rank(P("linux/arm/v8")));
  EXPECT_LT(*m.Rank(P("linux/arm/v8")), *m.Rank(P("linux/arm/v7")));
  EXPECT_LT(*m.Rank(P("linux/arm/v7")), *m.Rank(P("linux/arm/v5")));
  EXPECT_FALSE(m.Rank(P("linux/amd64")).has_value());
  std::vector<std::string> prefs;
  for (const platform::Platform& p : m.preferences()) {
    prefs.push_back(p.ToString());
  }
  EXPECT_EQ(prefs, (std::vector<std::string>{"linux/arm64", "linux/arm/v8", "linux/arm/v7",
                                             "linux/arm/v6", "linux/arm/v5"}));
}

TEST(PlatformMatcherTest, WindowsOsVersion) {
  PlatformMatcher m = PlatformMatcher::Compatible(P("windows/amd64"), "10.0.17763.1");
  Platform same;
  same.os = "windows";
  same.architecture = "amd64";
  same.os_version = "10.0.17763.5329";
  EXPECT_TRUE(m.Match(same));
  Platform other = same;
  other.os_version = "10.0.20348.2227";
  EXPECT_FALSE(m.Match(other));
  // Without a wanted version any build is acceptable.
  EXPECT_TRUE(PlatformMatcher::Compatible(P("windows/amd64")).Match(other));
}

TEST(NormalizePlatformTest, ExtraRules) {
  EXPECT_EQ(NormalizePlatform(P("linux/amd64/v1")).ToString(), "linux/amd64");
  EXPECT_EQ(NormalizePlatform(P("linux/i386/v2")).ToString(), "linux/386");
  EXPECT_EQ(NormalizePlatform(P("linux/arm64/v9.0")).ToString(), "linux/arm64/v9");
  EXPECT_EQ(NormalizePlatform(P("linux/aarch64/8")).ToString(), "linux/arm64");
  EXPECT_EQ(NormalizePlatform(P("linux/arm")).ToString(), "linux/arm/v7");
}

Descriptor Entry(std::string_view platform, char fill) {
  Descriptor d;
  d.media_type = std::string(kMediaTypeImageManifest);
  d.digest = digest::Digest::FromSha256Hex(std::string(64, fill));
  d.size = 100;
  if (!platform.empty()) {
    Platform p;
    static_cast<platform::Platform&>(p) = P(platform);
    d.platform = p;
  }
  return d;
}

TEST(SelectManifestTest, PicksBestMatch) {
  Index idx;
  idx.manifests = {Entry("linux/amd64", '1'), Entry("linux/arm64/v8", '2'),
                   Entry("linux/arm/v6", '3'), Entry("linux/arm/v7", '4'),
                   Entry("unknown/unknown", '5')};
  auto pick = [&](std::string_view wanted) -> std::string {
    Result<Descriptor> d = SelectManifest(idx, PlatformMatcher::Compatible(P(wanted)));
    return d.ok() ? d->platform->ToString() : "error: " + d.error().message();
  };
  EXPECT_EQ(pick("linux/amd64"), "linux/amd64");
  EXPECT_EQ(pick("linux/x86_64"), "linux/amd64");
  EXPECT_EQ(pick("linux/amd64/v3"), "linux/amd64");
  EXPECT_EQ(pick("linux/arm64"), "linux/arm64/v8");
  EXPECT_EQ(pick("linux/aarch64"), "linux/arm64/v8");
  EXPECT_EQ(pick("linux/arm/v8"), "linux/arm/v7");  // falls back to the newest it can run
  EXPECT_EQ(pick("linux/arm"), "linux/arm/v7");
  EXPECT_EQ(pick("linux/arm/v6"), "linux/arm/v6");
  EXPECT_THAT(pick("linux/386"), ::testing::HasSubstr("no manifest for platform linux/386"));
  EXPECT_THAT(pick("linux/s390x"), ::testing::HasSubstr("linux/arm64/v8"));  // lists offers
}

TEST(SelectManifestTest, Arm64FallsBackToArm) {
  Index idx;
  idx.manifests = {Entry("linux/amd64", '1'), Entry("linux/arm/v5", '2'),
                   Entry("linux/arm/v7", '3')};
  Result<Descriptor> d = SelectManifest(idx, PlatformMatcher::Compatible(P("linux/arm64")));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->platform->ToString(), "linux/arm/v7");
  // Strict matching does not fall back.
  EXPECT_FALSE(SelectManifest(idx, PlatformMatcher::Exact(P("linux/arm64"))).ok());
}

TEST(SelectManifestTest, TiesGoToTheFirstAndUnplatformedIsTheLastResort) {
  Index idx;
  idx.manifests = {Entry("", '0'), Entry("linux/amd64", '1'), Entry("linux/amd64", '2')};
  Result<Descriptor> d = SelectManifest(idx, PlatformMatcher::Compatible(P("linux/amd64")));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->digest.hex(), std::string(64, '1'));
  Result<Descriptor> u = SelectManifest(idx, PlatformMatcher::Compatible(P("linux/arm64")));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->digest.hex(), std::string(64, '0'));
  // Non-image entries (an attestation blob, say) never count.
  Index other;
  other.manifests = {Entry("", '0')};
  other.manifests[0].media_type = "application/vnd.in-toto+json";
  EXPECT_EQ(SelectManifest(other, PlatformMatcher::Compatible(P("linux/amd64"))).error().code(),
            ErrorCode::kNotFound);
}

}  // namespace
}  // namespace berth::oci
