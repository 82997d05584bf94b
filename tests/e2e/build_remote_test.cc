// Remote sources end to end: `ADD https?://...` (with --checksum) against a Python HTTP server on
// loopback, `ADD git://...#ref:subdir` and git build contexts against `git daemon` on loopback,
// and URL contexts (tarballs and plain Dockerfiles) from the same HTTP server.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>

#include <gtest/gtest.h>

#include "base/strings.h"
#include "build_fixture.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

class BuildRemoteE2eTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_EQ(Sh("command -v git >/dev/null && command -v python3 >/dev/null"), 0)
        << "git and python3 are needed (scripts/setup installs git)";
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/www " + dir_ + "/git"), 0);
    http_port_ = registry::test::FreePort();
    http_pid_ = Spawn({"python3", "-m", "http.server", std::to_string(http_port_), "--bind",
                       "127.0.0.1", "--directory", dir_ + "/www"});
    // A repository with a Dockerfile at the top and files in sub/, tagged v1.
    ASSERT_EQ(Sh("cd " + dir_ +
                 " && git init -q -b main repo && cd repo && mkdir sub && "
                 "echo one > sub/a.txt && printf 'FROM busybox\\nCOPY sub/a.txt /\\nRUN cat "
                 "/a.txt\\n' > Dockerfile && git add . && " +
                 Commit("first") + " && git tag v1 && git clone -q --bare . ../git/repo.git"),
              0);
    git_port_ = registry::test::FreePort();
    git_pid_ = Spawn({"git", "daemon", "--base-path=" + dir_ + "/git", "--export-all",
                      "--listen=127.0.0.1", "--port=" + std::to_string(git_port_), "--reuseaddr"});
    for (int i = 0; i < 100; ++i) {
      bool http_up =
          Sh("curl -fs http://127.0.0.1:" + std::to_string(http_port_) + "/ >/dev/null") == 0;
      bool git_up = Sh("git ls-remote " + GitUrl() + " >/dev/null 2>&1") == 0;
      if (http_up && git_up) {
        return;
      }
      usleep(50 * 1000);
    }
    FAIL() << "the HTTP server or git daemon did not come up";
  }
  void TearDown() override {
    for (pid_t pid : {http_pid_, git_pid_}) {
      if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, nullptr, 0);
      }
    }
    BuildE2eTest::TearDown();
  }

  static pid_t Spawn(const std::vector<std::string>& args) {
    pid_t pid = fork();
    if (pid == 0) {
      std::vector<char*> argv;
      for (const std::string& a : args) {
        argv.push_back(const_cast<char*>(a.c_str()));
      }
      argv.push_back(nullptr);
      int null = open("/dev/null", O_RDWR);
      dup2(null, 1);
      dup2(null, 2);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    return pid;
  }
  static std::string Commit(const std::string& message) {
    return "git -c user.email=e2e@berth -c user.name=e2e commit -qm " + message;
  }
  std::string Url(const std::string& file) const {
    return "http://127.0.0.1:" + std::to_string(http_port_) + "/" + file;
  }
  std::string GitUrl() const {
    return "git://127.0.0.1:" + std::to_string(git_port_) + "/repo.git";
  }
  void WriteDockerfile(const std::string& text) {
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", text).ok());
  }
  // Served from www/: ctx.tar.gz and ctx.bin (the same context, gzip and plain: a Dockerfile,
  // alt.Dockerfile and sub/a.txt) and Dockerfile.txt (a Dockerfile alone).
  void WriteContextTarballs() {
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/tarred/sub && cd " + dir_ +
                 "/tarred && echo tarred > sub/a.txt && "
                 "printf 'FROM busybox\\nCOPY sub/a.txt /\\nRUN cat /a.txt\\n' > Dockerfile && "
                 "printf 'FROM busybox\\nCOPY sub/a.txt /other.txt\\n' > alt.Dockerfile && "
                 "tar -czf ../www/ctx.tar.gz . && tar -cf ../www/ctx.bin ."),
              0);
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/www/Dockerfile.txt",
                                    "FROM busybox\nRUN echo from-url-dockerfile | tee "
                                    "/from-url.txt\n")
                    .ok());
  }
  std::string StateOf(const std::string& err, const std::string& step_part) {
    for (const auto& [step, state] : Steps(err)) {
      if (step.find(step_part) != std::string::npos) {
        return state;
      }
    }
    return "";
  }

  int http_port_ = 0;
  int git_port_ = 0;
  pid_t http_pid_ = -1;
  pid_t git_pid_ = -1;
};

TEST_F(BuildRemoteE2eTest, AddUrlWithChecksumAndCache) {
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/www/tool.txt", "tool v1\n").ok());
  ASSERT_EQ(Sh("sha256sum " + dir_ + "/www/tool.txt | cut -d' ' -f1 > " + dir_ + "/sum"), 0);
  std::string sum = "sha256:" + std::string(Trim(os::ReadFile(dir_ + "/sum").value_or("")));
  WriteDockerfile("FROM busybox\nADD --checksum=" + sum + " " + Url("tool.txt") +
                  " /opt/\nRUN cat /opt/tool.txt && stat -c 'mode=%a' /opt/tool.txt\n");
  CmdResult first = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("tool v1"), std::string::npos) << first.err;
  EXPECT_NE(first.err.find("mode=600"), std::string::npos) << first.err;  // as BuildKit

  // Unchanged at the URL: the ADD and the RUN are cached.
  CmdResult again = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(StateOf(again.err, "RUN cat"), "CACHED") << again.err;

  // Changed at the URL: the checksum no longer matches, and the error says so.
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/www/tool.txt", "tool v2\n").ok());
  CmdResult mismatch = Berth("build --progress plain " + dir_ + "/ctx");
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_NE(mismatch.err.find("digest mismatch"), std::string::npos) << mismatch.err;

  // Without a checksum the new content reruns the steps after the ADD.
  WriteDockerfile("FROM busybox\nADD " + Url("tool.txt") + " /opt/\nRUN cat /opt/tool.txt\n");
  CmdResult changed = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  EXPECT_NE(changed.err.find("tool v2"), std::string::npos) << changed.err;

  WriteDockerfile("FROM busybox\nADD " + Url("missing.txt") + " /opt/\n");
  CmdResult missing = Berth("build " + dir_ + "/ctx");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("missing.txt: HTTP status 404"), std::string::npos) << missing.err;
}

TEST_F(BuildRemoteE2eTest, AddGitRefAndSubdir) {
  WriteDockerfile("FROM busybox\nADD " + GitUrl() +
                  "#v1:sub /src/\nRUN ls -a /src && cat /src/a.txt && test ! -e /src/.git\n");
  CmdResult first = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_NE(first.err.find("one"), std::string::npos) << first.err;

  // The tag still names the same commit: cached, even though the branch moves on.
  ASSERT_EQ(Sh("cd " + dir_ + "/repo && echo two > sub/a.txt && git add . && " + Commit("second") +
               " && git push -q ../git/repo.git main"),
            0);
  CmdResult same = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(same.exit_code, 0) << same.err;
  EXPECT_EQ(StateOf(same.err, "RUN ls"), "CACHED") << same.err;

  // The branch resolves to the new commit: the steps rerun and see its content.
  WriteDockerfile("FROM busybox\nADD " + GitUrl() + "#main:sub /src/\nRUN cat /src/a.txt\n");
  CmdResult branch = Berth("build --progress plain " + dir_ + "/ctx");
  ASSERT_EQ(branch.exit_code, 0) << branch.err;
  EXPECT_NE(branch.err.find("two"), std::string::npos) << branch.err;

  WriteDockerfile("FROM busybox\nADD " + GitUrl() + "#no-such-branch /src/\n");
  CmdResult missing = Berth("build " + dir_ + "/ctx");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no-such-branch not found"), std::string::npos) << missing.err;
}

TEST_F(BuildRemoteE2eTest, GitContext) {
  CmdResult built = Berth("build --progress plain -t fromgit:v1 " + GitUrl() + "#v1");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_NE(built.err.find(" one\n"), std::string::npos) << built.err;
  // A subdirectory as the context (with -f from the caller's directory).
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/sub.Dockerfile", "FROM busybox\nCOPY a.txt /\n").ok());
  CmdResult sub = Berth("build -f " + dir_ + "/sub.Dockerfile " + GitUrl() + "#v1:sub");
  EXPECT_EQ(sub.exit_code, 0) << sub.err;
  // Nothing of the checkouts is left behind.
  EXPECT_EQ(Sh("ls " + root_ + "/tmp | grep -q context-"), 1);
}

TEST_F(BuildRemoteE2eTest, BakeTargetsBuildFromGitContexts) {
  std::string work = dir_ + "/bake";
  ASSERT_EQ(Sh("mkdir -p " + work), 0);
  ASSERT_TRUE(
      os::WriteFileAtomic(work + "/docker-bake.hcl",
                          "group \"default\" { targets = [\"fromgit\", \"named\"] }\n"
                          "target \"fromgit\" {\n"
                          "  context = \"" +
                              GitUrl() +
                              "#v1\"\n"
                              "  output = [\"type=local,dest=" +
                              work +
                              "/out-git\"]\n"
                              "}\n"
                              "target \"named\" {\n"
                              "  context = \"" +
                              work +
                              "\"\n"
                              "  contexts = { extra = \"" +
                              GitUrl() +
                              "#v1:sub\" }\n"
                              "  dockerfile-inline = \"FROM busybox\\nCOPY --from=extra a.txt "
                              "/b.txt\\n\"\n"
                              "  output = [\"type=local,dest=" +
                              work +
                              "/out-named\"]\n"
                              "}\n")
          .ok());
  CmdResult r = Berth("bake --progress plain -f " + work + "/docker-bake.hcl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(os::ReadFile(work + "/out-git/a.txt").value_or(""), "one\n");
  EXPECT_EQ(os::ReadFile(work + "/out-named/b.txt").value_or(""), "one\n");
  // The checkouts are gone; a context that is neither a directory nor git is named.
  EXPECT_EQ(Sh("ls " + root_ + "/tmp | grep -q context-"), 1);
  ASSERT_TRUE(os::WriteFileAtomic(work + "/docker-bake.hcl",
                                  "target \"default\" { context = \"ftp://127.0.0.1/ctx.tar\" }\n")
                  .ok());
  CmdResult bad = Berth("bake -f " + work + "/docker-bake.hcl");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("ftp://127.0.0.1/ctx.tar"), std::string::npos) << bad.err;
}

// An http(s) context is a tarball when its content is one (whatever its name), extracted, or
// else the Dockerfile itself with an empty context; named contexts may be tarballs too.
TEST_F(BuildRemoteE2eTest, UrlContexts) {
  WriteContextTarballs();
  CmdResult tarball =
      Berth("build --progress plain -o type=local,dest=" + dir_ + "/out-tar " + Url("ctx.tar.gz"));
  ASSERT_EQ(tarball.exit_code, 0) << tarball.err;
  EXPECT_NE(tarball.err.find(" tarred\n"), std::string::npos) << tarball.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out-tar/a.txt").value_or(""), "tarred\n");

  // An uncompressed tar by another name; a relative -f names a file in the context.
  CmdResult alt =
      Berth("build -f alt.Dockerfile -o type=local,dest=" + dir_ + "/out-alt " + Url("ctx.bin"));
  ASSERT_EQ(alt.exit_code, 0) << alt.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out-alt/other.txt").value_or(""), "tarred\n");

  CmdResult text = Berth("build --progress plain -o type=local,dest=" + dir_ + "/out-text " +
                         Url("Dockerfile.txt"));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_NE(text.err.find(" from-url-dockerfile\n"), std::string::npos) << text.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out-text/from-url.txt").value_or(""), "from-url-dockerfile\n");

  WriteDockerfile("FROM busybox\nCOPY --from=extra sub/a.txt /b.txt\n");
  CmdResult named = Berth("build --build-context extra=" + Url("ctx.tar.gz") +
                          " -o type=local,dest=" + dir_ + "/out-named " + dir_ + "/ctx");
  ASSERT_EQ(named.exit_code, 0) << named.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/out-named/b.txt").value_or(""), "tarred\n");
  // Nothing of the downloads is left behind.
  EXPECT_EQ(Sh("ls " + root_ + "/tmp | grep -q context-"), 1);
}

TEST_F(BuildRemoteE2eTest, UrlContextErrors) {
  WriteContextTarballs();
  CmdResult missing = Berth("build " + Url("missing.tar.gz"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("context " + Url("missing.tar.gz") + ": HTTP status 404"),
            std::string::npos)
      << missing.err;

  // An entry that climbs out of the context is refused, and nothing lands outside it.
  ASSERT_EQ(
      Sh("cd " + dir_ +
         "/www && python3 -c \"import io, tarfile\n"
         "with tarfile.open('evil.tar', 'w') as t:\n"
         "  for name, data in [('Dockerfile', b'FROM busybox\\n'), ('../escape.txt', b'x')]:\n"
         "    info = tarfile.TarInfo(name)\n"
         "    info.size = len(data)\n"
         "    t.addfile(info, io.BytesIO(data))\""),
      0);
  CmdResult evil = Berth("build " + Url("evil.tar"));
  EXPECT_EQ(evil.exit_code, 1);
  EXPECT_NE(evil.err.find("context " + Url("evil.tar")), std::string::npos) << evil.err;
  EXPECT_NE(evil.err.find("../escape.txt escapes the destination"), std::string::npos) << evil.err;
  EXPECT_EQ(Sh("find " + dir_ + " -name escape.txt | grep -q ."), 1);

  // A named context must be an archive.
  CmdResult text =
      Berth("build --build-context extra=" + Url("Dockerfile.txt") + " " + dir_ + "/ctx");
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.err.find("--build-context extra: context " + Url("Dockerfile.txt") +
                          ": not a tar archive"),
            std::string::npos)
      << text.err;
  EXPECT_EQ(Sh("ls " + root_ + "/tmp | grep -q context-"), 1);
}

TEST_F(BuildRemoteE2eTest, BakeTargetsBuildFromUrlContexts) {
  WriteContextTarballs();
  std::string work = dir_ + "/bake";
  ASSERT_EQ(Sh("mkdir -p " + work), 0);
  ASSERT_TRUE(
      os::WriteFileAtomic(
          work + "/docker-bake.hcl",
          "group \"default\" { targets = [\"tarball\", \"text\", \"named\"] }\n"
          "target \"tarball\" {\n"
          "  context = \"" +
              Url("ctx.tar.gz") +
              "\"\n"
              "  output = [\"type=local,dest=" +
              work +
              "/out-tar\"]\n"
              "}\n"
              "target \"text\" {\n"
              "  context = \"" +
              Url("Dockerfile.txt") +
              "\"\n"
              "  output = [\"type=local,dest=" +
              work +
              "/out-text\"]\n"
              "}\n"
              "target \"named\" {\n"
              "  context = \"" +
              work +
              "\"\n"
              "  contexts = { extra = \"" +
              Url("ctx.tar.gz") +
              "\" }\n"
              "  dockerfile-inline = \"FROM busybox\\nCOPY --from=extra sub/a.txt /b.txt\\n\"\n"
              "  output = [\"type=local,dest=" +
              work +
              "/out-named\"]\n"
              "}\n")
          .ok());
  CmdResult r = Berth("bake --progress plain -f " + work + "/docker-bake.hcl");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(os::ReadFile(work + "/out-tar/a.txt").value_or(""), "tarred\n");
  EXPECT_EQ(os::ReadFile(work + "/out-text/from-url.txt").value_or(""), "from-url-dockerfile\n");
  EXPECT_EQ(os::ReadFile(work + "/out-named/b.txt").value_or(""), "tarred\n");
  EXPECT_EQ(Sh("ls " + root_ + "/tmp | grep -q context-"), 1);

  // A named context that is not an archive, and a missing URL, are errors naming the URL.
  ASSERT_TRUE(os::WriteFileAtomic(work + "/docker-bake.hcl",
                                  "target \"default\" {\n"
                                  "  context = \"" +
                                      work +
                                      "\"\n"
                                      "  contexts = { extra = \"" +
                                      Url("Dockerfile.txt") +
                                      "\" }\n"
                                      "  dockerfile-inline = \"FROM busybox\\n\"\n"
                                      "}\n")
                  .ok());
  CmdResult text = Berth("bake -f " + work + "/docker-bake.hcl");
  EXPECT_NE(text.exit_code, 0);
  EXPECT_NE(
      text.err.find("contexts.extra: context " + Url("Dockerfile.txt") + ": not a tar archive"),
      std::string::npos)
      << text.err;
  ASSERT_TRUE(os::WriteFileAtomic(work + "/docker-bake.hcl", "target \"default\" { context = \"" +
                                                                 Url("missing.tar") + "\" }\n")
                  .ok());
  CmdResult missing = Berth("bake -f " + work + "/docker-bake.hcl");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("context " + Url("missing.tar") + ": HTTP status 404"),
            std::string::npos)
      << missing.err;
  EXPECT_EQ(Sh("ls " + root_ + "/tmp | grep -q context-"), 1);
}

}  // namespace
}  // namespace berth::e2e
