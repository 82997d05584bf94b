// The builder with real parts: a SQLite metastore, a busybox base imported into the builder's
// root, builds in runc on overlayfs. Checks the build records (status, steps, lines, cached,
// first miss, logs), per-project caches, failures and cancellation.
#include "service/builder.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>

#include "images/import.h"
#include "images/root.h"
#include "os/file.h"

namespace berth::service {
namespace {

int Sh(const std::string& command) {
  int status = std::system(command.c_str());  // NOLINT(concurrency-mt-unsafe)
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(geteuid(), 0u) << "the builder needs root (overlayfs, runc)";
    char tmpl[] = "/tmp/berth-builder-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_EQ(Sh(std::string(BERTH_SOURCE_DIR) + "/scripts/make-busybox-rootfs " + dir_ +
                 "/rootfs >/dev/null"),
              0);
    Context ctx = Context::Background();
    {
      Result<std::unique_ptr<images::Root>> root = images::Root::Open(dir_ + "/root");
      ASSERT_TRUE(root.ok()) << root.error().ToString();
      Result<images::ImportResult> imported = images::Import(
          ctx, (*root)->content(), (*root)->images(), dir_ + "/rootfs", "busybox:latest");
      ASSERT_TRUE(imported.ok()) << imported.error().ToString();
    }
    Result<std::unique_ptr<metastore::Store>> store =
        metastore::Open("sqlite://" + dir_ + "/berthd.db");
    ASSERT_TRUE(store.ok());
    store_ = std::move(*store);
    org_ = store_->CreateOrganization(ctx, "o").value().id;
    project_a_ = store_->CreateProject(ctx, {.org_id = org_, .name = "a"}).value();
    project_b_ = store_->CreateProject(ctx, {.org_id = org_, .name = "b"}).value();
    builder_ = std::make_unique<Builder>(*store_, Builder::Options{.root = dir_ + "/root"});
    ASSERT_EQ(Sh("mkdir -p " + dir_ + "/ctx && echo data > " + dir_ + "/ctx/f.txt"), 0);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      Sh("grep -o '" + dir_ + "[^ ]*' /proc/self/mounts | sort -r | xargs -r umount -l");
      Sh("rm -rf '" + dir_ + "'");
    }
  }

  // Runs a build of `dockerfile` in `project`; the build's id.
  std::string RunBuild(const metastore::Project& project, const std::string& dockerfile,
                       Result<engine::BuildResult>* out = nullptr,
                       const Context& ctx = Context::Background()) {
    metastore::Build b = store_
                             ->CreateBuild(Context::Background(), {.project_id = project.id,
                                                                   .options_json = "{}",
                                                                   .dockerfile = dockerfile})
                             .value();
    engine::BuildOptions options;
    options.context = dir_ + "/ctx";
    options.dockerfile_text = dockerfile;
    Result<engine::BuildResult> r = builder_->Run(ctx, project, b.id, options, nullptr);
    if (out != nullptr) {
      *out = std::move(r);
    }
    return b.id;
  }

  std::vector<metastore::BuildStep> Steps(const std::string& build) {
    return store_->ListBuildSteps(Context::Background(), build).value();
  }

  std::string dir_;
  std::string org_;
  std::unique_ptr<metastore::Store> store_;
  metastore::Project project_a_, project_b_;
  std::unique_ptr<Builder> builder_;
};

constexpr const char* kDockerfile =
    "FROM busybox\nCOPY f.txt /f.txt\nRUN echo building-now && cat /f.txt\n";

TEST_F(BuilderTest, RecordsStepsCacheAndFirstMiss) {
  Result<engine::BuildResult> first = Error::Internal("unset");
  std::string id = RunBuild(project_a_, kDockerfile, &first);
  ASSERT_TRUE(first.ok()) << first.error().ToString();
  metastore::Build b = store_->GetBuild(Context::Background(), id).value();
  EXPECT_EQ(b.status, metastore::BuildStatus::kSuccess);
  EXPECT_TRUE(b.started_at && b.finished_at);
  EXPECT_FALSE(b.first_miss_step.empty());
  std::vector<metastore::BuildStep> steps = Steps(id);
  bool saw_run = false;
  for (const metastore::BuildStep& s : steps) {
    if (s.name.find("RUN echo building-now") != std::string::npos) {
      saw_run = true;
      EXPECT_EQ(s.line, 3);
      EXPECT_FALSE(s.cached);
      EXPECT_NE(s.log.find("building-now"), std::string::npos) << s.log;
      EXPECT_NE(s.log.find("data"), std::string::npos) << s.log;
      EXPECT_GT(s.duration.count(), 0);
    }
  }
  EXPECT_TRUE(saw_run);

  // The same build again in the same project: every step cached, no first miss.
  std::string again = RunBuild(project_a_, kDockerfile);
  metastore::Build b2 = store_->GetBuild(Context::Background(), again).value();
  EXPECT_EQ(b2.status, metastore::BuildStatus::kSuccess);
  EXPECT_TRUE(b2.first_miss_step.empty()) << b2.first_miss_step;
  for (const metastore::BuildStep& s : Steps(again)) {
    if (s.line > 1) {
      EXPECT_TRUE(s.cached) << s.name;
    }
  }

  // Another project does not see project a's cache.
  std::string other = RunBuild(project_b_, kDockerfile);
  bool ran = false;
  for (const metastore::BuildStep& s : Steps(other)) {
    ran = ran || (s.line == 3 && !s.cached);
  }
  EXPECT_TRUE(ran);
}

TEST_F(BuilderTest, FailureAndCancellationAreRecorded) {
  Result<engine::BuildResult> failed = Error::Internal("unset");
  std::string id =
      RunBuild(project_a_, "FROM busybox\nRUN echo about-to-fail && exit 3\n", &failed);
  ASSERT_FALSE(failed.ok());
  metastore::Build b = store_->GetBuild(Context::Background(), id).value();
  EXPECT_EQ(b.status, metastore::BuildStatus::kFailed);
  EXPECT_NE(b.error_message.find("exit code: 3"), std::string::npos) << b.error_message;
  bool logged = false;
  for (const metastore::BuildStep& s : Steps(id)) {
    logged = logged || s.log.find("about-to-fail") != std::string::npos;
  }
  EXPECT_TRUE(logged);

  Context ctx = Context::Background().WithCancel();
  std::thread canceller([ctx] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    ctx.Cancel("client went away");
  });
  Result<engine::BuildResult> cancelled = Error::Internal("unset");
  std::string slow = RunBuild(project_a_, "FROM busybox\nRUN sleep 30\n", &cancelled, ctx);
  canceller.join();
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(store_->GetBuild(Context::Background(), slow).value().status,
            metastore::BuildStatus::kCanceled);
}

}  // namespace
}  // namespace berth::service
