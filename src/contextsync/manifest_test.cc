#include "contextsync/manifest.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace berth::contextsync {
namespace {

Entry Dir(std::string path, uint32_t mode = 0755) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kDir;
  e.mode = mode;
  return e;
}

Entry File(std::string path, std::string_view content, uint32_t mode = 0644) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kFile;
  e.mode = mode;
  e.size = content.size();
  e.digest = digest::FromBytes(content);
  return e;
}

Entry Link(std::string path, std::string target) {
  Entry e;
  e.path = std::move(path);
  e.type = EntryType::kSymlink;
  e.mode = 0777;
  e.link_target = std::move(target);
  return e;
}

Manifest Sample() {
  Manifest m;
  m.entries = {Dir("a"),
               Dir("a/sub", 0700),
               File("a/sub/e", ""),
               Link("a/up", "../../etc/passwd"),
               File("a/x.txt", "hello"),
               File("a-b", "x", 04755),
               File("z", "zz")};
  return m;
}

TEST(ManifestTest, OrderComparesComponents) {
  EXPECT_TRUE(ManifestLess("a", "a/b"));
  EXPECT_TRUE(ManifestLess("a/b", "a-b"));
  EXPECT_TRUE(ManifestLess("a/z", "a-b"));
  EXPECT_TRUE(ManifestLess("a-b", "b"));
  EXPECT_FALSE(ManifestLess("a", "a"));
  EXPECT_TRUE(ManifestLess("a\x7f", "a\xc3"));  // bytes compare unsigned
}

TEST(ManifestTest, JsonRoundTrip) {
  Manifest m = Sample();
  ASSERT_TRUE(ValidateManifest(m).ok()) << ValidateManifest(m).error().ToString();
  std::string json = ManifestToJson(m);
  Result<Manifest> back = ParseManifestJson(json);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, m);
  EXPECT_NE(json.find("\"path\":\"a/x.txt\""), std::string::npos) << json;
}

TEST(ManifestTest, NonUtf8NamesSurviveAsHex) {
  Manifest m;
  m.entries = {File("caf\xe9", "latin-1 name"), Link("l", "\xff\xfe")};
  std::string json = ManifestToJson(m);
  EXPECT_NE(json.find("\"path_hex\":\"636166e9\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"target_hex\":\"fffe\""), std::string::npos) << json;
  Result<Manifest> back = ParseManifestJson(json);
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_EQ(*back, m);
}

TEST(ManifestTest, FileDigestsAreDistinctAndSkipEmptyFiles) {
  Manifest m;
  m.entries = {File("a", "same"), File("b", ""), File("c", "same"), File("d", "other")};
  std::vector<digest::Digest> want = {digest::FromBytes("same"), digest::FromBytes("other")};
  EXPECT_EQ(FileDigests(m), want);
}

TEST(ManifestTest, PathsWithDigestsAndManifestDigest) {
  Manifest m;
  m.entries = {File("a", "same"), File("b", "other"), File("c", "same"), Link("l", "a")};
  EXPECT_EQ(PathsWithDigests(m, {digest::FromBytes("same")}), (std::vector<std::string>{"a", "c"}));
  EXPECT_TRUE(PathsWithDigests(m, {}).empty());
  Manifest changed = m;
  changed.entries[1].mode = 0755;
  EXPECT_EQ(ManifestDigest(m), ManifestDigest(Manifest(m)));
  EXPECT_NE(ManifestDigest(m), ManifestDigest(changed));
}

TEST(ManifestTest, ValidatePathRejectsUncleanPaths) {
  EXPECT_TRUE(ValidatePath("a/b.c").ok());
  EXPECT_TRUE(ValidatePath("..a/b..").ok());
  for (const std::string& bad : std::vector<std::string>{
           "", "/etc/passwd", "a//b", "a/../b", "..", "../x", ".", "./a", "a/.", "a/",
           std::string("a\0b", 3), std::string(256, 'n'), std::string(kMaxPathLength + 1, 'a')}) {
    EXPECT_FALSE(ValidatePath(bad).ok()) << "accepted \"" << bad << "\"";
    EXPECT_EQ(ValidatePath(bad).error().code(), ErrorCode::kInvalidArgument);
  }
}

// Each document is a valid manifest but for one thing.
TEST(ManifestTest, ParseRejectsHostileDocuments) {
  const std::string d = digest::FromBytes("hi").ToString();
  const std::string e = EmptyDigest().ToString();
  auto doc = [](const std::string& entries) {
    return R"({"version":1,"entries":[)" + entries + "]}";
  };
  auto file = [&](const std::string& path, const std::string& extra = "") {
    return R"({"path":")" + path + R"(","type":"file","mode":420,"size":2,"digest":")" + d + "\"" +
           extra + "}";
  };
  ASSERT_TRUE(ParseManifestJson(doc(file("ok"))).ok());
  std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      R"({"entries":[]})",
      R"({"version":2,"entries":[]})",
      R"({"version":1})",
      R"({"version":1,"entries":{}})",
      R"({"version":1,"entries":[],"extra":1})",
      doc(file("../escape")),
      doc(file("/etc/passwd")),
      doc(file("a//b")),
      doc(file("a/./b")),
      doc(file("dir/")),
      doc(file("nul\\u0000byte")),
      doc(file("x", R"(,"owner":0)")),
      doc(file("x", R"(,"target":"y")")),
      doc(R"({"path":"x","type":"file","mode":420,"size":-2,"digest":")" + d + "\"}"),
      doc(R"({"path":"x","type":"file","mode":420,"size":2.5,"digest":")" + d + "\"}"),
      doc(R"({"path":"x","type":"file","mode":420,"size":"2","digest":")" + d + "\"}"),
      doc(R"({"path":"x","type":"file","mode":420,"size":2})"),
      doc(R"({"path":"x","type":"file","mode":420,"size":2,"digest":"sha256:abc"})"),
      doc(R"({"path":"x","type":"file","mode":420,"size":2,"digest":"md5:abc"})"),
      doc(R"({"path":"x","type":"file","mode":420,"size":2,"digest":"sha512:)" +
          std::string(128, 'a') + "\"}"),
      doc(R"({"path":"x","type":"file","mode":420,"size":1099511627777,"digest":")" + d + "\"}"),
      doc(R"({"path":"x","type":"file","mode":420,"size":0,"digest":")" + d + "\"}"),
      doc(R"({"path":"x","type":"file","mode":4096,"size":0,"digest":")" + e + "\"}"),
      doc(R"({"path":"x","type":"fifo","mode":420})"),
      doc(R"({"path":"x","type":"dir","mode":493,"digest":")" + d + "\"}"),
      doc(R"({"path":"x","type":"symlink","mode":511})"),
      doc(R"({"path":"x","type":"symlink","mode":511,"target":""})"),
      doc(R"({"path":"x","type":"symlink","mode":511,"target":"a\u0000b"})"),
      doc(R"({"path":"x","path_hex":"78","type":"dir","mode":493})"),
      doc(R"({"path_hex":"2e2e","type":"dir","mode":493})"),
      doc(R"({"path_hex":"7","type":"dir","mode":493})"),
      doc(R"({"type":"dir","mode":493})"),
      doc(file("b") + "," + file("a")),  // out of order
      doc(file("a") + "," + file("a")),  // duplicate
      doc(file("nodir/x")),              // parent missing
      doc(R"({"path":"l","type":"symlink","mode":511,"target":"/etc"},)" + file("l/passwd")),
      doc(file("f") + "," + file("f/x")),  // parent is a file
  };
  for (const std::string& text : bad) {
    Result<Manifest> r = ParseManifestJson(text);
    EXPECT_FALSE(r.ok()) << "accepted: " << text;
    if (!r.ok()) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << text;
    }
  }
}

}  // namespace
}  // namespace berth::contextsync
