// Conformance tests against BuildKit's TestParseGitRef table (tests/testdata/gitref), one
// test per case, plus berth's own edge cases.
#include "gitref/gitref.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace berth::gitref {
namespace {

using nlohmann::json;

std::vector<json> LoadCases() {
  std::ifstream in(std::string(BERTH_TESTDATA) + "/gitref/parse_git_ref.json");
  std::stringstream text;
  text << in.rdbuf();
  json doc = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("cases") || !doc["cases"].is_array()) {
    return {};
  }
  return doc["cases"].get<std::vector<json>>();
}

const std::vector<json>& Cases() {
  static const std::vector<json> cases = LoadCases();
  return cases;
}

TEST(GitRefDataTest, CaseCount) {
  EXPECT_EQ(Cases().size(), 39u);
}

// Builds the expected GitRef from the table's Go field names; unknown fields fail the test.
GitRef Expected(const json& fields) {
  GitRef want;
  for (const auto& [key, value] : fields.items()) {
    if (key == "Remote") {
      want.remote = value.get<std::string>();
    } else if (key == "ShortName") {
      want.short_name = value.get<std::string>();
    } else if (key == "Ref") {
      want.ref = value.get<std::string>();
    } else if (key == "Checksum") {
      want.checksum = value.get<std::string>();
    } else if (key == "SubDir") {
      want.subdir = value.get<std::string>();
    } else if (key == "IndistinguishableFromLocal") {
      want.indistinguishable_from_local = value.get<bool>();
    } else if (key == "UnencryptedTCP") {
      want.unencrypted_tcp = value.get<bool>();
    } else if (key == "KeepGitDir") {
      want.keep_git_dir = value.get<bool>();
    } else if (key == "Submodules") {
      want.submodules = value.get<bool>();
    } else if (key == "MTime") {
      want.mtime = value.get<std::string>();
    } else if (key == "FetchByCommit") {
      want.fetch_by_commit = value.get<bool>();
    } else {
      ADD_FAILURE() << "unknown field " << key;
    }
  }
  return want;
}

std::string Dump(const GitRef& r) {
  auto opt = [](const std::optional<bool>& b) {
    return b ? (*b ? "true" : "false") : "unset";
  };
  return "{remote=" + r.remote + " short_name=" + r.short_name + " ref=" + r.ref +
         " checksum=" + r.checksum + " subdir=" + r.subdir +
         " indistinguishable_from_local=" + std::to_string(r.indistinguishable_from_local) +
         " unencrypted_tcp=" + std::to_string(r.unencrypted_tcp) +
         " keep_git_dir=" + opt(r.keep_git_dir) + " submodules=" + opt(r.submodules) +
         " mtime=" + r.mtime + " fetch_by_commit=" + std::to_string(r.fetch_by_commit) + "}";
}

class ParseGitRefTest : public testing::TestWithParam<json> {};

TEST_P(ParseGitRefTest, Parse) {
  const json& c = GetParam();
  const std::string ref = c["ref"].get<std::string>();
  const std::string want_error = c["err"].get<std::string>();
  Result<std::optional<GitRef>> got = ParseGitRef(ref);
  if (!want_error.empty()) {
    ASSERT_FALSE(got.ok()) << ref << " parsed as " << (got->has_value() ? Dump(**got) : "no ref");
    EXPECT_NE(got.error().message().find(want_error), std::string::npos)
        << ref << ": " << got.error().ToString();
    return;
  }
  ASSERT_TRUE(got.ok()) << ref << ": " << got.error().ToString();
  if (c["expected"].is_null()) {
    EXPECT_FALSE(got->has_value()) << ref << " parsed as " << Dump(**got);
    return;
  }
  ASSERT_TRUE(got->has_value()) << ref << " not recognised as a git ref";
  GitRef want = Expected(c["expected"]);
  EXPECT_EQ(**got, want) << ref << "\n got: " << Dump(**got) << "\nwant: " << Dump(want);
}

INSTANTIATE_TEST_SUITE_P(Data, ParseGitRefTest, testing::ValuesIn(Cases()),
                         [](const testing::TestParamInfo<json>& info) {
                           return "case" + std::to_string(info.index);
                         });

std::optional<GitRef> Parse(std::string_view ref) {
  Result<std::optional<GitRef>> got = ParseGitRef(ref);
  EXPECT_TRUE(got.ok()) << ref << ": " << got.error().ToString();
  return got.ok() ? *got : std::nullopt;
}

TEST(ParseGitRefTest, NotGit) {
  for (const char* ref :
       {"", ".", "../repo.git", "./repo.git", "/abs/repo.git", "repo.git", "ftp://host/repo.git",
        "file:///tmp/repo.git", "http://host/repo", "@host:path", "user@:path", "us er@host:path",
        "user@ho_st:path", "user@host:pa\nth", "user@host:path?a=%zz", "https://ho st/r.git",
        "https://host:port/r.git", "https://host/r.git#%zz"}) {
    EXPECT_FALSE(Parse(ref).has_value()) << ref;
  }
}

TEST(ParseGitRefTest, Options) {
  std::optional<GitRef> r =
      Parse("https://host/r.git?keep-git-dir&submodules=false&commit=abc&mtime=commit");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->keep_git_dir, true);
  EXPECT_EQ(r->submodules, false);
  EXPECT_EQ(r->checksum, "abc");
  EXPECT_EQ(r->mtime, "commit");
  EXPECT_EQ(r->ref, "");

  r = Parse("ssh://git@host:2222/org/repo.git?branch=refs/heads/main#refs/heads/main:sub");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->remote, "ssh://git@host:2222/org/repo.git");
  EXPECT_EQ(r->short_name, "repo");
  EXPECT_EQ(r->ref, "refs/heads/main");
  EXPECT_EQ(r->subdir, "sub");
  EXPECT_FALSE(r->unencrypted_tcp);
}

TEST(ParseGitRefTest, RemoteIsReencodedAsGoDoes) {
  std::optional<GitRef> r = Parse("HTTPS://Host/a%20b/c d.git?");
  ASSERT_TRUE(r.has_value());
  // The scheme is lower-cased, a path that is not validly encoded is re-escaped, and a lone
  // trailing '?' is kept.
  EXPECT_EQ(r->remote, "https://Host/a%20b/c%20d.git?");
  // ShortName comes from that remote, so, as upstream, the '?' defeats the ".git" trim.
  EXPECT_EQ(r->short_name, "c%20d.git?");
}

TEST(ParseGitRefTest, OptionErrors) {
  for (const char* ref :
       {"https://h/r.git?ref=", "https://h/r.git?ref=a&ref=b", "https://h/r.git?subdir=a#:b",
        "https://h/r.git?keep-git-dir=maybe", "https://h/r.git?submodules=2",
        "git@h:r?mtime=", "github.com/a/b?nope=1", "https://h/r.git?branch=a&ref=b"}) {
    EXPECT_FALSE(ParseGitRef(ref).ok()) << ref;
  }
}

}  // namespace
}  // namespace berth::gitref
