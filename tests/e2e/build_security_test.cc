// Security checks of issue 4 through the `berth` binary: symlinks in the context never lead a
// COPY out of it (a link to the host's /etc/shadow copies no host file), and a RUN sees neither
// the host's files nor its processes. (Secrets: build_run_test.cc.)
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "build_fixture.h"

namespace berth::e2e {
namespace {

class BuildSecurityE2eTest : public BuildE2eTest {
 protected:
  void WriteDockerfile(const std::string& text) {
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", text).ok());
  }
  // The image's files, for looking at what a build copied.
  std::string Unpack(const std::string& image) {
    std::string out = dir_ + "/unpacked-" + std::to_string(++unpacks_);
    CmdResult r = Berth("image unpack " + image + " " + out);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return out;
  }
  int unpacks_ = 0;
};

TEST_F(BuildSecurityE2eTest, ContextSymlinksNeverLeadOutOfTheContext) {
  // A host file standing in for /etc/shadow (whose contents are not ours to spread in logs),
  // and links to it and to the host's /etc/shadow itself.
  std::string host_secret = dir_ + "/host-secret.txt";
  ASSERT_TRUE(os::WriteFileAtomic(host_secret, "host-only-content-7f3a\n").ok());
  ASSERT_EQ(symlink("/etc/shadow", (dir_ + "/ctx/shadow").c_str()), 0);
  ASSERT_EQ(symlink(host_secret.c_str(), (dir_ + "/ctx/secret-link").c_str()), 0);
  ASSERT_EQ(symlink("../host-secret.txt", (dir_ + "/ctx/relative-link").c_str()), 0);
  ASSERT_EQ(symlink("/etc", (dir_ + "/ctx/etc-link").c_str()), 0);

  // Naming a link that points out: resolved inside the context, where there is no such file.
  for (const std::string src : {"shadow", "secret-link", "relative-link", "etc-link/shadow"}) {
    WriteDockerfile("FROM busybox\nCOPY " + src + " /stolen\n");
    CmdResult r =
        Berth("build --progress plain -t leak:" + std::to_string(src.size()) + " " + dir_ + "/ctx");
    EXPECT_NE(r.exit_code, 0) << src << " was copied: " << r.err;
    EXPECT_EQ(r.err.find("host-only-content"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("root:"), std::string::npos) << r.err;
  }

  // Copying the whole context copies the links as links, never what they point at.
  WriteDockerfile("FROM busybox\nCOPY . /ctx/\nRUN cat /ctx/secret-link 2>&1 || true\n");
  CmdResult all = Berth("build --progress plain -t whole:v1 " + dir_ + "/ctx");
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(all.err.find("host-only-content"), std::string::npos) << all.err;
  std::string root = Unpack("whole:v1");
  struct stat st {};
  ASSERT_EQ(lstat((root + "/ctx/secret-link").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  ASSERT_EQ(lstat((root + "/ctx/shadow").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_NE(Sh("grep -rq host-only-content " + Quote(root)), 0);
}

TEST_F(BuildSecurityE2eTest, RunSeesNeitherHostFilesNorHostProcesses) {
  // A host process with a name no container has, and a host file no image has.
  std::string marker = "berth-host-marker-" + std::to_string(getpid());
  std::string host_file = "/tmp/" + marker;
  ASSERT_TRUE(os::WriteFileAtomic(host_file, "host\n").ok());
  pid_t sleeper = fork();
  ASSERT_GE(sleeper, 0);
  if (sleeper == 0) {
    execl("/bin/sleep", "sleep", "2999", static_cast<char*>(nullptr));
    _exit(127);
  }
  bool started = false;
  for (int i = 0; i < 100 && !started; ++i) {
    started = Sh("pgrep -f '^sleep 2999$' >/dev/null") == 0;
    usleep(20 * 1000);
  }
  EXPECT_TRUE(started) << "the host's sleep did not start";
  WriteDockerfile(
      "FROM busybox\n"
      "RUN echo \"procs=$(ls /proc | grep -c '^[0-9]')\" && "
      "echo \"pid1=$(cat /proc/1/comm)\" && "
      "(ps -o pid,args | grep -c '[s]leep 2999' | sed 's/^/sleepers=/') && "
      "(test -e " +
      host_file +
      " && echo host-file-visible || echo host-file-hidden) && "
      "(ls /var/lib/berth /root/.ssh 2>/dev/null | head -1; echo listed) && "
      "echo \"host=$(hostname)\"\n");
  CmdResult r = Berth("build --no-cache --progress plain " + dir_ + "/ctx");
  kill(sleeper, SIGKILL);
  waitpid(sleeper, nullptr, 0);
  unlink(host_file.c_str());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find(" host-file-hidden\n"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(" host-file-visible\n"), std::string::npos) << r.err;
  // Own pid namespace: pid 1 is the RUN's shell, and the host's sleep is not there (the
  // pattern [s]leep matches no command line that only spells it).
  EXPECT_NE(r.err.find("pid1=sh"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("sleepers=0\n"), std::string::npos) << r.err;
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  EXPECT_EQ(r.err.find("host=" + std::string(host) + "\n"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace berth::e2e
