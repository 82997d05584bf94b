// `berth bake` building for real (issue 7): targets of one bake file solve together, so a step
// they share runs once (read from the rawjson progress events), each target gets its own
// outputs, compose services become images in the store, and a `target:` context reads another
// target's image. Real runc and overlayfs, on the busybox base of build_fixture.h.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "build_fixture.h"
#include "os/file.h"

namespace berth::e2e {
namespace {

class BakeBuildE2eTest : public BuildE2eTest {
 protected:
  // Runs `berth bake ARGS` in `dir` (bake resolves contexts from the working directory).
  CmdResult Bake(const std::string& dir, const std::string& args) {
    std::string cmd = "cd " + Quote(dir) + " && env BERTH_ROOT=" + Quote(root_) + " " +
                      std::string(BERTH_BIN) + "/berth bake " + args + " </dev/null >" + dir_ +
                      "/bake.out 2>" + dir_ + "/bake.err";
    CmdResult r;
    r.exit_code = Sh(cmd);
    r.out = os::ReadFile(dir_ + "/bake.out").value_or("");
    r.err = os::ReadFile(dir_ + "/bake.err").value_or("");
    return r;
  }

  void Write(const std::string& path, const std::string& text) {
    ASSERT_EQ(Sh("mkdir -p " + Quote(path.substr(0, path.rfind('/')))), 0);
    ASSERT_TRUE(os::WriteFileAtomic(path, text).ok());
  }

  // The rawjson progress events (lines of stderr that parse as JSON objects).
  static std::vector<nlohmann::json> Events(const std::string& err) {
    std::vector<nlohmann::json> events;
    size_t pos = 0;
    while (pos < err.size()) {
      size_t end = err.find('\n', pos);
      if (end == std::string::npos) {
        end = err.size();
      }
      std::string line = err.substr(pos, end - pos);
      pos = end + 1;
      nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (j.is_object() && j.contains("kind")) {
        events.push_back(std::move(j));
      }
    }
    return events;
  }
};

constexpr const char* kSharedBase = R"DF(FROM busybox AS base
RUN echo shared-step && echo base > /base.txt

FROM base
ARG VARIANT
RUN echo "variant $VARIANT" > /variant.txt && cat /base.txt >> /variant.txt
CMD ["cat", "/variant.txt"]
)DF";

constexpr const char* kMatrixBake = R"HCL(
target "app" {
  name = "app-${v}"
  matrix = { v = ["a", "b", "c", "d"] }
  args = { VARIANT = v }
  output = ["type=local,dest=result-${v}"]
}
group "default" { targets = ["app"] }
)HCL";

TEST_F(BakeBuildE2eTest, MatrixOfFourBuildsTheSharedStepOnce) {
  std::string work = dir_ + "/matrix";
  Write(work + "/Dockerfile", kSharedBase);
  Write(work + "/docker-bake.hcl", kMatrixBake);
  CmdResult r = Bake(work, "--progress rawjson --metadata-file " + dir_ + "/meta.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;

  // Every target's step of the base stage is one vertex; it ran once, the others took it.
  std::map<std::string, int> shared;  // kind -> count
  std::map<std::string, int> variant_done;
  std::set<std::string> shared_vertices;
  for (const nlohmann::json& e : Events(r.err)) {
    std::string name = e.value("name", "");
    std::string kind = e.value("kind", "");
    if (name.find("echo shared-step") != std::string::npos && kind != "log") {
      ++shared[kind];
      shared_vertices.insert(e.value("vertex", ""));
    }
    if (name.find("echo \"variant") != std::string::npos && kind == "done") {
      ++variant_done[name.substr(1, name.find(' ') - 1)];
    }
  }
  EXPECT_EQ(shared["done"], 1) << r.err;
  EXPECT_EQ(shared["cached"], 3) << r.err;
  EXPECT_EQ(shared_vertices.size(), 1U);
  EXPECT_EQ(variant_done,
            (std::map<std::string, int>{{"app-a", 1}, {"app-b", 1}, {"app-c", 1}, {"app-d", 1}}))
      << r.err;

  // Each target wrote its own output.
  for (const std::string v : {"a", "b", "c", "d"}) {
    EXPECT_EQ(os::ReadFile(work + "/result-" + v + "/variant.txt").value_or(""),
              "variant " + v + "\nbase\n");
  }
  nlohmann::json meta =
      nlohmann::json::parse(os::ReadFile(dir_ + "/meta.json").value_or("{}"), nullptr, false);
  ASSERT_TRUE(meta.is_object());
  EXPECT_EQ(meta.size(), 4U) << meta.dump();
  EXPECT_TRUE(meta.contains("app-a"));

  // Again: everything cached, nothing ran.
  CmdResult again = Bake(work, "--progress rawjson");
  ASSERT_EQ(again.exit_code, 0) << again.err;
  for (const nlohmann::json& e : Events(again.err)) {
    if (!e.value("source", false)) {
      EXPECT_NE(e.value("kind", ""), "done") << e.dump();
    }
  }
}

TEST_F(BakeBuildE2eTest, ComposeServicesBecomeImages) {
  std::string work = dir_ + "/compose";
  Write(work + "/web/Dockerfile", "FROM busybox\nRUN echo web > /who\nCMD [\"cat\", \"/who\"]\n");
  Write(work + "/api/Dockerfile.api",
        "FROM busybox\nARG NAME\nRUN echo \"$NAME\" > /who\nCMD [\"cat\", \"/who\"]\n");
  Write(work + "/compose.yaml", R"Y(services:
  web:
    build: ./web
    image: example/web:1
  api:
    build:
      context: ./api
      dockerfile: Dockerfile.api
      args:
        NAME: the-api
    image: example/api:1
  db:
    image: postgres:16
)Y");
  CmdResult r = Bake(work, "--progress plain --metadata-file " + dir_ + "/meta.json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("[web "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[api "), std::string::npos) << r.err;
  CmdResult ls = Berth("image ls");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_NE(ls.out.find("example/web"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("example/api"), std::string::npos) << ls.out;
  nlohmann::json meta =
      nlohmann::json::parse(os::ReadFile(dir_ + "/meta.json").value_or("{}"), nullptr, false);
  ASSERT_TRUE(meta.is_object());
  EXPECT_EQ(meta.size(), 2U) << meta.dump();  // db has no build
  EXPECT_TRUE(meta["api"].value("containerimage.digest", "").starts_with("sha256:"));
  EXPECT_EQ(meta["web"].value("image.name", ""), "docker.io/example/web:1");

  // The api image holds what its build argument said.
  ASSERT_EQ(Berth("image unpack example/api:1 " + dir_ + "/api-root").exit_code, 0);
  EXPECT_EQ(os::ReadFile(dir_ + "/api-root/who").value_or(""), "the-api\n");
}

TEST_F(BakeBuildE2eTest, TargetContextReadsAnotherTargetsImage) {
  std::string work = dir_ + "/linked";
  Write(work + "/docker-bake.hcl", R"HCL(
target "base" {
  dockerfile-inline = "FROM busybox\nRUN echo from-base > /b.txt\n"
}
target "app" {
  contexts = { base = "target:base" }
  dockerfile-inline = "FROM base\nRUN cat /b.txt > /a.txt\n"
  output = ["type=local,dest=out-app"]
}
)HCL");
  CmdResult r = Bake(work, "--progress plain app");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(os::ReadFile(work + "/out-app/a.txt").value_or(""), "from-base\n");
  // base was built only as app's context: no image of it was named.
  CmdResult ls = Berth("image ls");
  EXPECT_EQ(ls.out.find("base"), std::string::npos) << ls.out;
}

TEST_F(BakeBuildE2eTest, AFailingTargetFailsTheBakeAndNamesIt) {
  std::string work = dir_ + "/failing";
  Write(work + "/docker-bake.hcl", R"HCL(
group "default" { targets = ["good", "bad"] }
target "good" { dockerfile-inline = "FROM busybox\nRUN sleep 2 && echo good\n" }
target "bad" { dockerfile-inline = "FROM busybox\nRUN exit 3\n" }
)HCL");
  CmdResult r = Bake(work, "--progress plain");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("error: target bad"), std::string::npos) << r.err;
  // Unsupported attributes are named, not silently dropped.
  Write(work + "/docker-bake.hcl", R"HCL(
target "default" {
  dockerfile-inline = "FROM busybox\n"
  platforms = ["linux/s390x"]
}
)HCL");
  CmdResult platform = Bake(work, "");
  EXPECT_EQ(platform.exit_code, 2) << platform.err;
  EXPECT_NE(platform.err.find("target default"), std::string::npos) << platform.err;
  EXPECT_NE(platform.err.find("linux/s390x"), std::string::npos) << platform.err;
}

}  // namespace
}  // namespace berth::e2e
