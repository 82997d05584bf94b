// A tour of Dockerfile features through `berth build`, checked in the result's files: multi-stage
// with --target (unreached stages never run), global ARG in FROM, ARG/ENV scoping between
// stages, heredocs (RUN and COPY), cache mounts persisting across builds, tmpfs mounts, and the
// COPY flags --chown, --chmod, --exclude, --parents, --link and --from.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include "build_fixture.h"

namespace berth::e2e {
namespace {

constexpr const char* kTour = R"DF(ARG BASE=busybox
FROM ${BASE} AS build
ARG GREETING=hello
ENV STAGE=build
WORKDIR /src
COPY --chmod=0755 <<'EOF' /src/run.sh
#!/bin/sh
echo "script says $1"
EOF
RUN <<EOF
set -e
mkdir -p /out
echo "$GREETING from $STAGE" > /out/greeting.txt
EOF
RUN --mount=type=cache,target=/cache echo run >> /cache/count && wc -l < /cache/count | tr -d ' ' > /out/cache-count
RUN --mount=type=tmpfs,target=/scratch echo t > /scratch/f && cat /scratch/f > /out/tmpfs && grep -q ' /scratch tmpfs ' /proc/mounts && echo tmpfs-ok >> /out/tmpfs
COPY --chown=1234:5678 files/ /out/owned/
COPY --exclude=*.log files/ /out/filtered/
COPY --parents files/a/b.txt /out/parents/

FROM busybox AS final
COPY --from=build /out/ /result/
COPY --link --from=build /src/run.sh /usr/local/bin/run.sh
RUN echo "stage=[${STAGE}]" > /result/scope.txt
CMD ["/usr/local/bin/run.sh", "x"]

FROM busybox AS other
RUN echo other-stage-ran > /other.txt
)DF";

class BuildFeaturesE2eTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", kTour).ok());
    ASSERT_EQ(Sh("cd " + dir_ +
                 "/ctx && mkdir -p files/a && echo b > files/a/b.txt && echo k > "
                 "files/keep.txt && echo l > files/x.log"),
              0);
  }
  std::string Read(const std::string& rel) {
    return os::ReadFile(dir_ + "/fs/" + rel).value_or("");
  }
};

TEST_F(BuildFeaturesE2eTest, DockerfileTour) {
  CmdResult built = Berth(
      "build --progress plain --target final --build-arg GREETING=hi -o "
      "type=local,dest=" +
      dir_ + "/fs " + dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  EXPECT_EQ(built.err.find("other-stage-ran"), std::string::npos) << built.err;
  EXPECT_FALSE(os::Exists(dir_ + "/fs/other.txt"));

  EXPECT_EQ(Read("result/greeting.txt"), "hi from build\n");
  EXPECT_EQ(Read("result/scope.txt"), "stage=[]\n");  // ENV does not cross stages
  EXPECT_EQ(Read("result/cache-count"), "1\n");
  EXPECT_EQ(Read("result/tmpfs"), "t\ntmpfs-ok\n");
  EXPECT_FALSE(os::Exists(dir_ + "/fs/scratch/f"));  // tmpfs contents never reach a layer

  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/fs/result/owned/keep.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 5678u);
  EXPECT_TRUE(os::Exists(dir_ + "/fs/result/filtered/keep.txt"));
  EXPECT_FALSE(os::Exists(dir_ + "/fs/result/filtered/x.log"));
  EXPECT_EQ(Read("result/parents/files/a/b.txt"), "b\n");
  ASSERT_EQ(stat((dir_ + "/fs/usr/local/bin/run.sh").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  EXPECT_EQ(Read("usr/local/bin/run.sh"), "#!/bin/sh\necho \"script says $1\"\n");

  // The cache mount persists: a rebuild that reruns the step sees the first run's file.
  CmdResult again = Berth(
      "build --no-cache --target final --build-arg GREETING=hi -o "
      "type=local,dest=" +
      dir_ + "/fs2 " + dir_ + "/ctx");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(os::ReadFile(dir_ + "/fs2/result/cache-count").value_or(""), "2\n");

  // A changed build arg reruns from its first use: the WORKDIR and heredoc COPY before it stay
  // cached, the RUN that reads it runs again.
  CmdResult changed =
      Berth("build --progress plain --target final --build-arg GREETING=bye " + dir_ + "/ctx");
  ASSERT_EQ(changed.exit_code, 0) << changed.err;
  std::string copy_state, run_state;
  for (const auto& [step, state] : Steps(changed.err)) {
    if (step.find("COPY --chmod=0755 <<'EOF'") != std::string::npos) {
      copy_state = state;
    }
    if (step.find("RUN <<EOF") != std::string::npos) {
      run_state = state;
    }
  }
  EXPECT_EQ(copy_state, "CACHED") << changed.err;
  EXPECT_EQ(run_state.substr(0, 4), "DONE") << changed.err;

  // The other stage is buildable on its own.
  CmdResult other = Berth("build --progress plain --target other " + dir_ + "/ctx");
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ(other.err.find("[build "), std::string::npos) << other.err;
}

}  // namespace
}  // namespace berth::e2e
