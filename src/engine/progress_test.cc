#include "engine/progress.h"

#include <cstdio>
#include <string>

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

// A FILE* backed by memory, read back after the renderer is done.
class MemFile {
 public:
  MemFile() : f_(open_memstream(&buf_, &size_)) {}
  ~MemFile() {
    if (f_ != nullptr) {
      std::fclose(f_);
    }
    free(buf_);  // NOLINT(cppcoreguidelines-no-malloc)
  }
  FILE* get() { return f_; }
  std::string Text() {
    std::fflush(f_);
    return std::string(buf_, size_);
  }

 private:
  char* buf_ = nullptr;
  size_t size_ = 0;
  FILE* f_;
};

std::vector<StepUpdate> Script() {
  return {
      {.step = 1, .name = "[internal] load build context", .kind = StepUpdate::Kind::kDone},
      {.step = 2, .name = "[stage-0 2/3] COPY a b", .kind = StepUpdate::Kind::kCached},
      {.step = 3, .name = "[stage-0 3/3] RUN make", .kind = StepUpdate::Kind::kStarted},
      {.step = 3,
       .name = "[stage-0 3/3] RUN make",
       .kind = StepUpdate::Kind::kLog,
       .text = "cc x.c"},
      {.step = 3,
       .name = "[stage-0 3/3] RUN make",
       .kind = StepUpdate::Kind::kError,
       .seconds = 1.25,
       .text = "exit code: 2"},
  };
}

TEST(ProgressTest, PlainIsBuildKitsShape) {
  MemFile out;
  std::unique_ptr<Renderer> r = NewRenderer(ProgressMode::kPlain, out.get());
  for (const StepUpdate& u : Script()) {
    r->Update(u);
  }
  r->Finish();
  EXPECT_EQ(out.Text(),
            "#1 [internal] load build context\n#1 DONE 0.0s\n"
            "#2 [stage-0 2/3] COPY a b\n#2 CACHED\n"
            "#3 [stage-0 3/3] RUN make\n#3 cc x.c\n#3 ERROR: exit code: 2\n");
}

// Two targets of a bake on one renderer: names carry the target, numbers do not repeat.
TEST(ProgressTest, TargetsShareNumbersAndNameTheirSteps) {
  graph::Graph g;
  graph::Op src;
  src.op = graph::SourceOp{.identifier = "local://context", .attrs = {}};
  graph::VertexId ctx_id =
      g.Add(src, {.description = "load build context", .locations = {}}).value();
  graph::Op run;
  run.inputs = {graph::Ref{ctx_id, 0}};
  run.op = graph::ExecOp{.args = {"make"}};
  graph::VertexId run_id =
      g.Add(run, {.description = "[build 2/2] RUN make", .locations = {}}).value();
  MemFile out;
  std::unique_ptr<Renderer> r = NewRenderer(ProgressMode::kPlain, out.get());
  StepNumbers numbers;
  Progress app(g, r.get(), "app", &numbers);
  Progress web(g, r.get(), "web", &numbers);
  app.Event({.vertex = run_id, .kind = solver::VertexEvent::Kind::kStarted});
  web.Event({.vertex = run_id, .kind = solver::VertexEvent::Kind::kCached});
  web.Event({.vertex = ctx_id, .kind = solver::VertexEvent::Kind::kCached});
  app.Log(run_id, "ok");
  r->Finish();
  EXPECT_EQ(out.Text(),
            "#1 [app build 2/2] RUN make\n"
            "#2 [web build 2/2] RUN make\n#2 CACHED\n"
            "#3 [web] load build context\n#3 CACHED\n"
            "#1 ok\n");
}

TEST(ProgressTest, TargetRendererRenumbersAndNames) {
  MemFile out;
  std::unique_ptr<Renderer> shared = NewRenderer(ProgressMode::kPlain, out.get());
  StepNumbers numbers;
  std::unique_ptr<Renderer> app = NewTargetRenderer(*shared, "app", numbers);
  std::unique_ptr<Renderer> web = NewTargetRenderer(*shared, "web", numbers);
  app->Update({.step = 1, .name = "[2/2] RUN make", .kind = StepUpdate::Kind::kStarted});
  web->Update({.step = 1, .name = "load build context", .kind = StepUpdate::Kind::kCached});
  app->Update({.step = 1, .name = "[2/2] RUN make", .kind = StepUpdate::Kind::kDone});
  app->Finish();  // does not finish the shared renderer
  shared->Finish();
  EXPECT_EQ(out.Text(),
            "#1 [app 2/2] RUN make\n"
            "#2 [web] load build context\n#2 CACHED\n"
            "#1 DONE 0.0s\n");
}

// Steps carry the size of the layer they made (from the cache's record of the step's key);
// sources and failures carry none; the size survives the rawjson round trip.
TEST(ProgressTest, DoneAndCachedStepsCarryTheirLayerSize) {
  graph::Graph g;
  graph::Op run;
  run.op = graph::ExecOp{.args = {"make"}};
  graph::VertexId id = g.Add(run, {.description = "[2/2] RUN make", .locations = {}}).value();
  MemFile out;
  std::unique_ptr<Renderer> r = NewRenderer(ProgressMode::kJson, out.get());
  Progress p(g, r.get());
  p.set_layer_size([](const std::string& key) { return key == "k1" ? int64_t{4096} : 0; });
  p.Event({.vertex = id, .kind = solver::VertexEvent::Kind::kDone, .cache_key = "k1"});
  p.Event({.vertex = id, .kind = solver::VertexEvent::Kind::kCached, .cache_key = "k1"});
  p.Event(
      {.vertex = id, .kind = solver::VertexEvent::Kind::kFailed, .error = "x", .cache_key = "k1"});
  r->Finish();
  std::vector<StepUpdate> got;
  std::string text = out.Text();
  for (size_t pos = 0, end; (end = text.find('\n', pos)) != std::string::npos; pos = end + 1) {
    got.push_back(StepUpdateFromJson(text.substr(pos, end - pos)).value());
  }
  ASSERT_EQ(got.size(), 3U) << text;
  EXPECT_EQ(got[0].layer_size, 4096);
  EXPECT_EQ(got[1].layer_size, 4096);
  EXPECT_EQ(got[2].layer_size, 0);
}

TEST(ProgressTest, JsonRoundTrips) {
  MemFile out;
  std::unique_ptr<Renderer> r = NewRenderer(ProgressMode::kJson, out.get());
  for (const StepUpdate& u : Script()) {
    r->Update(u);
  }
  std::string text = out.Text();
  std::vector<StepUpdate> back;
  size_t pos = 0;
  for (size_t nl = text.find('\n'); nl != std::string::npos; nl = text.find('\n', pos)) {
    Result<StepUpdate> u = StepUpdateFromJson(std::string_view(text).substr(pos, nl - pos));
    ASSERT_TRUE(u.ok()) << u.error().ToString();
    back.push_back(*u);
    pos = nl + 1;
  }
  std::vector<StepUpdate> want = Script();
  ASSERT_EQ(back.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(back[i].step, want[i].step);
    EXPECT_EQ(back[i].name, want[i].name);
    EXPECT_EQ(back[i].kind, want[i].kind);
    EXPECT_EQ(back[i].text, want[i].text);
    EXPECT_DOUBLE_EQ(back[i].seconds, want[i].seconds);
  }
  EXPECT_FALSE(StepUpdateFromJson("{\"step\":0,\"kind\":\"log\"}").ok());
  EXPECT_FALSE(StepUpdateFromJson("{\"step\":1,\"kind\":\"exploded\"}").ok());
  EXPECT_FALSE(StepUpdateFromJson("not json").ok());
  // Output that is not UTF-8 still makes valid JSON.
  StepUpdate bad{.step = 1, .kind = StepUpdate::Kind::kLog, .text = "\xff\xfe"};
  EXPECT_TRUE(StepUpdateFromJson(ToJson(bad)).ok());
}

TEST(ProgressTest, TtyFinalScreenListsEveryStep) {
  MemFile out;
  std::unique_ptr<Renderer> r = NewRenderer(ProgressMode::kTty, out.get());
  for (const StepUpdate& u : Script()) {
    r->Update(u);
  }
  r->Finish();
  std::string text = out.Text();
  size_t final_frame = text.rfind("[+] Building");
  ASSERT_NE(final_frame, std::string::npos) << text;
  std::string last = text.substr(final_frame);
  EXPECT_NE(last.find("FINISHED"), std::string::npos) << last;
  EXPECT_NE(last.find(" => CACHED [stage-0 2/3] COPY a b"), std::string::npos) << last;
  EXPECT_NE(last.find(" => ERROR [stage-0 3/3] RUN make"), std::string::npos) << last;
  EXPECT_NE(last.find("1.2s"), std::string::npos) << last;
  // The failed step's last output lines stay on the final screen.
  EXPECT_NE(last.find(" => => # cc x.c"), std::string::npos) << last;
}

TEST(ProgressTest, Modes) {
  EXPECT_EQ(ParseProgressMode("plain", nullptr).value(), ProgressMode::kPlain);
  EXPECT_EQ(ParseProgressMode("tty", nullptr).value(), ProgressMode::kTty);
  EXPECT_EQ(ParseProgressMode("rawjson", nullptr).value(), ProgressMode::kJson);
  MemFile out;  // not a terminal
  EXPECT_EQ(ParseProgressMode("auto", out.get()).value(), ProgressMode::kPlain);
  Result<ProgressMode> bad = ParseProgressMode("fancy", nullptr);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().ToString().find("fancy"), std::string::npos);
}

}  // namespace
}  // namespace berth::engine
