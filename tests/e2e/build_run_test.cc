// What a RUN step sees, end to end through `berth build`: secrets (file and env; never in a
// layer, the history or the cache key), ssh agent forwarding, --network, --add-host, --ulimit,
// --shm-size; and where the build reads from: --build-context (a directory and
// docker-image://), a context or a Dockerfile on stdin, --pull.
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "build_fixture.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

class BuildRunE2eTest : public BuildE2eTest {
 protected:
  void WriteDockerfile(const std::string& text) {
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", text).ok());
  }
  // Every file of every layer of the OCI archive at `tar`, unpacked below `out`/<n>/, plus the
  // config and manifests as they are: for grepping.
  void UnpackEverything(const std::string& tar, const std::string& out) {
    ASSERT_EQ(Sh("mkdir -p " + out + "/layout && tar -xf " + tar + " -C " + out + "/layout"), 0);
    ASSERT_EQ(Sh("cd " + out +
                 " && n=0 && for b in layout/blobs/sha256/*; do "
                 "if gzip -t \"$b\" 2>/dev/null; then n=$((n+1)); mkdir -p l$n && "
                 "tar -xzf \"$b\" -C l$n; fi; done"),
              0);
  }
};

constexpr const char* kSecretDockerfile = R"DF(FROM busybox
RUN --mount=type=secret,id=token echo "file-len=$(wc -c < /run/secrets/token)"
RUN --mount=type=secret,id=token,env=TOKEN,target=/etc/token-file echo "env-len=${#TOKEN}" && test "$(cat /etc/token-file)" = "$TOKEN" && echo done > /marker
RUN --mount=type=secret,id=absent echo "optional-ok"
)DF";

TEST_F(BuildRunE2eTest, SecretsReachRunButNoLayerHistoryOrCacheKey) {
  WriteDockerfile(kSecretDockerfile);
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/secret", "hunter2-very-secret").ok());
  CmdResult built = Berth("build --secret id=token,src=" + dir_ +
                          "/secret -o type=oci,dest=" + dir_ + "/img.tar " + dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.err.find("file-len=19"), std::string::npos) << built.err;
  EXPECT_NE(built.err.find("env-len=19"), std::string::npos) << built.err;
  EXPECT_NE(built.err.find("optional-ok"), std::string::npos) << built.err;
  UnpackEverything(dir_ + "/img.tar", dir_ + "/unpacked");
  // The secret is in no file of any layer, in no blob (config/history, manifests), and its
  // mount points did not stay behind.
  EXPECT_NE(Sh("grep -r -q hunter2 " + dir_ + "/unpacked"), 0);
  EXPECT_NE(Sh("find " + dir_ + "/unpacked -name token-file -o -name token | grep -q ."), 0);
  EXPECT_EQ(Sh("find " + dir_ + "/unpacked -name marker | grep -q ."), 0);

  // Another value of the secret is not another cache key: every step is cached.
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/secret", "another-value").ok());
  CmdResult again = Berth("build --secret id=token,src=" + dir_ + "/secret " + dir_ + "/ctx");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const auto& [step, status] : Steps(again.err)) {
    if (step.find("RUN") != std::string::npos) {
      EXPECT_EQ(status, "CACHED") << step << "\n" << again.err;
    }
  }

  // From the environment.
  CmdResult env = Berth("build --no-cache --secret id=token,env=MY_TOKEN " + dir_ + "/ctx");
  EXPECT_EQ(env.exit_code, 2) << env.err;
  EXPECT_NE(env.err.find("MY_TOKEN is not set"), std::string::npos) << env.err;
  CmdResult from_env =
      Berth("build --no-cache --secret id=token,env=HOME " + dir_ + "/ctx");  // HOME is set
  EXPECT_EQ(from_env.exit_code, 0) << from_env.err;

  // A required secret that was not given names the id.
  WriteDockerfile("FROM busybox\nRUN --mount=type=secret,id=needed,required=true true\n");
  CmdResult missing = Berth("build " + dir_ + "/ctx");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("secret needed is required"), std::string::npos) << missing.err;
}

TEST_F(BuildRunE2eTest, SshAgentSocketIsForwarded) {
  std::string sock = dir_ + "/agent.sock";
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    execlp("python3", "python3", "-c",
           "import socket,sys,time; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); "
           "s.listen(1); time.sleep(120)",
           sock.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  for (int i = 0; i < 100 && Sh("test -S " + sock) != 0; ++i) {
    usleep(50 * 1000);
  }
  WriteDockerfile(
      "FROM busybox\nRUN --mount=type=ssh test -S \"$SSH_AUTH_SOCK\" && echo \"agent at "
      "$SSH_AUTH_SOCK\"\n");
  CmdResult built = Berth("build --ssh default=" + sock + " " + dir_ + "/ctx");
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.err.find("agent at /run/buildkit/ssh_agent.0"), std::string::npos) << built.err;

  CmdResult not_socket = Berth("build --ssh default=" + dir_ + "/ctx/Dockerfile " + dir_ + "/ctx");
  EXPECT_EQ(not_socket.exit_code, 2) << not_socket.err;
  EXPECT_NE(not_socket.err.find("not an agent socket"), std::string::npos) << not_socket.err;
}

TEST_F(BuildRunE2eTest, NetworkHostsUlimitAndShm) {
  WriteDockerfile(R"DF(FROM busybox
RUN echo "ifaces=$(tail -n +3 /proc/net/dev | wc -l)"
RUN grep myhost /etc/hosts
RUN echo "nofile=$(ulimit -n) shm=$(grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k')"
)DF");
  CmdResult built = Berth(
      "build --network none --add-host myhost:10.1.2.3 --ulimit "
      "nofile=1024:2048 --shm-size 16m " +
      dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.err.find("ifaces=1"), std::string::npos) << built.err;  // only lo
  EXPECT_NE(built.err.find("10.1.2.3"), std::string::npos) << built.err;
  EXPECT_NE(built.err.find("nofile=1024 shm=size=16384k"), std::string::npos) << built.err;

  CmdResult bad = Berth("build --ulimit nofile=10:5 " + dir_ + "/ctx");
  EXPECT_EQ(bad.exit_code, 2) << bad.err;
  CmdResult bad_net = Berth("build --network bridge0 " + dir_ + "/ctx");
  EXPECT_EQ(bad_net.exit_code, 2) << bad_net.err;
}

TEST_F(BuildRunE2eTest, NamedBuildContexts) {
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/extra/sub && echo from-extra > " + dir_ +
               "/extra/sub/f.txt && echo ignored > " + dir_ +
               "/extra/skip.txt && echo skip.txt > " + dir_ + "/extra/.dockerignore"),
            0);
  WriteDockerfile(R"DF(FROM base
COPY --from=extra sub/f.txt /got.txt
COPY --from=extra . /all/
RUN cat /got.txt && ls /all && test ! -e /all/skip.txt
)DF");
  CmdResult built = Berth("build --build-context extra=" + dir_ +
                          "/extra --build-context base=docker-image://busybox:latest -o "
                          "type=local,dest=" +
                          dir_ + "/out-fs " + dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out-fs/got.txt").value_or(""), "from-extra\n");
  EXPECT_EQ(Sh("test -e " + dir_ + "/out-fs/all/skip.txt"), 1);

  // Changing a file of the named context reruns from its COPY.
  ASSERT_EQ(Sh("echo changed > " + dir_ + "/extra/sub/f.txt"), 0);
  CmdResult again =
      Berth("build --build-context extra=" + dir_ +
            "/extra --build-context base=docker-image://busybox:latest " + dir_ + "/ctx");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.err.find("changed"), std::string::npos) << again.err;

  CmdResult bad = Berth("build --build-context extra=" + dir_ + "/nope " + dir_ + "/ctx");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("not a directory"), std::string::npos) << bad.err;
}

TEST_F(BuildRunE2eTest, ContextOrDockerfileFromStdin) {
  ASSERT_TRUE(
      os::WriteFileAtomic(dir_ + "/df-only", "FROM busybox\nRUN echo from-stdin-dockerfile\n")
          .ok());
  CmdResult df = Berth("build -", dir_ + "/df-only");
  ASSERT_EQ(df.exit_code, 0) << df.err;
  EXPECT_NE(df.err.find("from-stdin-dockerfile"), std::string::npos) << df.err;

  ASSERT_EQ(Sh("tar -C " + dir_ + "/ctx -czf " + dir_ + "/ctx.tgz ."), 0);
  CmdResult tar = Berth("build -o type=local,dest=" + dir_ + "/from-tar -", dir_ + "/ctx.tgz");
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/from-tar/app/out.txt").value_or(""), "greetings\nhello\n");
}

TEST_F(BuildRunE2eTest, PullAsksTheRegistry) {
  if (!registry::test::DockerRegistry::Available()) {
    FAIL() << "docker-registry is not installed (scripts/setup installs it)";
  }
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/registry"), 0);
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string base = (*reg)->host() + "/e2e/base:v1";
  ASSERT_EQ(Berth("image import " + dir_ + "/rootfs " + base).exit_code, 0);
  ASSERT_EQ(Berth("image push " + base).exit_code, 0);
  // Another machine pushes a new base under the same tag.
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/rootfs2 && cp -a " + dir_ + "/rootfs/. " + dir_ +
               "/rootfs2/ && echo v2 > " + dir_ + "/rootfs2/base-version"),
            0);
  std::string other = "env BERTH_ROOT=" + dir_ + "/other-root " + std::string(BERTH_BIN) + "/berth";
  ASSERT_EQ(Sh(other + " image import " + dir_ + "/rootfs2 " + base + " >/dev/null 2>&1 && " +
               other + " image push " + base + " >/dev/null 2>&1"),
            0);
  WriteDockerfile("FROM " + base + "\nRUN cat /base-version 2>/dev/null || echo base-v1\n");
  CmdResult stored = Berth("build " + dir_ + "/ctx");
  ASSERT_EQ(stored.exit_code, 0) << stored.err;
  // The RUN's output line ("#2 base-v1"), not its title ("... || echo base-v1").
  auto printed = [](const std::string& err, const std::string& text) {
    size_t pos = 0;
    while (pos < err.size()) {
      size_t end = err.find('\n', pos);
      std::string line = err.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
      size_t space = line.find(' ');
      if (line.starts_with("#") && space != std::string::npos && line.substr(space + 1) == text) {
        return true;
      }
      if (end == std::string::npos) {
        break;
      }
      pos = end + 1;
    }
    return false;
  };
  EXPECT_TRUE(printed(stored.err, "base-v1")) << stored.err;
  CmdResult pulled = Berth("build --pull " + dir_ + "/ctx");
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_TRUE(printed(pulled.err, "v2")) << pulled.err;
  EXPECT_FALSE(printed(pulled.err, "base-v1")) << pulled.err;
}

// RUN --mount=type=bind,rw of the context: the step may write, the context never changes.
TEST_F(BuildRunE2eTest, WritableContextBindNeverWritesTheContext) {
  WriteDockerfile(
      "FROM busybox\nRUN --mount=type=bind,rw,target=/ctx echo overwritten > /ctx/greet.txt && "
      "rm /ctx/Dockerfile && cat /ctx/greet.txt\n");
  CmdResult built = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.err.find(" overwritten"), std::string::npos) << built.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/ctx/greet.txt").value_or(""), "greetings\n");
  EXPECT_TRUE(os::Exists(dir_ + "/ctx/Dockerfile"));
  EXPECT_EQ(Sh("ls " + Quote(root_ + "/tmp") + " | grep -q rwbind"), 1);
}

// --runtime crun (and config.toml's [executor] runtime) run RUN in crun: the image is the one
// runc makes, byte for byte, under SOURCE_DATE_EPOCH; an unknown runtime is a clear error.
TEST_F(BuildRunE2eTest, CrunBuildsTheSameImageAsRunc) {
  if (Sh("command -v crun >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "crun is not installed (scripts/setup installs it)";
  }
  WriteDockerfile(
      "FROM busybox\n"
      "RUN mkdir -p /app && echo hi > /app/x && echo 'bob:x:1000:1000::/home/bob:/bin/sh' >> "
      "/etc/passwd\n"
      "USER bob\n"
      "RUN id -u > /tmp/uid && echo \"as $(id -un)\"\n"
      "USER root\n"
      "RUN --network=none --mount=type=cache,target=/c --mount=type=tmpfs,target=/t "
      "echo hi > /c/f && cp /c/f /app/cached && touch /t/x\n");
  std::string epoch = "SOURCE_DATE_EPOCH=1700000000 ";
  CmdResult with_crun = Berth("build --no-cache --progress plain --runtime crun " + dir_ + "/ctx");
  ASSERT_EQ(with_crun.exit_code, 0) << with_crun.err;
  EXPECT_NE(with_crun.err.find("as bob"), std::string::npos) << with_crun.err;
  EXPECT_EQ(Sh("test -d " + root_ + "/runtime-crun"), 0);  // crun's own state directory
  std::string cmd = "env " + epoch + "BERTH_ROOT=" + Quote(root_) + " " + std::string(BERTH_BIN) +
                    "/berth build --no-cache " + dir_ + "/ctx";
  ASSERT_EQ(Sh(cmd + " --runtime crun >" + dir_ + "/crun.out 2>/dev/null"), 0);
  ASSERT_EQ(Sh(cmd + " >" + dir_ + "/runc.out 2>/dev/null"), 0);
  std::string crun_digest = os::ReadFile(dir_ + "/crun.out").value_or("crun");
  EXPECT_EQ(crun_digest, os::ReadFile(dir_ + "/runc.out").value_or("runc"));
  EXPECT_TRUE(crun_digest.starts_with("sha256:")) << crun_digest;

  // The config file chooses it too; the flag wins; nonsense is named.
  ASSERT_TRUE(os::WriteFileAtomic(root_ + "/config.toml", "[executor]\nruntime = \"crun\"\n").ok());
  ASSERT_EQ(Sh(cmd + " >" + dir_ + "/config.out 2>/dev/null"), 0);
  EXPECT_EQ(os::ReadFile(dir_ + "/config.out").value_or(""), crun_digest);
  CmdResult bad = Berth("build --runtime kata " + dir_ + "/ctx");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("\"kata\""), std::string::npos) << bad.err;
  ASSERT_TRUE(os::WriteFileAtomic(root_ + "/config.toml", "[executor]\nruntime = 7\n").ok());
  CmdResult bad_config = Berth("build " + dir_ + "/ctx");
  EXPECT_EQ(bad_config.exit_code, 1);
  EXPECT_NE(bad_config.err.find("executor.runtime"), std::string::npos) << bad_config.err;
}

}  // namespace
}  // namespace berth::e2e
