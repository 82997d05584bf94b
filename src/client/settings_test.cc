// Where the CLI finds berthd, its token and the project: host forms, the login file, the
// flag > environment > login order, and the upward search for berth.json and depot.json.
#include "client/settings.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "os/file.h"

namespace berth::client {
namespace {

TEST(BaseUrlTest, HostForms) {
  EXPECT_EQ(BaseUrl("http://berth.example:8088").value_or(""), "http://berth.example:8088");
  EXPECT_EQ(BaseUrl("https://berth.example:8088/").value_or(""), "https://berth.example:8088");
  EXPECT_EQ(BaseUrl("HTTPS://berth.example").value_or(""), "https://berth.example");
  EXPECT_EQ(BaseUrl("https://proxy.example/berth/").value_or(""), "https://proxy.example/berth");
  // Bare: https, except loopback.
  EXPECT_EQ(BaseUrl("berth.example:8088").value_or(""), "https://berth.example:8088");
  EXPECT_EQ(BaseUrl(" berth.example ").value_or(""), "https://berth.example");
  EXPECT_EQ(BaseUrl("127.0.0.1:8088").value_or(""), "http://127.0.0.1:8088");
  EXPECT_EQ(BaseUrl("127.1.2.3:1").value_or(""), "http://127.1.2.3:1");
  EXPECT_EQ(BaseUrl("localhost:8088").value_or(""), "http://localhost:8088");
  EXPECT_EQ(BaseUrl("[::1]:8088").value_or(""), "http://[::1]:8088");
  EXPECT_EQ(BaseUrl("[2001:db8::1]:8088").value_or(""), "https://[2001:db8::1]:8088");
  EXPECT_EQ(BaseUrl("127.example.com:1").value_or(""), "https://127.example.com:1");
}

TEST(BaseUrlTest, RegistryHostDropsTheScheme) {
  EXPECT_EQ(RegistryHost("http://127.0.0.1:8088"), "127.0.0.1:8088");
  EXPECT_EQ(RegistryHost("https://berth.example"), "berth.example");
  EXPECT_EQ(RegistryHost("berth.example:443"), "berth.example:443");
}

TEST(BaseUrlTest, BadHosts) {
  for (const char* bad : {"", "  ", "ftp://h:1", "h:port", "h:99999", "::1:8088", "[::1", "http://",
                          "h:", "a b:1", "https://:8088"}) {
    Result<std::string> r = BaseUrl(bad);
    ASSERT_FALSE(r.ok()) << bad << " -> " << r.value();
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-settings-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    env_["HOME"] = dir_ + "/home";
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }

  Getenv Env() {
    return [this](const std::string& name) {
      auto it = env_.find(name);
      return it == env_.end() ? std::string() : it->second;
    };
  }

  // Logs in to `url` as `berth login` does.
  void Login(const std::string& url, const std::string& token) {
    std::string path = LoginFile::DefaultPath(Env()).value();
    LoginFile file = LoginFile::Load(path).value();
    file.Set(url, token);
    ASSERT_TRUE(file.Save().ok());
  }

  std::string dir_;
  std::map<std::string, std::string> env_;
};

TEST_F(SettingsTest, LoginFilePathFollowsXdg) {
  EXPECT_EQ(LoginFile::DefaultPath(Env()).value(), dir_ + "/home/.config/berth/config.json");
  env_["XDG_CONFIG_HOME"] = dir_ + "/xdg";
  EXPECT_EQ(LoginFile::DefaultPath(Env()).value(), dir_ + "/xdg/berth/config.json");
  env_.clear();
  EXPECT_EQ(LoginFile::DefaultPath(Env()).error().code(), ErrorCode::kFailedPrecondition);
}

TEST_F(SettingsTest, LoginFileRoundTripsWithMode0600) {
  std::string path = dir_ + "/cfg/berth/config.json";
  LoginFile missing = LoginFile::Load(path).value();
  EXPECT_TRUE(missing.current().empty());
  EXPECT_TRUE(missing.tokens().empty());

  LoginFile file = missing;
  file.Set("http://a:1", "ta");
  file.Set("https://b:2", "tb");
  ASSERT_TRUE(file.Save().ok());
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat((dir_ + "/cfg/berth").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);

  LoginFile read = LoginFile::Load(path).value();
  EXPECT_EQ(read.current(), "https://b:2");
  EXPECT_EQ(read.Token("http://a:1").value_or(""), "ta");
  EXPECT_EQ(read.Token("https://b:2").value_or(""), "tb");
  EXPECT_FALSE(read.Token("http://c:3").has_value());

  EXPECT_TRUE(read.Remove("https://b:2"));
  EXPECT_FALSE(read.Remove("https://b:2"));
  EXPECT_TRUE(read.current().empty());
  ASSERT_TRUE(read.Save().ok());
  EXPECT_EQ(LoginFile::Load(path).value().tokens().size(), 1u);
}

TEST_F(SettingsTest, BadLoginFileNamesItself) {
  std::string path = dir_ + "/config.json";
  for (const char* text : {"not json", "[]", "{\"hosts\":{\"h\":\"tok\"}}", "{\"current\":1}"}) {
    ASSERT_TRUE(os::WriteFileAtomic(path, text).ok());
    Result<LoginFile> r = LoginFile::Load(path);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(path), std::string::npos) << r.error().message();
  }
}

TEST_F(SettingsTest, ServerFlagBeatsEnvBeatsLogin) {
  // Nothing anywhere.
  Result<Server> none = ResolveServer({}, Env());
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code(), ErrorCode::kFailedPrecondition);
  EXPECT_NE(none.error().message().find("berth login"), std::string::npos);

  Login("http://127.0.0.1:1", "login-token");
  Server s = ResolveServer({}, Env()).value();
  EXPECT_EQ(s.url, "http://127.0.0.1:1");
  EXPECT_EQ(s.token, "login-token");
  EXPECT_EQ(s.url_source, "login");
  EXPECT_EQ(s.token_source, "login");

  env_["BERTH_TOKEN"] = "env-token";
  s = ResolveServer({}, Env()).value();
  EXPECT_EQ(s.url, "http://127.0.0.1:1");
  EXPECT_EQ(s.token, "env-token");

  env_["BERTH_HOST"] = "127.0.0.1:2";
  s = ResolveServer({}, Env()).value();
  EXPECT_EQ(s.url, "http://127.0.0.1:2");
  EXPECT_EQ(s.url_source, "BERTH_HOST");
  EXPECT_EQ(s.token, "env-token");

  s = ResolveServer({.host = "https://h:3", .token = "flag-token"}, Env()).value();
  EXPECT_EQ(s.url, "https://h:3");
  EXPECT_EQ(s.url_source, "--host");
  EXPECT_EQ(s.token, "flag-token");
  EXPECT_EQ(s.token_source, "--token");
}

TEST_F(SettingsTest, HostFromFlagTakesItsLoginToken) {
  Login("http://127.0.0.1:1", "one");
  Login("http://127.0.0.1:2", "two");  // now current
  Server s = ResolveServer({.host = "127.0.0.1:1"}, Env()).value();
  EXPECT_EQ(s.url, "http://127.0.0.1:1");
  EXPECT_EQ(s.token, "one");
  EXPECT_EQ(s.token_source, "login");
  // A host with no login and no token anywhere: Unauthenticated with the hint.
  Result<Server> r = ResolveServer({.host = "127.0.0.1:3"}, Env());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(r.error().message().find("berth login http://127.0.0.1:3"), std::string::npos)
      << r.error().message();
  // ResolveHost needs no token.
  EXPECT_EQ(ResolveHost({.host = "127.0.0.1:3"}, Env()).value().url, "http://127.0.0.1:3");
  // A malformed host names where it came from.
  env_["BERTH_HOST"] = "ftp://x";
  Result<Server> bad = ResolveServer({}, Env());
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(bad.error().ToString().find("BERTH_HOST"), std::string::npos);
}

TEST_F(SettingsTest, ProjectFileSearchGoesUpward) {
  std::string top = dir_ + "/repo";
  ASSERT_TRUE(os::MakeDirs(top + "/app/src/deep").ok());
  EXPECT_FALSE(FindProjectFile(top + "/app/src/deep").has_value());

  ASSERT_TRUE(WriteProjectFile(top + "/berth.json", "p_top").ok());
  EXPECT_EQ(FindProjectFile(top + "/app/src/deep").value_or(""), top + "/berth.json");
  EXPECT_EQ(FindProjectFile(top).value_or(""), top + "/berth.json");
  EXPECT_EQ(ReadProjectFile(top + "/berth.json").value_or(""), "p_top");

  // A nearer depot.json wins over a farther berth.json; berth.json wins in one directory.
  ASSERT_TRUE(os::WriteFileAtomic(top + "/app/depot.json", "{\"id\":\"depot1\"}").ok());
  EXPECT_EQ(FindProjectFile(top + "/app/src").value_or(""), top + "/app/depot.json");
  EXPECT_EQ(ReadProjectFile(top + "/app/depot.json").value_or(""), "depot1");
  ASSERT_TRUE(WriteProjectFile(top + "/app/berth.json", "p_app").ok());
  EXPECT_EQ(FindProjectFile(top + "/app/src").value_or(""), top + "/app/berth.json");

  // Relative directories are taken from the working directory.
  char cwd[4096];
  ASSERT_NE(getcwd(cwd, sizeof(cwd)), nullptr);
  ASSERT_EQ(chdir((top + "/app/src").c_str()), 0);
  std::optional<std::string> rel = FindProjectFile("deep");
  std::optional<std::string> dot = FindProjectFile(".");
  ASSERT_EQ(chdir(cwd), 0);
  EXPECT_EQ(rel.value_or(""), top + "/app/berth.json");
  EXPECT_EQ(dot.value_or(""), top + "/app/berth.json");
}

TEST_F(SettingsTest, BadProjectFiles) {
  std::string path = dir_ + "/berth.json";
  for (const char* text : {"", "{}", "{\"id\":\"\"}", "{\"id\":7}", "[\"p\"]", "{"}) {
    ASSERT_TRUE(os::WriteFileAtomic(path, text).ok());
    Result<std::string> r = ReadProjectFile(path);
    ASSERT_FALSE(r.ok()) << text;
    EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.error().message().find(path), std::string::npos);
  }
  EXPECT_EQ(ReadProjectFile(dir_ + "/none.json").error().code(), ErrorCode::kNotFound);
}

TEST_F(SettingsTest, ProjectFlagBeatsEnvBeatsFiles) {
  std::string ctx = dir_ + "/ctx";
  std::string df = dir_ + "/dockerfiles/app";
  ASSERT_TRUE(os::MakeDirs(ctx).ok());
  ASSERT_TRUE(os::MakeDirs(df).ok());

  ProjectChoice none = ResolveProject("", Env(), {ctx, df}).value();
  EXPECT_TRUE(none.id.empty());

  // Only the Dockerfile's directory has one (depot.json).
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/dockerfiles/depot.json", "{\"id\":\"d1\"}").ok());
  ProjectChoice from_df = ResolveProject("", Env(), {ctx, df}).value();
  EXPECT_EQ(from_df.id, "d1");
  EXPECT_EQ(from_df.source, dir_ + "/dockerfiles/depot.json");

  // The context's search comes first.
  ASSERT_TRUE(WriteProjectFile(ctx + "/berth.json", "p_ctx").ok());
  EXPECT_EQ(ResolveProject("", Env(), {ctx, df}).value().id, "p_ctx");

  env_["BERTH_PROJECT"] = "p_env";
  ProjectChoice env = ResolveProject("", Env(), {ctx, df}).value();
  EXPECT_EQ(env.id, "p_env");
  EXPECT_EQ(env.source, "BERTH_PROJECT");
  ProjectChoice flag = ResolveProject("p_flag", Env(), {ctx, df}).value();
  EXPECT_EQ(flag.id, "p_flag");
  EXPECT_EQ(flag.source, "--project");

  // A broken file is an error, not a silent fallback.
  env_.erase("BERTH_PROJECT");
  ASSERT_TRUE(os::WriteFileAtomic(ctx + "/berth.json", "{\"project\":\"x\"}").ok());
  EXPECT_EQ(ResolveProject("", Env(), {ctx, df}).error().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace berth::client
