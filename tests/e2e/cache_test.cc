// `berth cache ls|reset` end to end, on the embedded default and against the real berthd on
// loopback, and berthd's LRU eviction at a project's cache cap: entries show their step, line,
// platform, size and last use; a reset drops the entries, their snapshots and the RUN cache
// mounts of one project only; after a build the least recently used entries of a project over
// its cap go with their snapshots; another project's token, a revoked one or none reach nothing.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "build_fixture.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

using json = nlohmann::json;

constexpr const char* kAdmin = "e2e-admin-token-0123456789";

// A step with a cache mount: runs.txt counts the runs that saw the mount.
constexpr const char* kMountDockerfile = R"DF(FROM busybox
WORKDIR /app
COPY greet.txt ./
RUN --mount=type=cache,target=/cache echo run >> /cache/runs && wc -l < /cache/runs > runs.txt && head -c 65536 /dev/zero > blob
)DF";

// The entries `berth cache ls --output json` printed.
json Entries(const CmdResult& r) {
  EXPECT_EQ(r.exit_code, 0) << r.err;
  json j = json::parse(r.out, nullptr, false);
  EXPECT_TRUE(j.is_array()) << r.out;
  return j.is_array() ? j : json::array();
}

// The entry whose step description contains `text`, or null.
json Find(const json& entries, const std::string& text) {
  for (const json& e : entries) {
    if (e.value("description", "").find(text) != std::string::npos) {
      return e;
    }
  }
  return nullptr;
}

// The status ("CACHED", "DONE ") of the step whose description contains `text`.
std::string StatusOf(const std::vector<std::pair<std::string, std::string>>& steps,
                     const std::string& text) {
  for (const auto& [description, status] : steps) {
    if (description.find(text) != std::string::npos) {
      return status;
    }
  }
  return "missing";
}

class CacheE2eTest : public BuildE2eTest {};

TEST_F(CacheE2eTest, LocalLsShowsStepsAndResetDropsEntriesSnapshotsAndMounts) {
  auto blob_count = [&] {
    Sh("ls " + root_ + "/content/blobs/sha256 | wc -l >" + dir_ + "/count");
    return std::atoi(os::ReadFile(dir_ + "/count").value_or("0").c_str());
  };
  int base_blobs = blob_count();
  ASSERT_GT(base_blobs, 0);
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", kMountDockerfile).ok());
  // An image nobody names: its exported layers are blobs only the cache knew.
  CmdResult unnamed = Berth("build -q " + dir_ + "/ctx");
  ASSERT_EQ(unnamed.exit_code, 0) << unnamed.err;
  ASSERT_GT(blob_count(), base_blobs);
  CmdResult built =
      Berth("build --progress plain -o type=local,dest=" + dir_ + "/out1 " + dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out1/app/runs.txt").value_or(""), "1\n");

  json entries = Entries(Berth("cache ls --output json"));
  json run = Find(entries, "RUN --mount=type=cache");
  ASSERT_TRUE(run.is_object()) << entries.dump(2);
  EXPECT_EQ(run["location"], "Dockerfile:4");
  EXPECT_TRUE(run["platform"].get<std::string>().starts_with("linux/")) << run.dump();
  EXPECT_GE(run["size"].get<int64_t>(), 65536) << run.dump();
  EXPECT_FALSE(run["last_used_at"].get<std::string>().empty());
  json copy = Find(entries, "COPY greet.txt");
  ASSERT_TRUE(copy.is_object()) << entries.dump(2);
  EXPECT_EQ(copy["location"], "Dockerfile:3");
  for (const json& e : entries) {
    EXPECT_FALSE(e["key"].get<std::string>().starts_with("layer:")) << e.dump();
  }

  CmdResult table = Berth("cache ls --output table");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_TRUE(table.out.starts_with("KEY")) << table.out;
  EXPECT_NE(table.out.find("Dockerfile:4"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(std::to_string(entries.size()) + " entries, "), std::string::npos)
      << table.out;
  CmdResult csv = Berth("cache ls --output csv");
  ASSERT_EQ(csv.exit_code, 0) << csv.err;
  EXPECT_TRUE(csv.out.starts_with("key,size,step,location,platform,created,last_used\n"))
      << csv.out;

  CmdResult reset = Berth("cache reset");
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_NE(reset.out.find(std::to_string(entries.size()) + " entries"), std::string::npos)
      << reset.out;
  EXPECT_NE(reset.out.find("unused blobs removed"), std::string::npos) << reset.out;
  EXPECT_EQ(blob_count(), base_blobs) << "the base image's blobs stay, the build's go";
  EXPECT_TRUE(Entries(Berth("cache ls --output json")).empty());
  // The steps' snapshots are gone; the base image's chain stays for the next build.
  EXPECT_NE(Sh("grep -l '\"committed\"' " + root_ +
               "/snapshots/meta/*.json | grep -v chain- "
               ">/dev/null"),
            0);
  EXPECT_EQ(Sh("ls " + root_ + "/snapshots/meta | grep -q '^chain-'"), 0);

  // The next build makes every step again, on a fresh cache mount.
  CmdResult again =
      Berth("build --progress plain -o type=local,dest=" + dir_ + "/out2 " + dir_ + "/ctx");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(StatusOf(Steps(again.err), "RUN --mount"), "DONE ") << again.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out2/app/runs.txt").value_or(""), "1\n");
}

TEST_F(CacheE2eTest, LocalBuildsEvictDownToTheConfiguredCap) {
  // Each build's own RUN step keeps 256 KiB; the cap holds one of them, not two.
  ASSERT_TRUE(os::WriteFileAtomic(root_ + "/config.toml", "[cache]\ncap = \"400k\"\n").ok());
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/a " + dir_ + "/b"), 0);
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/a/Dockerfile",
                                  "FROM busybox\nRUN head -c 262144 /dev/urandom > /a.bin\n")
                  .ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/b/Dockerfile",
                                  "FROM busybox\nRUN head -c 262144 /dev/urandom > /b.bin\n")
                  .ok());
  CmdResult a = Berth("build --progress plain " + dir_ + "/a");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  EXPECT_TRUE(Find(Entries(Berth("cache ls --output json")), "a.bin").is_object());
  CmdResult b = Berth("build --progress plain " + dir_ + "/b");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  json entries = Entries(Berth("cache ls --output json"));
  EXPECT_TRUE(Find(entries, "b.bin").is_object()) << entries.dump(2);
  EXPECT_TRUE(Find(entries, "a.bin").is_null()) << entries.dump(2);
  EXPECT_NE(Sh("find " + root_ + "/snapshots -name a.bin | grep -q ."), 0);
  EXPECT_EQ(Sh("find " + root_ + "/snapshots -name b.bin | grep -q ."), 0);
  // a is made again.
  CmdResult a_again = Berth("build --progress plain " + dir_ + "/a");
  ASSERT_EQ(a_again.exit_code, 0) << a_again.err;
  EXPECT_EQ(StatusOf(Steps(a_again.err), "a.bin"), "DONE ") << a_again.err;

  ASSERT_TRUE(os::WriteFileAtomic(root_ + "/config.toml", "[cache]\ncap = \"lots\"\n").ok());
  CmdResult bad = Berth("build " + dir_ + "/b");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("cache.cap"), std::string::npos) << bad.err;
}

TEST_F(CacheE2eTest, LocalCacheHasNoProjects) {
  CmdResult r = Berth("cache ls --project p_something --root " + root_);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("error: --project p_something"), std::string::npos) << r.err;
  CmdResult both = Berth("cache reset --root " + root_ + " --host 127.0.0.1:1 --token x");
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("--root"), std::string::npos) << both.err;
}

// berthd on loopback, with busybox in its builder and a project "web".
class RemoteCacheE2eTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    server_root_ = dir_ + "/server";
    ASSERT_EQ(Sh("BERTH_ROOT=" + server_root_ + "/builder " + std::string(BERTH_BIN) +
                 "/berth image import " + dir_ + "/rootfs busybox:latest >/dev/null"),
              0);
    port_ = registry::test::FreePort();
    StartBerthd();
    project_ = CreateProject("{\"name\":\"web\"}");
  }
  void TearDown() override {
    StopBerthd(SIGTERM);
    BuildE2eTest::TearDown();
  }

  void StartBerthd() {
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      setenv("BERTHD_ADMIN_TOKEN", kAdmin, 1);  // NOLINT(concurrency-mt-unsafe): child
      std::string log = dir_ + "/berthd.log";
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, 1);
      dup2(fd, 2);
      std::string bin = std::string(BERTH_BIN) + "/berthd";
      std::string listen = "127.0.0.1:" + std::to_string(port_);
      execl(bin.c_str(), "berthd", "--listen", listen.c_str(), "--root", server_root_.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200 && Sh("curl -fs " + Url("/healthz") + " >/dev/null") != 0; ++i) {
      usleep(50 * 1000);
    }
    ASSERT_EQ(Sh("curl -fs " + Url("/healthz") + " >/dev/null"), 0)
        << os::ReadFile(dir_ + "/berthd.log").value_or("");
  }
  void StopBerthd(int signal) {
    if (pid_ > 0) {
      kill(pid_, signal);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  // An API call with `token` ("" for none): the HTTP status, and the body in `body`.
  int Call(const std::string& method, const std::string& path, const std::string& token,
           json* body = nullptr, const std::string& data = "") {
    std::string cmd = "curl -s -o " + dir_ + "/api.json -w '%{http_code}' -X " + method + " " +
                      (token.empty() ? "" : "-H 'Authorization: Bearer " + token + "' ") +
                      (data.empty() ? "" : "-d " + Quote(data) + " ") + Url(path) + " >" + dir_ +
                      "/status";
    Sh(cmd);
    if (body != nullptr) {
      *body = json::parse(os::ReadFile(dir_ + "/api.json").value_or("{}"), nullptr, false);
    }
    return std::atoi(os::ReadFile(dir_ + "/status").value_or("0").c_str());
  }
  std::string CreateProject(const std::string& spec) {
    json project;
    EXPECT_EQ(Call("POST", "/api/v1/projects", kAdmin, &project, spec), 201) << project.dump();
    return project.value("id", "");
  }
  std::string ProjectToken(const std::string& project, json* token = nullptr) {
    json made;
    EXPECT_EQ(Call("POST", "/api/v1/projects/" + project + "/tokens", kAdmin, &made, "{}"), 201);
    if (token != nullptr) {
      *token = made["token"];
    }
    return made.value("secret", "");
  }

  std::string Host() const { return "--host 127.0.0.1:" + std::to_string(port_); }
  CmdResult Build(const std::string& project, const std::string& context) {
    return Berth("build --progress plain " + Host() + " --token " + kAdmin + " --project " +
                 project + " " + context);
  }
  CmdResult Cache(const std::string& args, const std::string& project,
                  const std::string& token = kAdmin) {
    return Berth("cache " + args + " " + Host() + " --token " + token + " --project " + project);
  }

  std::string server_root_;
  std::string project_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(RemoteCacheE2eTest, LsAndResetWorkPerProject) {
  std::string api = CreateProject("{\"name\":\"api\"}");
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", kMountDockerfile).ok());
  ASSERT_EQ(Build(project_, dir_ + "/ctx").exit_code, 0);
  ASSERT_EQ(Build(api, dir_ + "/ctx").exit_code, 0);

  json web_entries = Entries(Cache("ls --output json", project_));
  json run = Find(web_entries, "RUN --mount=type=cache");
  ASSERT_TRUE(run.is_object()) << web_entries.dump(2);
  EXPECT_EQ(run["location"], "Dockerfile:4");
  EXPECT_TRUE(run["platform"].get<std::string>().starts_with("linux/")) << run.dump();
  EXPECT_GE(run["size"].get<int64_t>(), 65536);
  size_t api_count = Entries(Cache("ls --output json", api)).size();
  ASSERT_GT(api_count, 0u);
  // A project token lists its own project's cache.
  std::string web_token = ProjectToken(project_);
  EXPECT_EQ(Entries(Cache("ls --output json", project_, web_token)).size(), web_entries.size());

  CmdResult reset = Cache("reset", project_, web_token);
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_NE(reset.out.find("project " + project_), std::string::npos) << reset.out;
  EXPECT_TRUE(Entries(Cache("ls --output json", project_)).empty());
  EXPECT_EQ(Entries(Cache("ls --output json", api)).size(), api_count);

  // web makes its steps again, on a fresh cache mount; api's cache is whole.
  CmdResult web_again = Build(project_, dir_ + "/ctx");
  ASSERT_EQ(web_again.exit_code, 0) << web_again.err;
  EXPECT_EQ(StatusOf(Steps(web_again.err), "RUN --mount"), "DONE ") << web_again.err;
  CmdResult api_again = Build(api, dir_ + "/ctx");
  ASSERT_EQ(api_again.exit_code, 0) << api_again.err;
  EXPECT_EQ(StatusOf(Steps(api_again.err), "RUN --mount"), "CACHED") << api_again.err;
}

TEST_F(RemoteCacheE2eTest, OnlyTheProjectsCallersReachItsCache) {
  std::string api = CreateProject("{\"name\":\"api\"}");
  std::string api_token = ProjectToken(api);
  json revoked_token;
  std::string revoked = ProjectToken(project_, &revoked_token);
  ASSERT_EQ(Call("DELETE", "/api/v1/tokens/" + revoked_token.value("id", ""), kAdmin), 200);

  CmdResult other = Cache("ls", project_, api_token);
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("not found"), std::string::npos) << other.err;
  CmdResult other_reset = Cache("reset", project_, api_token);
  EXPECT_EQ(other_reset.exit_code, 1);
  EXPECT_NE(other_reset.err.find("not found"), std::string::npos) << other_reset.err;
  CmdResult old = Cache("ls", project_, revoked);
  EXPECT_EQ(old.exit_code, 1);
  EXPECT_NE(old.err.find("not valid"), std::string::npos) << old.err;
  EXPECT_EQ(Call("GET", "/api/v1/projects/" + project_ + "/cache", ""), 401);
  EXPECT_EQ(Call("DELETE", "/api/v1/projects/" + project_ + "/cache", ""), 401);
  EXPECT_EQ(Call("DELETE", "/api/v1/projects/" + project_ + "/cache", api_token), 404);
  EXPECT_EQ(Call("GET", "/api/v1/projects/p_nosuchproject00000000/cache", kAdmin), 404);
}

TEST_F(RemoteCacheE2eTest, EvictsLeastRecentlyUsedEntriesAtTheProjectsCap) {
  // Each build's own RUN step keeps 256 KiB; the cap holds one of them, not two.
  std::string small = CreateProject("{\"name\":\"small\",\"cache_cap_bytes\":409600}");
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/a " + dir_ + "/b"), 0);
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/a/Dockerfile",
                                  "FROM busybox\nRUN head -c 262144 /dev/urandom > /a.bin\n")
                  .ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/b/Dockerfile",
                                  "FROM busybox\nRUN head -c 262144 /dev/urandom > /b.bin\n")
                  .ok());
  CmdResult a = Build(small, dir_ + "/a");
  ASSERT_EQ(a.exit_code, 0) << a.err;
  json after_a = Entries(Cache("ls --output json", small));
  ASSERT_TRUE(Find(after_a, "a.bin").is_object()) << after_a.dump(2);
  EXPECT_EQ(Sh("find " + server_root_ + "/builder/snapshots -name a.bin | grep -q ."), 0);

  CmdResult b = Build(small, dir_ + "/b");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  json after_b = Entries(Cache("ls --output json", small));
  EXPECT_TRUE(Find(after_b, "b.bin").is_object()) << after_b.dump(2);
  EXPECT_TRUE(Find(after_b, "a.bin").is_null()) << after_b.dump(2);
  int64_t total = 0;
  for (const json& e : after_b) {
    total += e["size"].get<int64_t>();
  }
  EXPECT_LE(total, 409600) << after_b.dump(2);
  // a's step snapshot went with its entry.
  EXPECT_NE(Sh("find " + server_root_ + "/builder/snapshots -name a.bin | grep -q ."), 0);
  CmdResult table = Cache("ls --output table", small);
  EXPECT_NE(table.out.find("(cap 400KiB)"), std::string::npos) << table.out;

  // b is still cached; a is made again (and then evicts b).
  CmdResult b_again = Build(small, dir_ + "/b");
  ASSERT_EQ(b_again.exit_code, 0) << b_again.err;
  EXPECT_EQ(StatusOf(Steps(b_again.err), "b.bin"), "CACHED") << b_again.err;
  CmdResult a_again = Build(small, dir_ + "/a");
  ASSERT_EQ(a_again.exit_code, 0) << a_again.err;
  EXPECT_EQ(StatusOf(Steps(a_again.err), "a.bin"), "DONE ") << a_again.err;
  json last = Entries(Cache("ls --output json", small));
  EXPECT_TRUE(Find(last, "a.bin").is_object()) << last.dump(2);
  EXPECT_TRUE(Find(last, "b.bin").is_null()) << last.dump(2);

  // Another project without a cap kept everything it built.
  ASSERT_EQ(Build(project_, dir_ + "/a").exit_code, 0);
  ASSERT_EQ(Build(project_, dir_ + "/b").exit_code, 0);
  json web = Entries(Cache("ls --output json", project_));
  EXPECT_TRUE(Find(web, "a.bin").is_object()) << web.dump(2);
  EXPECT_TRUE(Find(web, "b.bin").is_object()) << web.dump(2);
}

// A reset while a build of the project runs: the entries go at once, but the snapshots the
// build stands on stay until it ends (the build succeeds on them), and go after it. The step
// that runs during the reset waits for a file in its cache mount (no timing).
TEST_F(RemoteCacheE2eTest, ResetDuringABuildKeepsWhatTheBuildUses) {
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/warm"), 0);
  ASSERT_TRUE(
      os::WriteFileAtomic(dir_ + "/warm/Dockerfile", "FROM busybox\nRUN echo one > /one\n").ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\n"
                                  "RUN echo one > /one\n"
                                  "RUN --mount=type=cache,target=/gate,id=gate echo waiting && "
                                  "while [ ! -f /gate/go ]; do sleep 0.1; done && cat /one\n")
                  .ok());
  CmdResult warm = Build(project_, dir_ + "/warm");
  ASSERT_EQ(warm.exit_code, 0) << warm.err;

  std::string cmd = "exec env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
                    "/berth build --progress plain " + Host() + " --token " + kAdmin +
                    " --project " + project_ + " " + dir_ + "/ctx >/dev/null 2>" + dir_ + "/g.err";
  pid_t client = fork();
  ASSERT_GE(client, 0);
  if (client == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool waiting = false;
  for (int i = 0; i < 1200 && !waiting; ++i) {
    waiting = os::ReadFile(dir_ + "/g.err").value_or("").find(" waiting") != std::string::npos;
    usleep(50 * 1000);
  }
  ASSERT_TRUE(waiting) << os::ReadFile(dir_ + "/g.err").value_or("");
  EXPECT_EQ(StatusOf(Steps(os::ReadFile(dir_ + "/g.err").value_or("")), "echo one"), "CACHED");

  CmdResult reset = Cache("reset", project_);
  EXPECT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_NE(reset.out.find("a build is running"), std::string::npos) << reset.out;
  EXPECT_TRUE(Entries(Cache("ls --output json", project_)).empty());
  std::string one = "find " + server_root_ + "/builder/snapshots/snapshots -name one | grep -q .";
  EXPECT_EQ(Sh(one), 0) << "the running build's parent snapshot was removed";
  // Nor is the cache mount it is using removed under it.
  std::string mounts =
      "find " + server_root_ + "/builder/cache-mounts -mindepth 2 -maxdepth 2 -type d";
  if (Sh(mounts + " | grep -q .") != 0) {
    kill(client, SIGINT);  // the step could never end: cancel the build
    waitpid(client, nullptr, 0);
    FAIL() << "the running build's cache mount was removed";
  }

  EXPECT_EQ(Sh(mounts + " | while read d; do touch \"$d/go\"; done"), 0);
  int status = 0;
  waitpid(client, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << os::ReadFile(dir_ + "/g.err").value_or("");
  // The build's own step is cached; the step the reset dropped is not, and is made again.
  json after = Entries(Cache("ls --output json", project_));
  EXPECT_TRUE(Find(after, "echo waiting").is_object()) << after.dump(2);
  EXPECT_TRUE(Find(after, "echo one").is_null()) << after.dump(2);
  CmdResult next = Build(project_, dir_ + "/ctx");
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(StatusOf(Steps(next.err), "echo one"), "DONE ") << next.err;
  EXPECT_EQ(StatusOf(Steps(next.err), "echo waiting"), "CACHED") << next.err;
}

// kill -9 of berthd while a build runs, then a restart: the build shows as failed, every live
// cache entry's snapshot and every recorded layer blob exist, and the next build succeeds and
// reuses the cache. The step that is running when berthd dies waits for a file in its cache
// mount, so the test decides when it ends (no timing).
TEST_F(RemoteCacheE2eTest, KillNineMidBuildLeavesAConsistentCache) {
  if (Sh("command -v sqlite3 >/dev/null") != 0) {
    GTEST_SKIP() << "sqlite3 is not installed (the test reads the builder's cache index)";
  }
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\n"
                                  "RUN echo one > /one\n"
                                  "RUN --mount=type=cache,target=/gate,id=gate echo waiting && "
                                  "while [ ! -f /gate/go ]; do sleep 0.1; done\n")
                  .ok());
  // Opens the gate: the waiting step's cache mount (the only one) gets its file.
  auto open_gate = [&] {
    return Sh("find " + server_root_ +
              "/builder/cache-mounts -mindepth 2 -maxdepth 2 -type d | while read d; do touch "
              "\"$d/go\"; done");
  };
  std::string cmd = "exec env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
                    "/berth build --progress plain " + Host() + " --token " + kAdmin +
                    " --project " + project_ + " " + dir_ + "/ctx 2>" + dir_ + "/k.err";
  pid_t client = fork();
  ASSERT_GE(client, 0);
  if (client == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool waiting = false;
  for (int i = 0; i < 1200 && !waiting; ++i) {
    waiting = os::ReadFile(dir_ + "/k.err").value_or("").find(" waiting") != std::string::npos;
    usleep(50 * 1000);
  }
  ASSERT_TRUE(waiting) << os::ReadFile(dir_ + "/k.err").value_or("");

  StopBerthd(SIGKILL);
  int status = 0;
  waitpid(client, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;

  // The dead build's step still runs, and its rootfs is still mounted, until berthd starts
  // again and cleans up: it kills the orphaned container first.
  std::string orphan = "pgrep -f '[w]hile \\[ ! -f /gate/go \\]' >/dev/null";
  EXPECT_EQ(Sh(orphan), 0) << "the orphaned step is not running";
  std::string mounts = "grep -q " + Quote(server_root_ + "/builder/") + " /proc/self/mountinfo";
  EXPECT_EQ(Sh(mounts), 0);
  StartBerthd();
  EXPECT_NE(Sh(orphan), 0) << "the orphaned step survived the restart";
  EXPECT_NE(Sh(mounts), 0) << os::ReadFile("/proc/self/mountinfo").value_or("");
  EXPECT_NE(os::ReadFile(dir_ + "/berthd.log").value_or("").find("1 container(s)"),
            std::string::npos)
      << os::ReadFile(dir_ + "/berthd.log").value_or("");
  EXPECT_EQ(open_gate(), 0);  // (no step waits behind it any more)
  EXPECT_NE(Sh("grep -l '\"kind\":\"active\"' " + server_root_ +
               "/builder/snapshots/meta/*.json >/dev/null 2>&1"),
            0)
      << "an unfinished snapshot of the dead build is left";
  EXPECT_NE(os::ReadFile(dir_ + "/berthd.log").value_or("").find("cleaned up after the last run"),
            std::string::npos);
  json builds;
  ASSERT_EQ(Call("GET", "/api/v1/projects/" + project_ + "/builds", kAdmin, &builds), 200);
  ASSERT_EQ(builds["items"].size(), 1u) << builds.dump();
  EXPECT_EQ(builds["items"][0]["status"], "failed") << builds.dump();
  EXPECT_NE(builds["items"][0]["error"].get<std::string>().find("restarted"), std::string::npos)
      << builds.dump();

  // Every live entry's snapshot exists; every recorded layer blob is in the content store.
  std::string db = server_root_ + "/builder/cache.db";
  ASSERT_EQ(Sh("sqlite3 " + db + " 'SELECT snapshot FROM entries WHERE removing = 0' >" + dir_ +
               "/snaps"),
            0);
  std::string snaps = os::ReadFile(dir_ + "/snaps").value_or("");
  EXPECT_FALSE(snaps.empty());
  EXPECT_EQ(Sh("while read s; do test -f " + server_root_ +
               "/builder/snapshots/meta/\"$s\".json || exit 1; done <" + dir_ + "/snaps"),
            0)
      << snaps;
  ASSERT_EQ(
      Sh("sqlite3 " + db + " 'SELECT digest FROM layers' | sed 's/^sha256://' >" + dir_ + "/blobs"),
      0);
  EXPECT_EQ(Sh("while read b; do test -f " + server_root_ +
               "/builder/content/blobs/sha256/\"$b\" || exit 1; done <" + dir_ + "/blobs"),
            0)
      << os::ReadFile(dir_ + "/blobs").value_or("");

  CmdResult next = Build(project_, dir_ + "/ctx");
  ASSERT_EQ(next.exit_code, 0) << next.err;
  EXPECT_EQ(StatusOf(Steps(next.err), "echo one"), "CACHED") << next.err;
  EXPECT_EQ(StatusOf(Steps(next.err), "echo waiting"), "DONE ") << next.err;
  EXPECT_FALSE(Entries(Cache("ls --output json", project_)).empty());
}

}  // namespace
}  // namespace berth::e2e
