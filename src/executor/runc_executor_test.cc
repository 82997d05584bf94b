#include "executor/runc_executor.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "archive/testing/tree.h"
#include "executor/testing/busybox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "snapshot/mount.h"
#include "snapshot/overlay_snapshotter.h"
#include "snapshot/testing/overlay.h"

namespace berth::executor {
namespace {

using archive::testing::MakeDir;
using archive::testing::ReadFileOrEmpty;
using archive::testing::TempDir;
using archive::testing::WriteFile;
using ::testing::HasSubstr;
using ::testing::Not;

bool Exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

struct Outcome {
  Result<int> code = Error::Internal("not run");
  std::string out;
  std::string err;
};

class RuncExecutorTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    skip_reason_ = new std::string;
    if (::geteuid() != 0) {
      *skip_reason_ = "runc needs root";
    } else if (!FindRuntime("runc").ok()) {
      *skip_reason_ = "runc is not installed";
    } else {
      *skip_reason_ = testing::BusyboxUnavailableReason();
    }
    if (skip_reason_->empty()) {
      rootfs_dir_ = new TempDir;
      if (!testing::MakeBusyboxRootfs(rootfs_dir_->path())) {
        *skip_reason_ = "cannot make a busybox rootfs";
      }
    }
  }
  static void TearDownTestSuite() {
    delete rootfs_dir_;
    rootfs_dir_ = nullptr;
    delete skip_reason_;
    skip_reason_ = nullptr;
  }

  void SetUp() override {
    if (!skip_reason_->empty()) {
      GTEST_SKIP() << *skip_reason_;
    }
    Result<std::unique_ptr<RuncExecutor>> e =
        RuncExecutor::Create({.state_dir = state_ / "runc", .bundle_dir = state_ / "bundles"});
    ASSERT_TRUE(e.ok()) << e.error().ToString();
    executor_ = std::move(*e);
  }

  void TearDown() override {
    if (executor_ != nullptr) {
      // Nothing may be left behind: no container state, no bundle.
      EXPECT_EQ(archive::testing::Shell("[ -z \"$(ls -A '" + (state_ / "runc") + "')\" ]"), 0);
      EXPECT_EQ(archive::testing::Shell("[ -z \"$(ls -A '" + (state_ / "bundles") + "')\" ]"), 0);
    }
  }

  static const std::string& rootfs() { return rootfs_dir_->path(); }

  Outcome Run(ProcessSpec process, const std::string& root = rootfs(),
              const Context& ctx = Context::Background()) {
    StringWriter out;
    StringWriter err;
    Outcome o;
    o.code = executor_->Run(ctx, RunSpec{root, std::move(process)}, out, err);
    o.out = out.Take();
    o.err = err.Take();
    return o;
  }

  Outcome Sh(const std::string& script, ProcessSpec process = {}) {
    process.args = {"/bin/sh", "-c", script};
    return Run(std::move(process));
  }

  static std::string* skip_reason_;
  static TempDir* rootfs_dir_;
  TempDir state_;
  std::unique_ptr<RuncExecutor> executor_;
};

std::string* RuncExecutorTest::skip_reason_ = nullptr;
TempDir* RuncExecutorTest::rootfs_dir_ = nullptr;

#define ASSERT_RAN(o) ASSERT_TRUE((o).code.ok()) << (o).code.error().ToString() << (o).err

TEST_F(RuncExecutorTest, EchoHello) {
  Outcome o = Run({.args = {"echo", "hello"}});
  ASSERT_RAN(o);
  EXPECT_EQ(*o.code, 0);
  EXPECT_EQ(o.out, "hello\n");
  EXPECT_EQ(o.err, "");
}

TEST_F(RuncExecutorTest, ExitCodesAndStderr) {
  Outcome o = Sh("echo oops >&2; exit 3");
  ASSERT_RAN(o);
  EXPECT_EQ(*o.code, 3);
  EXPECT_EQ(o.err, "oops\n");
  // A process killed by a signal reports 128 + the signal. (Not the container's init: pid 1
  // ignores signals from inside its namespace.)
  Outcome killed = Run({.args = {"/bin/sh", "-c", "/bin/sh -c 'kill -9 $$'; exit $?"}});
  ASSERT_RAN(killed);
  EXPECT_EQ(*killed.code, 137);
}

TEST_F(RuncExecutorTest, EnvAndCwd) {
  Outcome o = Sh("echo $FOO; pwd; echo $HOME", {.env = {"FOO=bar baz"}, .cwd = "/tmp"});
  ASSERT_RAN(o);
  EXPECT_EQ(o.out, "bar baz\n/tmp\n/root\n");
}

TEST_F(RuncExecutorTest, UserFromPasswd) {
  Outcome o = Sh("id -u; id -g", {.user = "nobody"});
  ASSERT_RAN(o);
  EXPECT_EQ(o.out, "65534\n65534\n");
  Outcome b = Sh("id -G", {.user = "builder"});
  ASSERT_RAN(b);
  EXPECT_EQ(b.out, "1000 2000\n");
  Outcome numeric = Sh("id -u; id -g", {.user = "4242:77"});
  ASSERT_RAN(numeric);
  EXPECT_EQ(numeric.out, "4242\n77\n");
  Outcome unknown = Sh("true", {.user = "nosuchuser"});
  ASSERT_FALSE(unknown.code.ok());
  EXPECT_EQ(unknown.code.error().code(), ErrorCode::kInvalidArgument);
}

TEST_F(RuncExecutorTest, NonRootHasNoEffectiveCapabilities) {
  Outcome o = Sh("grep CapEff /proc/self/status", {.user = "nobody"});
  ASSERT_RAN(o);
  EXPECT_THAT(o.out, HasSubstr("0000000000000000"));
  Outcome root = Sh("grep -E 'CapEff|NoNewPrivs' /proc/self/status");
  ASSERT_RAN(root);
  EXPECT_THAT(root.out, HasSubstr("CapEff:\t00000000a80425fb"));
  EXPECT_THAT(root.out, HasSubstr("NoNewPrivs:\t1"));
}

TEST_F(RuncExecutorTest, NetworkNoneHasOnlyLoopback) {
  Outcome o = Run({.args = {"ls", "/sys/class/net"}, .network = Network::kNone});
  ASSERT_RAN(o);
  EXPECT_EQ(o.out, "lo\n");
  Outcome host = Run({.args = {"ls", "/sys/class/net"}});
  ASSERT_RAN(host);
  EXPECT_NE(host.out, "lo\n");  // the host's interfaces
}

TEST_F(RuncExecutorTest, HostFilesAndProcessesAreInvisible) {
  std::string marker = "/tmp/berth-executor-marker-" + std::to_string(::getpid());
  WriteFile(marker, "host secret");
  Outcome o = Sh("ls " + marker + " 2>&1; echo pid=$$; ls -d /proc/[0-9]* | wc -l");
  ::unlink(marker.c_str());
  ASSERT_RAN(o);
  EXPECT_THAT(o.out, HasSubstr("No such file"));
  EXPECT_THAT(o.out, HasSubstr("pid=1\n"));
  // sh, and ls or wc: the host's hundreds of processes are not there.
  int count = std::stoi(o.out.substr(o.out.rfind('\n', o.out.size() - 2) + 1));
  EXPECT_LE(count, 3) << o.out;
}

TEST_F(RuncExecutorTest, SysIsReadOnlyAndHostnameSet) {
  Outcome o = Sh("touch /sys/kernel/berth 2>&1; echo rc=$?; hostname; cat /etc/hosts",
                 {.hostname = "buildbox", .extra_hosts = {"db=10.1.2.3"}});
  ASSERT_RAN(o);
  EXPECT_THAT(o.out, HasSubstr("Read-only file system"));
  EXPECT_THAT(o.out, Not(HasSubstr("rc=0")));
  EXPECT_THAT(o.out, HasSubstr("buildbox\n"));
  EXPECT_THAT(o.out, HasSubstr("10.1.2.3\tdb"));
}

TEST_F(RuncExecutorTest, ContainerLivesInABerthCgroup) {
  Outcome o = Sh("cat /proc/self/cgroup");
  ASSERT_RAN(o);
  EXPECT_THAT(o.out, HasSubstr("/berth/berth-"));
}

TEST_F(RuncExecutorTest, CancellationKillsQuickly) {
  Context ctx = Context::Background().WithCancel();
  std::thread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ctx.Cancel("test");
  });
  auto start = std::chrono::steady_clock::now();
  Outcome o = Run({.args = {"sleep", "100"}}, rootfs(), ctx);
  auto took = std::chrono::steady_clock::now() - start;
  canceller.join();
  ASSERT_FALSE(o.code.ok());
  EXPECT_EQ(o.code.error().code(), ErrorCode::kCancelled);
  // Far below the 100 s the command would take (the bound only proves it was killed).
  EXPECT_LT(took, std::chrono::seconds(30));
}

TEST_F(RuncExecutorTest, CancelledBeforeStartDoesNotRun) {
  Context ctx = Context::Background().WithCancel();
  ctx.Cancel();
  Outcome o = Run({.args = {"true"}}, rootfs(), ctx);
  ASSERT_FALSE(o.code.ok());
  EXPECT_EQ(o.code.error().code(), ErrorCode::kCancelled);
}

TEST_F(RuncExecutorTest, BindMountsReadOnlyAndReadWrite) {
  TempDir host;
  WriteFile(host / "file", "from host");
  MakeDir(host / "rw");
  Outcome o = Sh("cat /in/file; echo; touch /in/new 2>&1; echo rc=$?; echo written > /out/f",
                 {.mounts = {{.source = host.path(), .dest = "/in", .readonly = true},
                             {.source = host / "rw", .dest = "/out"}}});
  ASSERT_RAN(o);
  EXPECT_THAT(o.out, HasSubstr("from host\n"));
  EXPECT_THAT(o.out, HasSubstr("Read-only file system"));
  EXPECT_THAT(o.out, Not(HasSubstr("rc=0")));
  EXPECT_FALSE(Exists(host / "new"));
  EXPECT_EQ(ReadFileOrEmpty(host / "rw/f"), "written\n");
  // The mount points runc had to create in the rootfs are gone again.
  EXPECT_FALSE(Exists(rootfs() + "/in"));
  EXPECT_FALSE(Exists(rootfs() + "/out"));
  EXPECT_FALSE(Exists(rootfs() + "/etc/hosts"));
  EXPECT_FALSE(Exists(rootfs() + "/etc/resolv.conf"));
}

TEST_F(RuncExecutorTest, TmpfsAndSecretFiles) {
  Outcome o =
      Sh("echo x > /scratch/f && cat /scratch/f; grep ' /scratch ' /proc/mounts | cut -d' ' -f3; "
         "cat /run/secrets/token; echo; stat -c '%a %u' /run/secrets/token",
         {.mounts = {{.type = MountSpec::Type::kTmpfs, .dest = "/scratch", .size = 1 << 20},
                     {.type = MountSpec::Type::kFile,
                      .dest = "/run/secrets/token",
                      .data = "s3cret",
                      .mode = 0400,
                      .uid = 0}}});
  ASSERT_RAN(o);
  EXPECT_EQ(o.out, "x\ntmpfs\ns3cret\n400 0\n");
  EXPECT_FALSE(Exists(rootfs() + "/run"));
  EXPECT_FALSE(Exists(rootfs() + "/scratch"));
}

TEST_F(RuncExecutorTest, LargeOutputArrivesWhole) {
  Outcome o = Sh("seq 1 200000; seq 1 1000 >&2");
  ASSERT_RAN(o);
  EXPECT_EQ(std::count(o.out.begin(), o.out.end(), '\n'), 200000);
  EXPECT_TRUE(o.out.ends_with("199999\n200000\n"));
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1000);
}

TEST_F(RuncExecutorTest, RuntimeFailureIsAnError) {
  Outcome o = Run({.args = {"/no/such/binary"}});
  ASSERT_FALSE(o.code.ok()) << *o.code;
  EXPECT_THAT(o.code.error().ToString(), HasSubstr("no such file"));
}

TEST_F(RuncExecutorTest, ConcurrentRuns) {
  std::vector<std::thread> threads;
  std::vector<Outcome> outcomes(4);
  // One rootfs each, as the engine mounts one snapshot per RUN (see RunSpec::rootfs).
  TempDir roots;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_EQ(
        archive::testing::Shell("cp -a '" + rootfs() + "' '" + (roots / std::to_string(i)) + "'"),
        0);
  }
  for (size_t i = 0; i < outcomes.size(); ++i) {
    threads.emplace_back([&, i] {
      outcomes[i] = Run({.args = {"echo", std::to_string(i)}}, roots / std::to_string(i));
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_RAN(outcomes[i]);
    EXPECT_EQ(outcomes[i].out, std::to_string(i) + "\n");
  }
}

TEST_F(RuncExecutorTest, RunsOnAnOverlaySnapshot) {
  std::string reason = snapshot::testing::OverlayUnavailableReason();
  if (!reason.empty()) {
    GTEST_SKIP() << reason;
  }
  Context ctx = Context::Background();
  TempDir dir;
  MakeDir(dir / "mnt");
  auto sn = snapshot::OverlaySnapshotter::Open(dir / "snapshots");
  ASSERT_TRUE(sn.ok()) << sn.error().ToString();
  snapshot::Snapshotter& s = **sn;

  // The base layer: the busybox tree.
  auto base = s.Prepare(ctx, "base-active", "");
  ASSERT_TRUE(base.ok());
  std::string base_fs = base->at(0).source;  // a bind mount of the layer directory
  {
    auto m = snapshot::MountAll(*base, dir / "mnt");
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    ASSERT_TRUE(testing::MakeBusyboxRootfs(dir / "mnt"));
    ASSERT_TRUE(m->Unmount().ok());
  }
  ASSERT_TRUE(s.Commit(ctx, "base", "base-active").ok());

  // RUN touch /newfile on top of it.
  auto run = s.Prepare(ctx, "run-active", "base");
  ASSERT_TRUE(run.ok());
  std::string upper;
  for (const std::string& o : run->at(0).options) {
    if (o.starts_with("upperdir=")) {
      upper = o.substr(9);
    }
  }
  ASSERT_FALSE(upper.empty());
  {
    auto m = snapshot::MountAll(*run, dir / "mnt");
    ASSERT_TRUE(m.ok()) << m.error().ToString();
    Outcome o = Run({.args = {"touch", "/newfile"}}, dir / "mnt");
    ASSERT_RAN(o);
    EXPECT_EQ(*o.code, 0);
    ASSERT_TRUE(m->Unmount().ok());
  }
  ASSERT_TRUE(s.Commit(ctx, "after", "run-active").ok());

  // The new file is in the new snapshot's diff; the mount points runc made (/etc/hosts,
  // /etc/resolv.conf) are not, and /etc, copied up to hold them, has its times back.
  EXPECT_TRUE(Exists(upper + "/newfile"));
  EXPECT_FALSE(Exists(upper + "/etc/hosts"));
  EXPECT_FALSE(Exists(upper + "/etc/resolv.conf"));
  if (Exists(upper + "/etc")) {
    struct stat up {};
    struct stat low {};
    ASSERT_EQ(::stat((upper + "/etc").c_str(), &up), 0);
    ASSERT_EQ(::stat((base_fs + "/etc").c_str(), &low), 0);
    EXPECT_EQ(up.st_mtim.tv_sec, low.st_mtim.tv_sec);
    EXPECT_EQ(up.st_mtim.tv_nsec, low.st_mtim.tv_nsec);
  }
  EXPECT_FALSE(Exists(base_fs + "/newfile"));
  auto view = s.View(ctx, "base-view", "base");
  ASSERT_TRUE(view.ok());
  {
    auto m = snapshot::MountAll(*view, dir / "mnt");
    ASSERT_TRUE(m.ok());
    EXPECT_FALSE(Exists(dir / "mnt/newfile"));
    EXPECT_TRUE(Exists(dir / "mnt/bin/busybox"));
  }
  auto after = s.View(ctx, "after-view", "after");
  ASSERT_TRUE(after.ok());
  {
    auto m = snapshot::MountAll(*after, dir / "mnt");
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(Exists(dir / "mnt/newfile"));
  }
}

}  // namespace
}  // namespace berth::executor
