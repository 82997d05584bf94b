#include "graph/graph.h"

#include <gtest/gtest.h>

namespace berth::graph {
namespace {

Op Image(const std::string& ref) {
  Op op;
  op.platform = {"linux", "amd64", ""};
  op.op = SourceOp{"docker-image://" + ref, {}};
  return op;
}

Op ExecOn(Ref root, std::vector<std::string> args) {
  Op op;
  op.inputs = {root};
  op.platform = {"linux", "amd64", ""};
  ExecOp exec;
  exec.args = std::move(args);
  Mount rootfs;
  rootfs.input = 0;
  rootfs.dest = "/";
  rootfs.output = 0;
  exec.mounts.push_back(rootfs);
  op.op = exec;
  return op;
}

TEST(GraphTest, IdenticalOpsDeduplicateAndMergeMetadata) {
  Graph g;
  VertexId a =
      g.Add(Image("busybox"), {.description = "a", .locations = {{"Dockerfile", 1, 1}}}).value();
  VertexId b =
      g.Add(Image("busybox"), {.description = "b", .locations = {{"Dockerfile", 5, 5}}}).value();
  EXPECT_EQ(a, b);
  EXPECT_EQ(g.vertices().size(), 1u);
  EXPECT_EQ(g.vertex(a).metadata.locations.size(), 2u);
}

TEST(GraphTest, DigestsChainThroughInputs) {
  Graph g1;
  Graph g2;
  VertexId base1 = g1.Add(Image("busybox:1"), {}).value();
  VertexId base2 = g2.Add(Image("busybox:2"), {}).value();
  VertexId run1 = g1.Add(ExecOn({base1, 0}, {"sh", "-c", "true"}), {}).value();
  VertexId run2 = g2.Add(ExecOn({base2, 0}, {"sh", "-c", "true"}), {}).value();
  // Same exec op, different input: different digest.
  EXPECT_NE(g1.vertex(run1).digest, g2.vertex(run2).digest);
  // Metadata does not enter the digest.
  Graph g3;
  VertexId base3 = g3.Add(Image("busybox:1"), {.description = "other"}).value();
  VertexId run3 = g3.Add(ExecOn({base3, 0}, {"sh", "-c", "true"}), {.description = "x"}).value();
  EXPECT_EQ(g1.vertex(run1).digest, g3.vertex(run3).digest);
}

TEST(GraphTest, AnyFieldChangesDigest) {
  Graph g;
  VertexId base = g.Add(Image("busybox"), {}).value();
  Op run = ExecOn({base, 0}, {"true"});
  digest::Digest d0 = digest::FromBytes(g.CanonicalBytes(run));
  std::get<ExecOp>(run.op).env.push_back("A=1");
  digest::Digest d1 = digest::FromBytes(g.CanonicalBytes(run));
  std::get<ExecOp>(run.op).mounts[0].readonly = true;
  digest::Digest d2 = digest::FromBytes(g.CanonicalBytes(run));
  run.platform.architecture = "arm64";
  digest::Digest d3 = digest::FromBytes(g.CanonicalBytes(run));
  EXPECT_NE(d0, d1);
  EXPECT_NE(d1, d2);
  EXPECT_NE(d2, d3);
}

TEST(GraphTest, RejectsUnknownInput) {
  Graph g;
  EXPECT_FALSE(g.Add(ExecOn({7, 0}, {"true"}), {}).ok());
}

TEST(GraphTest, ClosureIsTopological) {
  Graph g;
  VertexId unrelated = g.Add(Image("alpine"), {}).value();
  VertexId base = g.Add(Image("busybox"), {}).value();
  VertexId run = g.Add(ExecOn({base, 0}, {"true"}), {}).value();
  std::vector<VertexId> closure = g.Closure({run, 0});
  EXPECT_EQ(closure, (std::vector<VertexId>{base, run}));
  EXPECT_EQ(g.ToJson(Ref{run, 0}).find("alpine"), std::string::npos);
  EXPECT_NE(g.ToJson().find("alpine"), std::string::npos);
  (void)unrelated;
}

}  // namespace
}  // namespace berth::graph

namespace berth::graph {
namespace {

TEST(PlatformTest, ParseAndNormalise) {
  EXPECT_EQ(ParsePlatform("linux/amd64")->ToString(), "linux/amd64");
  EXPECT_EQ(ParsePlatform("linux/x86_64")->ToString(), "linux/amd64");
  EXPECT_EQ(ParsePlatform("linux/arm64/v8").value(), ParsePlatform("linux/arm64").value());
  EXPECT_EQ(ParsePlatform("linux/arm")->ToString(), "linux/arm/v7");
  EXPECT_EQ(ParsePlatform("arm64")->ToString(), "linux/arm64");
  EXPECT_FALSE(ParsePlatform("linux//amd64").ok());
  EXPECT_FALSE(ParsePlatform("a/b/c/d").ok());
  EXPECT_FALSE(ParsePlatform("").ok());
  EXPECT_EQ(HostPlatform().os, "linux");
}

}  // namespace
}  // namespace berth::graph

namespace berth::graph {
namespace {

TEST(CanonicalTest, DistinctBytesDistinctDigestsAndDisplayable) {
  Graph g;
  Op a;
  a.op = SourceOp{"docker-image://x", {{"k", "v\"\\\n"}}};
  Op b = a;
  std::get<SourceOp>(a.op).attrs["bad"] = "\xff";
  std::get<SourceOp>(b.op).attrs["bad"] = "\xfe";
  EXPECT_NE(g.CanonicalBytes(a), g.CanonicalBytes(b));
  VertexId id = g.Add(a, {}).value();
  std::string json = g.ToJson(Ref{id, 0});
  EXPECT_NE(json.find("docker-image://x"), std::string::npos);
  Op c;
  c.op = SourceOp{"plain", {}};
  EXPECT_EQ(g.CanonicalBytes(c),
            R"({"inputs":[],"kind":"source","op":{"attrs":{},"identifier":"plain"},)"
            R"("platform":{"architecture":"","os":"","variant":""}})");
}

}  // namespace
}  // namespace berth::graph
