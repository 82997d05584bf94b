// `berth build` end to end: a busybox base imported into a temporary BERTH_ROOT, a Dockerfile
// with FROM, WORKDIR, ENV, COPY, RUN and CMD built through the binary, the image checked with
// `berth image ls`, `berth image save --format oci` and umoci, and the cache checked across
// rebuilds (no change, an mtime-only change, a content change).
#include <signal.h>
#include <sys/mount.h>

#include <chrono>

#include "build_fixture.h"

namespace berth::e2e {
namespace {

TEST_F(BuildE2eTest, BuildsCachesAndRebuildsFromTheChangedCopy) {
  CmdResult first = Build();
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(first.out.rfind("sha256:", 0), 0u) << first.out;
  EXPECT_NE(first.err.find("ran-step-42"), std::string::npos) << first.err;

  CmdResult ls = Berth("image ls --format json");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  nlohmann::json list = nlohmann::json::parse(ls.out);
  bool found = false;
  for (const auto& image : list) {
    found = found || image["name"] == "docker.io/library/app:v1";
  }
  EXPECT_TRUE(found) << ls.out;

  // The image as umoci sees it.
  CmdResult saved = Berth("image save app:v1 --format oci -o " + dir_ + "/app.tar");
  ASSERT_EQ(saved.exit_code, 0) << saved.err;
  if (Sh("command -v umoci >/dev/null 2>&1") == 0) {
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/layout && tar -C " + dir_ + "/layout -xf " + dir_ +
                 "/app.tar && umoci unpack --image " + dir_ + "/layout:v1 " + dir_ +
                 "/bundle >/dev/null 2>&1"),
              0);
    EXPECT_EQ(os::ReadFile(dir_ + "/bundle/rootfs/app/out.txt").value_or(""), "greetings\nhello\n");
    EXPECT_EQ(os::ReadFile(dir_ + "/bundle/rootfs/app/greet.txt").value_or(""), "greetings\n");
    EXPECT_TRUE(os::Exists(dir_ + "/bundle/rootfs/bin/busybox"));
    std::string config = os::ReadFile(dir_ + "/bundle/config.json").value_or("{}");
    nlohmann::json spec = nlohmann::json::parse(config);
    EXPECT_EQ(spec["process"]["args"], nlohmann::json({"cat", "/app/out.txt"})) << config;
    EXPECT_EQ(spec["process"]["cwd"], "/app") << config;
    EXPECT_NE(config.find("GREETING=hello"), std::string::npos) << config;
  } else {
    ADD_FAILURE() << "umoci is not installed: cannot check the image's files";
  }

  // No change: every Dockerfile step is cached and no RUN runs.
  CmdResult again = Build();
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(again.err.find("ran-step-42"), std::string::npos) << again.err;
  size_t dockerfile_steps = 0;
  for (const auto& [description, status] : Steps(again.err)) {
    if (description.starts_with("[internal]")) {
      continue;
    }
    ++dockerfile_steps;
    EXPECT_EQ(status, "CACHED") << description << "\n" << again.err;
  }
  EXPECT_GE(dockerfile_steps, 3u) << again.err;

  // mtime only: still all cached.
  ASSERT_EQ(Sh("touch -d '2001-01-01' " + dir_ + "/ctx/greet.txt"), 0);
  CmdResult touched = Build();
  ASSERT_EQ(touched.exit_code, 0) << touched.err;
  EXPECT_EQ(touched.err.find("ran-step-42"), std::string::npos) << touched.err;
  for (const auto& [description, status] : Steps(touched.err)) {
    if (!description.starts_with("[internal]")) {
      EXPECT_EQ(status, "CACHED") << description << "\n" << touched.err;
    }
  }

  // New content: the COPY and everything after it run again; what comes before stays cached.
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/greet.txt", "salutations\n").ok());
  CmdResult changed = Build();
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_NE(changed.err.find("ran-step-42"), std::string::npos) << changed.err;
  for (const auto& [description, status] : Steps(changed.err)) {
    if (description.starts_with("[internal]")) {
      continue;
    }
    bool after_copy = description.find("COPY") != std::string::npos ||
                      description.find("RUN") != std::string::npos;
    EXPECT_EQ(status, after_copy ? "DONE " : "CACHED") << description << "\n" << changed.err;
  }
}

TEST_F(BuildE2eTest, FailingRunNamesTheStepLineAndExitCode) {
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nRUN echo about to fail && exit 3\n")
                  .ok());
  CmdResult r = Build();
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("error: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("Dockerfile:2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("exit code: 3"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("about to fail"), std::string::npos) << r.err;
}

class BuildFlagsE2eTest : public BuildE2eTest {};

TEST_F(BuildFlagsE2eTest, LabelIidfileQuietAndPlatform) {
  CmdResult quiet = Berth("build -q --label org.example.team=builders --iidfile " + dir_ +
                          "/iid -t app:v2 " + dir_ + "/ctx");
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  std::string iid = os::ReadFile(dir_ + "/iid").value_or("");
  ASSERT_EQ(iid.rfind("sha256:", 0), 0u) << iid;
  // -q prints only the image ID and no progress.
  EXPECT_EQ(quiet.out, iid + "\n");
  EXPECT_EQ(quiet.err.find("#1"), std::string::npos) << quiet.err;
  // The label is in the image config the iidfile names.
  ASSERT_EQ(Berth("image save app:v2 --format oci -o " + dir_ + "/v2.tar").exit_code, 0);
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/v2 && tar -xf " + dir_ + "/v2.tar -C " + dir_ + "/v2"), 0);
  std::string config =
      os::ReadFile(dir_ + "/v2/blobs/sha256/" + iid.substr(std::string("sha256:").size()))
          .value_or("");
  EXPECT_NE(config.find("\"org.example.team\":\"builders\""), std::string::npos) << config;

  CmdResult foreign = Berth("build --platform linux/s390x " + dir_ + "/ctx");
  EXPECT_EQ(foreign.exit_code, 1);
  EXPECT_NE(foreign.err.find("only the host platform"), std::string::npos) << foreign.err;
  CmdResult bad_label = Berth("build --label novalue " + dir_ + "/ctx");
  EXPECT_EQ(bad_label.exit_code, 2) << bad_label.err;
}

// Two `berth build` processes on one root at once: each step runs once, in one of them; the
// other waits for it and takes the result from the cache.
TEST_F(BuildE2eTest, ConcurrentBuildsRunEachStepOnce) {
  // A fixed creation time: the two may finish in different seconds.
  std::string cmd = "env SOURCE_DATE_EPOCH=1700000000 BERTH_ROOT=" + Quote(root_) + " " +
                    std::string(BERTH_BIN) + "/berth build --progress plain -t app:c " + dir_ +
                    "/ctx";
  ASSERT_EQ(Sh("(" + cmd + " >" + dir_ + "/a.out 2>" + dir_ + "/a.err & " + cmd + " >" + dir_ +
               "/b.out 2>" + dir_ + "/b.err & wait)"),
            0);
  std::string a = os::ReadFile(dir_ + "/a.err").value_or("");
  std::string b = os::ReadFile(dir_ + "/b.err").value_or("");
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
      ++n;
    }
    return n;
  };
  // The RUN prints ran-step-42 when it runs; its title holds the unexpanded $((40+2)).
  EXPECT_EQ(count(a, "ran-step-42") + count(b, "ran-step-42"), 1u) << a << "\n----\n" << b;
  std::string digest_a = os::ReadFile(dir_ + "/a.out").value_or("a");
  std::string digest_b = os::ReadFile(dir_ + "/b.out").value_or("b");
  EXPECT_EQ(digest_a, digest_b);
  EXPECT_EQ(digest_a.rfind("sha256:", 0), 0u) << a;
}

// Ctrl-C during a RUN: berth kills the container, cleans up and exits 130 promptly; nothing
// stays mounted or running, and the next build on the root works and reuses the cache.
TEST_F(BuildE2eTest, InterruptCancelsTheBuildCleanly) {
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nCOPY greet.txt /\nRUN echo sleeping && sleep 61\n")
                  .ok());
  std::string cmd = "exec env BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
                    "/berth build --progress plain " + dir_ + "/ctx >" + dir_ + "/i.out 2>" + dir_ +
                    "/i.err";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bool running = false;
  for (int i = 0; i < 600 && !running; ++i) {
    running = os::ReadFile(dir_ + "/i.err").value_or("").find(" sleeping") != std::string::npos;
    usleep(50 * 1000);
  }
  ASSERT_TRUE(running) << os::ReadFile(dir_ + "/i.err").value_or("");
  auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(pid, SIGINT), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::string err = os::ReadFile(dir_ + "/i.err").value_or("");
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 130) << err;
  EXPECT_LT(seconds, 20.0) << err;
  EXPECT_NE(err.find("cancel"), std::string::npos) << err;
  // Nothing of the build stays mounted, and no container is left.
  EXPECT_NE(Sh("grep -q " + Quote(root_) + " /proc/self/mounts"), 0);
  EXPECT_NE(Sh("runc --root " + Quote(root_ + "/runc") + " list -q | grep -q ."), 0);
  EXPECT_NE(Sh("pgrep -f '^sleep 61$' >/dev/null"), 0);

  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nCOPY greet.txt /\nRUN echo after\n")
                  .ok());
  CmdResult after = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(after.exit_code, 0) << after.err;
  bool copy_cached = false;
  for (const auto& [step, state] : Steps(after.err)) {
    copy_cached =
        copy_cached || (step.find("COPY greet.txt") != std::string::npos && state == "CACHED");
  }
  EXPECT_TRUE(copy_cached) << after.err;
}

// .dockerignore hides files from every COPY: named directly, through an ignored directory, by a
// glob, or by copying the whole context; the error says the ignore file excluded it.
TEST_F(BuildE2eTest, DockerignoreHidesFilesFromEveryCopy) {
  ASSERT_EQ(Sh("cd " + dir_ +
               "/ctx && mkdir -p private keep && echo s > secret.txt && echo p > "
               "private/key.txt && echo k > keep/ok.txt && printf 'secret.txt\\nprivate\\n' > "
               ".dockerignore"),
            0);
  for (const char* src : {"secret.txt", "private/key.txt", "private"}) {
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                    std::string("FROM busybox\nCOPY ") + src + " /x/\n")
                    .ok());
    CmdResult r = Berth("build " + dir_ + "/ctx");
    EXPECT_EQ(r.exit_code, 1) << src;
    EXPECT_NE(r.err.find("excluded by .dockerignore"), std::string::npos) << src << ": " << r.err;
  }
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile",
                                  "FROM busybox\nCOPY *.txt /glob/\nCOPY . /all/\n")
                  .ok());
  CmdResult ok = Berth("build -o type=local,dest=" + dir_ + "/fs " + dir_ + "/ctx");
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(Sh("test -e " + dir_ + "/fs/glob/greet.txt"), 0);
  EXPECT_NE(Sh("test -e " + dir_ + "/fs/glob/secret.txt"), 0);
  EXPECT_NE(Sh("test -e " + dir_ + "/fs/all/secret.txt"), 0);
  EXPECT_NE(Sh("test -e " + dir_ + "/fs/all/private"), 0);
  EXPECT_EQ(Sh("test -e " + dir_ + "/fs/all/keep/ok.txt"), 0);
}

// `berth image import` unpacks the base for builds (as `buildah from` does), so the first build
// starts from a ready snapshot; --no-unpack only stores it.
TEST_F(BuildE2eTest, ImportUnpacksTheBaseForBuilds) {
  auto chains = [&] {
    return Sh("ls " + Quote(root_ + "/snapshots/meta") + " 2>/dev/null | grep -c '^chain-' >" +
              dir_ + "/n; true") == 0
               ? os::ReadFile(dir_ + "/n").value_or("")
               : std::string();
  };
  EXPECT_EQ(chains(), "1\n");  // the fixture's busybox import
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/rootfs2 && cp -a " + dir_ + "/rootfs/. " + dir_ +
               "/rootfs2/ && echo x > " + dir_ + "/rootfs2/marker"),
            0);
  ASSERT_EQ(Berth("image import --no-unpack " + dir_ + "/rootfs2 other:1").exit_code, 0);
  EXPECT_EQ(chains(), "1\n");
  ASSERT_EQ(Berth("image import " + dir_ + "/rootfs2 other:2").exit_code, 0);
  EXPECT_EQ(chains(), "2\n");
}

}  // namespace
}  // namespace berth::e2e
