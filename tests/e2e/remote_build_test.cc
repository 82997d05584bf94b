// Remote builds end to end: the real berthd on loopback with a busybox base in its builder, and
// `berth build` with BERTH_HOST/BERTH_TOKEN/BERTH_PROJECT. Checks: the same image digest as a
// local build (under SOURCE_DATE_EPOCH), an unchanged context sends no file, one changed file of
// a 10,000-file context sends only that file (the byte counts the server records), outputs come
// back, a bad token is a clear error, and Ctrl-C on the client cancels the build on the server.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "build_fixture.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

using json = nlohmann::json;

constexpr const char* kAdmin = "e2e-admin-token-0123456789";
constexpr const char* kEpoch = "1700000000";

class RemoteBuildE2eTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    server_root_ = dir_ + "/server";
    // The same base in the builder, imported under the same SOURCE_DATE_EPOCH as the local one.
    ASSERT_EQ(Sh("SOURCE_DATE_EPOCH=" + std::string(kEpoch) + " BERTH_ROOT=" + server_root_ +
                 "/builder " + std::string(BERTH_BIN) + "/berth image import " + dir_ +
                 "/rootfs busybox:latest >/dev/null"),
              0);
    ASSERT_EQ(Sh("SOURCE_DATE_EPOCH=" + std::string(kEpoch) + " BERTH_ROOT=" + root_ + " " +
                 std::string(BERTH_BIN) + "/berth image import " + dir_ +
                 "/rootfs busybox:latest >/dev/null"),
              0);
    port_ = registry::test::FreePort();
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      setenv("BERTHD_ADMIN_TOKEN", kAdmin, 1);
      std::string log = dir_ + "/berthd.log";
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
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
    json project = Api("POST", "/api/v1/projects", "{\"name\":\"web\"}");
    project_ = project.value("id", "");
    ASSERT_FALSE(project_.empty()) << project.dump();
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    BuildE2eTest::TearDown();
  }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  json Api(const std::string& method, const std::string& path, const std::string& body = "") {
    std::string cmd = "curl -s -X " + method + " -H 'Authorization: Bearer " + kAdmin + "' " +
                      (body.empty() ? "" : "-d " + Quote(body) + " ") + Url(path) + " >" + dir_ +
                      "/api.json";
    Sh(cmd);
    return json::parse(os::ReadFile(dir_ + "/api.json").value_or("{}"), nullptr, false);
  }
  CmdResult Remote(const std::string& args, const std::string& token = kAdmin) {
    return Berth("build --host 127.0.0.1:" + std::to_string(port_) + " --token " + token +
                 " --project " + project_ + " " + args);
  }
  // The build id from "remote build b_...: ..." on stderr.
  static std::string BuildId(const std::string& err) {
    size_t at = err.find("remote build ");
    if (at == std::string::npos) {
      return "";
    }
    size_t start = at + std::string("remote build ").size();
    return err.substr(start, err.find(':', start) - start);
  }

  std::string server_root_;
  std::string project_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(RemoteBuildE2eTest, SameDigestAsLocalAndNoResendOfUnchangedFiles) {
  setenv("SOURCE_DATE_EPOCH", kEpoch, 1);
  CmdResult local = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(local.exit_code, 0) << local.err;
  CmdResult remote = Remote("--progress plain " + dir_ + "/ctx");
  ASSERT_EQ(remote.exit_code, 0) << remote.err;
  unsetenv("SOURCE_DATE_EPOCH");
  EXPECT_EQ(remote.out, local.out);
  EXPECT_EQ(remote.out.rfind("sha256:", 0), 0u) << remote.out;
  // The progress renders as a local build's does.
  EXPECT_NE(remote.err.find("ran-step-42"), std::string::npos) << remote.err;

  std::string first = BuildId(remote.err);
  json record = Api("GET", "/api/v1/builds/" + first);
  EXPECT_EQ(record["status"], "success") << record.dump();
  EXPECT_EQ(record["context_files_sent"], 2) << record.dump();  // Dockerfile and greet.txt
  EXPECT_GT(record["context_bytes_sent"].get<int64_t>(), 0);

  CmdResult again = Remote("--progress plain " + dir_ + "/ctx");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  json second = Api("GET", "/api/v1/builds/" + BuildId(again.err));
  EXPECT_EQ(second["context_files_sent"], 0) << second.dump();
  EXPECT_EQ(second["context_bytes_sent"], 0) << second.dump();
  EXPECT_EQ(second["first_miss_step"], "") << second.dump();
  json steps = Api("GET", "/api/v1/builds/" + BuildId(again.err) + "/steps");
  bool all_cached = !steps["items"].empty();
  for (const json& s : steps["items"]) {
    if (s["line"].get<int>() > 1) {
      all_cached = all_cached && s["cached"].get<bool>();
    }
  }
  EXPECT_TRUE(all_cached) << steps.dump();
  // Each step records the size of the layer it made, made now or taken from the cache: the
  // RUN (line 5) wrote out.txt; ENV (line 3) made no layer.
  for (const std::string& build : {first, BuildId(again.err)}) {
    json listed = Api("GET", "/api/v1/builds/" + build + "/steps");
    std::map<int, int64_t> sizes;
    for (const json& s : listed["items"]) {
      sizes[s.value("line", 0)] = s.value("layer_size", int64_t{-1});
    }
    EXPECT_GT(sizes[5], 0) << listed.dump();
    EXPECT_EQ(sizes.count(3), 0U) << listed.dump();
  }
}

TEST_F(RemoteBuildE2eTest, OneChangedFileOfTenThousandTravelsAlone) {
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/big && cd " + dir_ +
               "/big && python3 -c \"import os\nfor i in range(10000):\n d='d%02d' % (i % 100)\n "
               "os.makedirs(d, exist_ok=True)\n open(os.path.join(d, 'f%05d.txt' % i), 'w')"
               ".write('file %d\\n' % i)\" && printf 'FROM busybox\\nCOPY d00/f00000.txt "
               "/\\nRUN cat /f00000.txt\\n' > Dockerfile"),
            0);
  CmdResult first = Remote(dir_ + "/big");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(Api("GET", "/api/v1/builds/" + BuildId(first.err))["context_files_sent"], 10001);
  ASSERT_EQ(Sh("echo changed > " + dir_ + "/big/d42/f04242.txt"), 0);
  CmdResult second = Remote(dir_ + "/big");
  ASSERT_EQ(second.exit_code, 0) << second.err;
  json record = Api("GET", "/api/v1/builds/" + BuildId(second.err));
  EXPECT_EQ(record["context_files_sent"], 1) << record.dump();
  json files = Api("GET", "/api/v1/builds/" + BuildId(second.err) + "/context");
  ASSERT_EQ(files["items"].size(), 1u) << files.dump();
  EXPECT_EQ(files["items"][0]["path"], "d42/f04242.txt");
  EXPECT_LT(record["context_bytes_sent"].get<int64_t>(), 4096) << record.dump();
}

TEST_F(RemoteBuildE2eTest, OutputsComeBackAndErrorsAreClear) {
  CmdResult out = Remote("-o type=local,dest=" + dir_ + "/fs -o type=tar,dest=" + dir_ +
                         "/fs.tar " + dir_ + "/ctx");
  ASSERT_EQ(out.exit_code, 0) << out.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/fs/app/out.txt").value_or(""), "greetings\nhello\n");
  EXPECT_EQ(Sh("tar -tf " + dir_ + "/fs.tar | grep -qx 'app/out.txt'"), 0);

  CmdResult bad = Remote(dir_ + "/ctx", "berth_wrongtoken");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("token"), std::string::npos) << bad.err;
  CmdResult other = Berth("build --host 127.0.0.1:" + std::to_string(port_) + " --token " + kAdmin +
                          " --project p_nosuchproject00000000 " + dir_ + "/ctx");
  EXPECT_EQ(other.exit_code, 1);
  EXPECT_NE(other.err.find("not found"), std::string::npos) << other.err;
}

TEST_F(RemoteBuildE2eTest, InterruptCancelsTheServerBuild) {
  ASSERT_TRUE(
      os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", "FROM busybox\nRUN echo sleeping && sleep 62\n")
          .ok());
  std::string cmd = "exec env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
                    "/berth build --progress plain --host 127.0.0.1:" + std::to_string(port_) +
                    " --token " + kAdmin + " --project " + project_ + " " + dir_ + "/ctx 2>" +
                    dir_ + "/i.err";
  pid_t client = fork();
  ASSERT_GE(client, 0);
  if (client == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool running = false;
  for (int i = 0; i < 600 && !running; ++i) {
    running = os::ReadFile(dir_ + "/i.err").value_or("").find(" sleeping") != std::string::npos;
    usleep(50 * 1000);
  }
  ASSERT_TRUE(running) << os::ReadFile(dir_ + "/i.err").value_or("");
  kill(client, SIGINT);
  int status = 0;
  waitpid(client, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 130) << status;
  // The server notices and cancels within a few seconds.
  std::string state;
  for (int i = 0; i < 100; ++i) {
    json builds = Api("GET", "/api/v1/projects/" + project_ + "/builds");
    state = builds["items"].empty() ? "" : builds["items"][0].value("status", "");
    if (state == "canceled") {
      break;
    }
    usleep(100 * 1000);
  }
  EXPECT_EQ(state, "canceled");
  EXPECT_NE(Sh("pgrep -f '^sleep 62$' >/dev/null"), 0);
}

// After `berth login`, a context with a berth.json builds on berthd; without a project it
// builds here.
TEST_F(RemoteBuildE2eTest, LoginAndBerthJsonMakeBuildsRemote) {
  std::string config = dir_ + "/config";
  setenv("XDG_CONFIG_HOME", config.c_str(), 1);
  CmdResult login = Berth("login 127.0.0.1:" + std::to_string(port_) + " --token " + kAdmin);
  ASSERT_EQ(login.exit_code, 0) << login.err;
  CmdResult here = Berth("build " + dir_ + "/ctx");
  EXPECT_EQ(here.exit_code, 0) << here.err;
  EXPECT_EQ(here.err.find("remote build"), std::string::npos) << here.err;
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/berth.json", "{\"id\":\"" + project_ + "\"}").ok());
  CmdResult there = Berth("build " + dir_ + "/ctx");
  unsetenv("XDG_CONFIG_HOME");
  EXPECT_EQ(there.exit_code, 0) << there.err;
  EXPECT_NE(there.err.find("remote build b_"), std::string::npos) << there.err;
}

// `berth bake` on berthd: each target is a remote build of its project (the bake's, or its own
// project_id), in parallel; targets of one project share the project's cache, so their common
// step runs once there; each target's output comes home.
TEST_F(RemoteBuildE2eTest, BakeBuildsEachTargetInItsProject) {
  json other = Api("POST", "/api/v1/projects", "{\"name\":\"other\"}");
  std::string other_id = other.value("id", "");
  ASSERT_FALSE(other_id.empty()) << other.dump();
  std::string work = dir_ + "/bake";
  ASSERT_EQ(Sh("mkdir -p " + work), 0);
  ASSERT_TRUE(os::WriteFileAtomic(work + "/Dockerfile",
                                  "FROM busybox AS base\n"
                                  "RUN echo shared-$((6*7)) | tee /base.txt\n"
                                  "FROM base\nARG V\nRUN echo \"$V\" >> /base.txt\n")
                  .ok());
  ASSERT_TRUE(os::WriteFileAtomic(work + "/docker-bake.hcl",
                                  "target \"app\" {\n"
                                  "  name = \"app-${v}\"\n"
                                  "  matrix = { v = [\"a\", \"b\"] }\n"
                                  "  args = { V = v }\n"
                                  "  output = [\"type=local,dest=out-${v}\"]\n"
                                  "}\n"
                                  "target \"solo\" {\n"
                                  "  project_id = \"" +
                                      other_id +
                                      "\"\n"
                                      "  args = { V = \"solo\" }\n"
                                      "  output = [\"type=local,dest=out-solo\"]\n"
                                      "}\n"
                                      "group \"default\" { targets = [\"app\", \"solo\"] }\n")
                  .ok());
  std::string cmd =
      "cd " + Quote(work) + " && env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
      "/berth bake --progress plain --save --metadata-file meta.json --host 127.0.0.1:" +
      std::to_string(port_) + " --token " + kAdmin + " --project " + project_ + " >" + dir_ +
      "/bake.out 2>" + dir_ + "/bake.err";
  int rc = Sh(cmd);
  std::string err = os::ReadFile(dir_ + "/bake.err").value_or("");
  ASSERT_EQ(rc, 0) << err << "\nberthd:\n" << os::ReadFile(dir_ + "/berthd.log").value_or("");
  EXPECT_EQ(os::ReadFile(work + "/out-a/base.txt").value_or(""), "shared-42\na\n");
  EXPECT_EQ(os::ReadFile(work + "/out-b/base.txt").value_or(""), "shared-42\nb\n");
  EXPECT_EQ(os::ReadFile(work + "/out-solo/base.txt").value_or(""), "shared-42\nsolo\n");
  // The shared step ran once in each project: the RUN's output line appears twice.
  size_t runs = 0;
  for (size_t pos = err.find(" shared-42\n"); pos != std::string::npos;
       pos = err.find(" shared-42\n", pos + 1)) {
    ++runs;
  }
  EXPECT_EQ(runs, 2U) << err;
  EXPECT_NE(err.find("[app-a "), std::string::npos) << err;
  EXPECT_NE(err.find("solo: remote build b_"), std::string::npos) << err;
  json mine = Api("GET", "/api/v1/projects/" + project_ + "/builds");
  json theirs = Api("GET", "/api/v1/projects/" + other_id + "/builds");
  EXPECT_EQ(mine["items"].size(), 2U) << mine.dump();
  EXPECT_EQ(theirs["items"].size(), 1U) << theirs.dump();
  // --save: each target's image is saved in its own project under its build id.
  json meta = json::parse(os::ReadFile(work + "/meta.json").value_or("{}"), nullptr, false);
  for (const auto& [target, project] : std::map<std::string, std::string>{
           {"app-a", project_}, {"app-b", project_}, {"solo", other_id}}) {
    const json& build = meta[target]["berth.build"];
    EXPECT_EQ(build["projectID"], project) << meta.dump();
    std::string id = build.value("buildID", "");
    EXPECT_EQ(build["saved"][0], "127.0.0.1:" + std::to_string(port_) + "/" + project + ":" + id)
        << meta.dump();
    EXPECT_NE(err.find(target + ": saved "), std::string::npos) << err;
    json images = Api("GET", "/api/v1/projects/" + project + "/images");
    bool listed = false;
    for (const json& item : images["items"]) {
      listed = listed || item.value("build_id", "") == id;
    }
    EXPECT_TRUE(listed) << images.dump();
  }
}

// Load: 20 remote builds at once across 4 projects. Every build succeeds with the right
// result, every build is recorded once under its project, and each project's common step runs
// once in that project (the others wait for it and take it from the project's cache), never
// shared across projects.
TEST_F(RemoteBuildE2eTest, TwentyConcurrentBuildsAcrossFourProjects) {
  std::vector<std::string> projects = {project_};
  for (int p = 1; p < 4; ++p) {
    json made = Api("POST", "/api/v1/projects", "{\"name\":\"load-" + std::to_string(p) + "\"}");
    ASSERT_FALSE(made.value("id", "").empty()) << made.dump();
    projects.push_back(made["id"]);
  }
  std::string work = dir_ + "/load";
  ASSERT_EQ(Sh("mkdir -p " + work), 0);
  ASSERT_TRUE(os::WriteFileAtomic(work + "/Dockerfile",
                                  "FROM busybox\n"
                                  "COPY greet.txt /\n"
                                  "RUN echo common-$((40+2)) && cp /greet.txt /common\n"
                                  "ARG N\n"
                                  "RUN echo \"build $N\" > /result && cat /common >> /result\n")
                  .ok());
  ASSERT_TRUE(os::WriteFileAtomic(work + "/greet.txt", "hi\n").ok());
  std::string all;
  for (size_t p = 0; p < projects.size(); ++p) {
    for (int n = 0; n < 5; ++n) {
      std::string id = std::to_string(p) + "-" + std::to_string(n);
      all += "env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
             "/berth build --progress plain --host 127.0.0.1:" + std::to_string(port_) +
             " --token " + kAdmin + " --project " + projects[p] + " --build-arg N=" + id +
             " -o type=local,dest=" + dir_ + "/out-" + id + " " + work + " >" + dir_ + "/load-" +
             id + ".out 2>" + dir_ + "/load-" + id + ".err; echo $? >" + dir_ + "/load-" + id +
             ".rc &\n";
    }
  }
  ASSERT_EQ(Sh("(\n" + all + "wait)"), 0);
  std::vector<size_t> common_runs(projects.size(), 0);
  for (size_t p = 0; p < projects.size(); ++p) {
    for (int n = 0; n < 5; ++n) {
      std::string id = std::to_string(p) + "-" + std::to_string(n);
      std::string err = os::ReadFile(dir_ + "/load-" + id + ".err").value_or("");
      EXPECT_EQ(os::ReadFile(dir_ + "/load-" + id + ".rc").value_or(""), "0\n")
          << id << ": " << err;
      EXPECT_EQ(os::ReadFile(dir_ + "/out-" + id + "/result").value_or(""),
                "build " + id + "\nhi\n");
      common_runs[p] += err.find(" common-42\n") != std::string::npos ? 1 : 0;
    }
    json builds = Api("GET", "/api/v1/projects/" + projects[p] + "/builds");
    ASSERT_EQ(builds["items"].size(), 5U) << builds.dump();
    for (const json& b : builds["items"]) {
      EXPECT_EQ(b.value("status", ""), "success") << b.dump();
    }
    EXPECT_EQ(common_runs[p], 1U) << "project " << p;
  }
}

// --load (and -t without outputs, as a local build stores the image) brings the image built on
// berthd into the local image store: the same digest, the files the Dockerfile made.
TEST_F(RemoteBuildE2eTest, LoadBringsTheImageIntoTheLocalStore) {
  CmdResult built = Remote("--load -t app:remote " + dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.err.find("naming to docker.io/library/app:remote"), std::string::npos)
      << built.err;
  CmdResult ls = Berth("image ls");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  std::string digest = built.out.substr(0, built.out.find('\n'));
  ASSERT_TRUE(digest.starts_with("sha256:")) << built.out;
  EXPECT_NE(ls.out.find(digest), std::string::npos) << ls.out;
  ASSERT_EQ(Berth("image unpack app:remote " + dir_ + "/loaded").exit_code, 0);
  EXPECT_EQ(os::ReadFile(dir_ + "/loaded/app/out.txt").value_or(""), "greetings\nhello\n");
  CmdResult plain_tag = Remote("-t app:second " + dir_ + "/ctx");
  ASSERT_EQ(plain_tag.exit_code, 0) << plain_tag.err;
  EXPECT_NE(Berth("image ls").out.find("second"), std::string::npos);
}

// --build-context NAME=DIR works remotely: the directory syncs like the main context (its own
// .dockerignore applied), unchanged it sends nothing again; a server path cannot be named.
TEST_F(RemoteBuildE2eTest, NamedLocalContextsSyncLikeTheMainOne) {
  std::string lib = dir_ + "/lib";
  ASSERT_EQ(Sh("mkdir -p " + lib + "/sub"), 0);
  ASSERT_TRUE(os::WriteFileAtomic(lib + "/sub/util.txt", "util\n").ok());
  ASSERT_TRUE(os::WriteFileAtomic(lib + "/secret.key", "do not send\n").ok());
  ASSERT_TRUE(os::WriteFileAtomic(lib + "/.dockerignore", "*.key\n").ok());
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nCOPY --from=lib / /lib-copy/\n"
                                  "RUN ls /lib-copy > /listing\n")
                  .ok());
  CmdResult first = Remote("--build-context lib=" + lib + " -o type=local,dest=" + dir_ + "/out1 " +
                           dir_ + "/ctx");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out1/lib-copy/sub/util.txt").value_or(""), "util\n");
  EXPECT_FALSE(os::Exists(dir_ + "/out1/lib-copy/secret.key"));
  EXPECT_EQ(first.err.find("do not send"), std::string::npos);
  CmdResult again = Remote("--build-context lib=" + lib + " -o type=local,dest=" + dir_ + "/out2 " +
                           dir_ + "/ctx");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("0 context file(s) sent"), std::string::npos) << again.err;
  // A client naming a server directory as a context is refused.
  json hostile = Api("POST", "/api/v1/projects/" + project_ + "/builds",
                     "{\"options\":{\"build_contexts\":{\"x\":\"/etc\"}},\"manifest_id\":\"\"}");
  EXPECT_TRUE(hostile.contains("error")) << hostile.dump();
  json bad_manifest =
      Api("POST", "/api/v1/projects/" + project_ + "/builds",
          "{\"options\":{},\"manifest_id\":\"\",\"contexts\":{\"x\":\"../../etc\"}}");
  EXPECT_TRUE(bad_manifest.contains("error")) << bad_manifest.dump();
}

// A client that goes away in the middle of an upload leaves nothing half-written: the server
// drops the partial body, the project's file store holds no partial file, and the next build
// of that context uploads and builds normally.
TEST_F(RemoteBuildE2eTest, AClientGoneMidUploadLeavesNothingHalfWritten) {
  // A context with one 8 MiB file; the manifest names it, the upload sends half a body.
  std::string big = dir_ + "/big-ctx";
  ASSERT_EQ(Sh("mkdir -p " + big + " && head -c 8388608 /dev/urandom > " + big +
               "/blob.bin && printf 'FROM busybox\\nCOPY blob.bin /\\n' > " + big + "/Dockerfile"),
            0);
  ASSERT_EQ(Sh("sha256sum " + big + "/blob.bin | cut -d' ' -f1 > " + dir_ + "/sum"), 0);
  std::string sum = os::ReadFile(dir_ + "/sum").value_or("");
  sum = sum.substr(0, sum.find('\n'));
  std::string manifest =
      "{\"manifest\":{\"version\":1,\"entries\":[{\"path\":\"blob.bin\","
      "\"type\":\"file\",\"mode\":420,\"size\":8388608,\"digest\":\"sha256:" +
      sum + "\"}]}}";
  json missing = Api("POST", "/api/v1/projects/" + project_ + "/context/missing", manifest);
  ASSERT_EQ(missing["missing"].size(), 1U) << missing.dump();
  std::string id = missing.value("manifest_id", "");
  // curl declares the whole length, sends half and waits: the test kills it there.
  ASSERT_EQ(Sh("head -c 4194304 " + big + "/blob.bin > " + dir_ + "/half"), 0);
  pid_t client = fork();
  ASSERT_GE(client, 0);
  if (client == 0) {
    std::string url = Url("/api/v1/projects/" + project_ + "/context/" + id);
    std::string auth = std::string("Authorization: Bearer ") + kAdmin;
    std::string body = "@" + dir_ + "/half";
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    dup2(null, 2);
    execlp("curl", "curl", "-s", "-X", "PUT", "-H", auth.c_str(), "-H", "Content-Length: 8388700",
           "--data-binary", body.c_str(), url.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  std::string uploads = server_root_ + "/projects/" + project_ + "/uploads";
  bool partial = false;
  for (int i = 0; i < 200 && !partial; ++i) {
    partial = Sh("test -n \"$(find " + uploads + " -type f -size +1k 2>/dev/null)\"") == 0;
    usleep(25 * 1000);
  }
  EXPECT_TRUE(partial) << "the partial upload never reached the server";
  kill(client, SIGKILL);
  waitpid(client, nullptr, 0);
  bool cleaned = false;
  for (int i = 0; i < 200 && !cleaned; ++i) {
    cleaned = Sh("test -z \"$(find " + uploads + " -type f 2>/dev/null)\"") == 0;
    usleep(50 * 1000);
  }
  EXPECT_TRUE(cleaned) << "the partial upload was left in " << uploads;
  std::string files = server_root_ + "/projects/" + project_ + "/files";
  EXPECT_EQ(Sh("test -z \"$(find " + files + "/tmp -type f 2>/dev/null)\""), 0);
  EXPECT_NE(Sh("test -e " + files + "/blobs/" + sum), 0) << "a blob from half a body";
  // The real client then sends it whole and builds.
  CmdResult after = Remote("-o type=local,dest=" + dir_ + "/after " + big);
  ASSERT_EQ(after.exit_code, 0) << after.err;
  EXPECT_EQ(Sh("cmp -s " + big + "/blob.bin " + dir_ + "/after/blob.bin"), 0);
  EXPECT_EQ(Sh("test -e " + files + "/blobs/" + sum), 0) << "where the whole blob lives";
}

// --ssh on berthd: a RUN --mount=type=ssh talks to the client's real ssh-agent through berthd
// (a static helper in the image asks the agent for its identities: the one key added).
TEST_F(RemoteBuildE2eTest, SshAgentIsForwardedToTheRemoteBuild) {
  if (Sh("command -v ssh-agent >/dev/null && command -v ssh-keygen >/dev/null && "
         "command -v cc >/dev/null") != 0) {
    GTEST_SKIP() << "needs openssh-client (ssh-agent, ssh-keygen, ssh-add) and a C compiler";
  }
  std::string sock = dir_ + "/agent.sock";
  ASSERT_EQ(
      Sh("ssh-keygen -q -t ed25519 -N '' -f " + dir_ + "/key && ssh-agent -a " + sock + " > " +
         dir_ + "/agent.env && SSH_AUTH_SOCK=" + sock + " ssh-add " + dir_ + "/key 2>/dev/null"),
      0);
  std::string agent_env = os::ReadFile(dir_ + "/agent.env").value_or("");
  size_t at = agent_env.find("SSH_AGENT_PID=");
  ASSERT_NE(at, std::string::npos) << agent_env;
  pid_t agent = std::atoi(agent_env.c_str() + at + 14);
  // Asks the agent at $SSH_AUTH_SOCK for its identities (SSH_AGENTC_REQUEST_IDENTITIES).
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/agentping.c", R"C(
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
static int full(int fd, unsigned char* b, int n) {
  for (int got = 0; got < n;) { int r = read(fd, b + got, n - got); if (r <= 0) return 0; got += r; }
  return 1;
}
int main(void) {
  const char* path = getenv("SSH_AUTH_SOCK");
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (!path || strlen(path) >= sizeof(a.sun_path)) return 2;
  strcpy(a.sun_path, path);
  if (connect(fd, (struct sockaddr*)&a, sizeof(a)) != 0) { perror("connect"); return 3; }
  unsigned char req[5] = {0, 0, 0, 1, 11}, len[4], body[64];
  if (write(fd, req, 5) != 5 || !full(fd, len, 4) || !full(fd, body, 5)) return 4;
  printf("agent-type=%d identities=%d\n", body[0], (body[1] << 24) | (body[2] << 16) | (body[3] << 8) | body[4]);
  return 0;
}
)C")
                  .ok());
  ASSERT_EQ(Sh("cc -static -O1 -o " + dir_ + "/ctx/agentping " + dir_ + "/agentping.c"), 0);
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nCOPY agentping /\n"
                                  "RUN --mount=type=ssh /agentping\n")
                  .ok());
  CmdResult built = Remote("--progress plain --ssh default=" + sock + " " + dir_ + "/ctx");
  kill(agent, SIGTERM);
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.err.find("agent-type=12 identities=1"), std::string::npos) << built.err;
}

// The summary at the end of a remote build links the build's record (the API's page of it until
// the web UI exists), which answers with the record; BERTH_NO_SUMMARY_LINK suppresses it.
TEST_F(RemoteBuildE2eTest, SummaryLinksTheBuildRecord) {
  CmdResult built = Remote(dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  std::string id = BuildId(built.err);
  std::string link = Url("/api/v1/builds/" + id);
  EXPECT_NE(built.err.find("build record: " + link + "\n"), std::string::npos) << built.err;
  json record = Api("GET", "/api/v1/builds/" + id);
  EXPECT_EQ(record.value("id", ""), id) << record.dump();
  EXPECT_EQ(record.value("status", ""), "success") << record.dump();
  setenv("BERTH_NO_SUMMARY_LINK", "1", 1);
  CmdResult quiet = Remote(dir_ + "/ctx");
  unsetenv("BERTH_NO_SUMMARY_LINK");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_EQ(quiet.err.find("build record:"), std::string::npos) << quiet.err;
  EXPECT_NE(quiet.err.find("remote build b_"), std::string::npos) << quiet.err;
}

TEST_F(RemoteBuildE2eTest, SavedBuildsArePulledPushedListedAndRemoved) {
  if (!registry::test::DockerRegistry::Available()) {
    FAIL() << "docker-registry is not installed (scripts/setup installs it)";
  }
  std::string host = "127.0.0.1:" + std::to_string(port_);
  std::string server = " --host " + host + " --token " + kAdmin + " --project " + project_;
  CmdResult saved =
      Remote("--save --save-tag latest --metadata-file " + dir_ + "/meta.json " + dir_ + "/ctx");
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  std::string build = BuildId(saved.err);
  std::string digest = saved.out.substr(0, saved.out.find('\n'));
  std::string reference = host + "/" + project_ + ":" + build;
  EXPECT_NE(saved.err.find("saved " + reference + "\n"), std::string::npos) << saved.err;
  EXPECT_NE(saved.err.find("saved " + host + "/" + project_ + ":latest\n"), std::string::npos);
  json meta = json::parse(os::ReadFile(dir_ + "/meta.json").value_or("{}"), nullptr, false);
  EXPECT_EQ(meta["berth.build"]["buildID"], build) << meta.dump();
  EXPECT_EQ(meta["berth.build"]["saved"][0], reference) << meta.dump();

  // Listed with its build, newest first.
  CmdResult ls = Berth("image ls --output json" + server);
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  json items = json::parse(ls.out, nullptr, false);
  ASSERT_TRUE(items.is_array()) << ls.out;
  ASSERT_EQ(items.size(), 2u) << ls.out;
  std::set<std::string> tags;
  for (const json& item : items) {
    tags.insert(item.value("tag", ""));
    EXPECT_EQ(item.value("digest", ""), digest);
    EXPECT_GT(item.value("size", 0), 0);
  }
  EXPECT_EQ(tags, (std::set<std::string>{build, "latest"}));

  // Pulled into another local store; a second pull fetches nothing.
  std::string other_root = dir_ + "/other-root";
  auto pull = [&](const std::string& args) {
    return Sh("env BERTH_ROOT=" + other_root + " " + std::string(BERTH_BIN) + "/berth pull " +
              args + server + " >" + dir_ + "/pull.out 2>" + dir_ + "/pull.err");
  };
  ASSERT_EQ(pull(build + " -t saved:one"), 0) << os::ReadFile(dir_ + "/pull.err").value_or("");
  EXPECT_NE(os::ReadFile(dir_ + "/pull.out").value_or("").find(digest), std::string::npos);
  EXPECT_NE(os::ReadFile(dir_ + "/pull.err").value_or("").find("done ("), std::string::npos);
  ASSERT_EQ(pull("latest -t saved:two"), 0) << os::ReadFile(dir_ + "/pull.err").value_or("");
  EXPECT_EQ(os::ReadFile(dir_ + "/pull.err").value_or("").find("done ("), std::string::npos)
      << os::ReadFile(dir_ + "/pull.err").value_or("");
  ASSERT_EQ(Sh("env BERTH_ROOT=" + other_root + " " + std::string(BERTH_BIN) +
               "/berth image ls --format json >" + dir_ + "/local.json"),
            0);
  std::string local = os::ReadFile(dir_ + "/local.json").value_or("");
  EXPECT_NE(local.find("saved:one"), std::string::npos) << local;
  EXPECT_NE(local.find(digest), std::string::npos) << local;

  // Pushed from berthd to a registry, byte for byte; again, nothing travels.
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/registry"), 0);
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string a = (*reg)->host() + "/saved/app:v1";
  std::string b = (*reg)->host() + "/saved/other:v2";
  CmdResult push = Berth("push " + build + " -t " + a + " -t " + b + server);
  ASSERT_EQ(push.exit_code, 0) << push.err;
  EXPECT_NE(push.out.find(digest), std::string::npos) << push.out;
  for (const std::string& name : {a, b}) {
    ASSERT_EQ(Sh("skopeo inspect --raw --tls-verify=false docker://" + name + " | sha256sum >" +
                 dir_ + "/sum"),
              0);
    EXPECT_EQ("sha256:" + os::ReadFile(dir_ + "/sum").value_or("").substr(0, 64), digest);
  }
  CmdResult again = Berth("push " + build + " -t " + a + server);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find(" 0 blob(s) uploaded"), std::string::npos) << again.err;

  // Another project's token reaches none of it.
  json other = Api("POST", "/api/v1/projects", "{\"name\":\"other\"}");
  json token =
      Api("POST", "/api/v1/projects/" + other.value("id", "") + "/tokens", "{\"name\":\"t\"}");
  CmdResult foreign = Berth("image ls --host " + host + " --token " + token.value("secret", "") +
                            " --project " + project_);
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_NE(foreign.err.find("not found"), std::string::npos) << foreign.err;

  // Removed: the tag is gone; the build's own tag still pulls.
  CmdResult rm = Berth("image rm latest" + server);
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_NE(pull("latest"), 0);
  EXPECT_NE(os::ReadFile(dir_ + "/pull.err").value_or("").find("error:"), std::string::npos);
  EXPECT_EQ(pull(build), 0) << os::ReadFile(dir_ + "/pull.err").value_or("");
  CmdResult rm_again = Berth("image rm latest" + server);
  EXPECT_EQ(rm_again.exit_code, 1);
  EXPECT_NE(rm_again.err.find("no saved image latest"), std::string::npos) << rm_again.err;

  // --save without a server is a usage error.
  CmdResult local_save = Berth("build --save " + dir_ + "/ctx");
  EXPECT_EQ(local_save.exit_code, 2);
  EXPECT_NE(local_save.err.find("--save"), std::string::npos) << local_save.err;
}

// The builder's image store is shared by every project: a name one project's build stored there
// (a push keeps it) is that project's alone — its own FROM finds it, another project's does not
// (and, the registry being gone, cannot get it).
TEST_F(RemoteBuildE2eTest, ImagesAProjectBuildsStayInItsNamespace) {
  if (!registry::test::DockerRegistry::Available()) {
    FAIL() << "docker-registry is not installed (scripts/setup installs it)";
  }
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/registry"), 0);
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string name = (*reg)->host() + "/team/private-app:1";
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nRUN echo private-data > /secret.txt\n")
                  .ok());
  CmdResult made = Remote("--push -t " + name + " " + dir_ + "/ctx");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  reg->reset();  // the registry is gone: only the builder's store can answer FROM now
  ASSERT_TRUE(
      os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", "FROM " + name + "\nRUN cat /secret.txt\n")
          .ok());
  CmdResult mine = Remote("--progress plain " + dir_ + "/ctx");
  ASSERT_EQ(mine.exit_code, 0) << mine.err;
  EXPECT_NE(mine.err.find("private-data"), std::string::npos) << mine.err;
  json other = Api("POST", "/api/v1/projects", "{\"name\":\"other\"}");
  CmdResult theirs =
      Berth("build --progress plain --host 127.0.0.1:" + std::to_string(port_) + " --token " +
            kAdmin + " --project " + other.value("id", "") + " " + dir_ + "/ctx");
  EXPECT_EQ(theirs.exit_code, 1) << theirs.err;
  EXPECT_EQ(theirs.err.find("private-data"), std::string::npos) << theirs.err;
  EXPECT_NE(theirs.err.find("private-app"), std::string::npos) << theirs.err;
}

// A target: context in a remote bake: the read target builds first on berthd, the reader gets
// its image by digest there (base is built only as app's context; other's image is read and
// also written out).
TEST_F(RemoteBuildE2eTest, RemoteBakeTargetContextsReadTheOtherTargetsImage) {
  std::string work = dir_ + "/linked";
  ASSERT_EQ(Sh("mkdir -p " + work), 0);
  ASSERT_TRUE(os::WriteFileAtomic(work + "/docker-bake.hcl", R"HCL(
group "default" { targets = ["app", "other"] }
target "base" {
  dockerfile-inline = "FROM busybox\nRUN echo from-base > /b.txt\n"
}
target "other" {
  dockerfile-inline = "FROM busybox\nRUN echo from-other > /o.txt\n"
  output = ["type=local,dest=out-other"]
}
target "app" {
  contexts = { base = "target:base", other = "target:other" }
  dockerfile-inline = "FROM base\nCOPY --from=other /o.txt /\nRUN cat /b.txt /o.txt > /a.txt\n"
  output = ["type=local,dest=out-app"]
}
)HCL")
                  .ok());
  std::string cmd =
      "cd " + Quote(work) + " && env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
      "/berth bake --progress plain --host 127.0.0.1:" + std::to_string(port_) + " --token " +
      kAdmin + " --project " + project_ + " >" + dir_ + "/bake.out 2>" + dir_ + "/bake.err";
  int rc = Sh(cmd);
  std::string err = os::ReadFile(dir_ + "/bake.err").value_or("");
  ASSERT_EQ(rc, 0) << err << "\nberthd:\n" << os::ReadFile(dir_ + "/berthd.log").value_or("");
  EXPECT_EQ(os::ReadFile(work + "/out-app/a.txt").value_or(""), "from-base\nfrom-other\n");
  EXPECT_EQ(os::ReadFile(work + "/out-other/o.txt").value_or(""), "from-other\n");
  json builds = Api("GET", "/api/v1/projects/" + project_ + "/builds");
  EXPECT_EQ(builds["items"].size(), 3U) << builds.dump();
}

}  // namespace
}  // namespace berth::e2e
