#include "frontend/dockerfile/convert/convert.h"

#include <algorithm>

#include <gtest/gtest.h>

namespace berth::frontend::dockerfile::convert {
namespace {

using graph::ExecOp;
using graph::FileOp;
using graph::SourceOp;

Options Opts() {
  Options o;
  o.build_platform = graph::Platform{"linux", "amd64", ""};
  return o;
}

ConvertResult Must(std::string_view df, const Options& o = Opts()) {
  Result<ConvertResult> r = Convert(df, o);
  EXPECT_TRUE(r.ok()) << r.error().ToString();
  return r.ok() ? std::move(r).value() : ConvertResult{};
}

std::string ErrorOf(std::string_view df, const Options& o = Opts()) {
  Result<ConvertResult> r = Convert(df, o);
  return r.ok() ? "" : r.error().ToString();
}

// The vertices of the target's closure, for inspection.
std::vector<const graph::Vertex*> Closure(const ConvertResult& r) {
  std::vector<const graph::Vertex*> out;
  for (graph::VertexId id : r.graph.Closure(r.target)) {
    out.push_back(&r.graph.vertex(id));
  }
  return out;
}

std::vector<const ExecOp*> Execs(const ConvertResult& r) {
  std::vector<const ExecOp*> out;
  for (const graph::Vertex* v : Closure(r)) {
    if (const auto* e = std::get_if<ExecOp>(&v->op.op)) {
      out.push_back(e);
    }
  }
  return out;
}

std::vector<std::string> Sources(const ConvertResult& r) {
  std::vector<std::string> out;
  for (const graph::Vertex* v : Closure(r)) {
    if (const auto* s = std::get_if<SourceOp>(&v->op.op)) {
      out.push_back(s->identifier);
    }
  }
  return out;
}

TEST(ConvertTest, SingleStage) {
  ConvertResult r = Must(
      "FROM busybox\nENV A=1 B=$A\nWORKDIR /app\nRUN echo $B > out\nCOPY src/ ./src/\n"
      "USER nobody\nCMD [\"cat\", \"out\"]\nEXPOSE 80 53/udp\nLABEL k=v\n");
  EXPECT_EQ(Sources(r), (std::vector<std::string>{"docker-image://docker.io/library/busybox:latest",
                                                  "local://context"}));
  std::vector<const ExecOp*> execs = Execs(r);
  ASSERT_EQ(execs.size(), 1u);
  EXPECT_EQ(execs[0]->args, (std::vector<std::string>{"/bin/sh", "-c", "echo $B > out"}));
  EXPECT_EQ(execs[0]->cwd, "/app");
  EXPECT_NE(std::find(execs[0]->env.begin(), execs[0]->env.end(), "B=1"), execs[0]->env.end());
  EXPECT_EQ(r.config.working_dir, "/app");
  EXPECT_EQ(r.config.user, "nobody");
  EXPECT_EQ(r.config.cmd, (std::vector<std::string>{"cat", "out"}));
  EXPECT_EQ(r.config.exposed_ports, (std::vector<std::string>{"53/udp", "80/tcp"}));
  EXPECT_EQ(r.config.labels.at("k"), "v");
  // The copy lands relative to WORKDIR.
  bool found_copy = false;
  for (const graph::Vertex* v : Closure(r)) {
    if (const auto* f = std::get_if<FileOp>(&v->op.op)) {
      for (const auto& a : f->actions) {
        if (const auto* c = std::get_if<graph::CopyAction>(&a)) {
          EXPECT_EQ(c->dest, "/app/src/");
          EXPECT_EQ(c->src, "/src/");
          found_copy = true;
        }
      }
    }
  }
  EXPECT_TRUE(found_copy);
  EXPECT_EQ(r.graph.vertex(r.target.vertex).metadata.locations[0].start_line, 5);
}

TEST(ConvertTest, SameInputSameDigestAndChangesPropagate) {
  const char* df = "FROM busybox\nARG V=1\nRUN echo $V\nRUN echo done\n";
  ConvertResult a = Must(df);
  ConvertResult b = Must(df);
  EXPECT_EQ(a.graph.vertex(a.target.vertex).digest, b.graph.vertex(b.target.vertex).digest);
  Options o = Opts();
  o.build_args["V"] = "2";
  ConvertResult c = Must(df, o);
  EXPECT_NE(a.graph.vertex(a.target.vertex).digest, c.graph.vertex(c.target.vertex).digest);
}

TEST(ConvertTest, OnlyReachableStagesAndTarget) {
  const char* df =
      "FROM busybox AS base\nRUN echo base\n"
      "FROM alpine AS unused\nRUN echo unused\n"
      "FROM base AS build\nRUN echo build\n"
      "FROM scratch\nCOPY --from=build /out /out\n";
  ConvertResult r = Must(df);
  std::vector<std::string> sources = Sources(r);
  EXPECT_EQ(sources, (std::vector<std::string>{"docker-image://docker.io/library/busybox:latest"}));
  EXPECT_EQ(Execs(r).size(), 2u);
  for (const StageInfo& s : r.stages) {
    EXPECT_NE(s.name, "unused");
  }
  Options o = Opts();
  o.target = "UNUSED";
  ConvertResult u = Must(df, o);
  EXPECT_EQ(Sources(u),
            (std::vector<std::string>{"docker-image://docker.io/library/alpine:latest"}));
  o.target = "nope";
  EXPECT_NE(ErrorOf(df, o).find("target stage \"nope\" could not be found"), std::string::npos);
}

TEST(ConvertTest, GlobalArgsInFrom) {
  Options o = Opts();
  o.build_args["TAG"] = "1.36";
  ConvertResult r =
      Must("ARG TAG=latest\nARG IMG=busybox:${TAG}\nFROM $IMG\nARG TAG\nRUN echo $TAG\n", o);
  EXPECT_EQ(Sources(r),
            (std::vector<std::string>{"docker-image://docker.io/library/busybox:1.36"}));
  ASSERT_EQ(Execs(r).size(), 1u);
  const auto& env = Execs(r)[0]->env;
  EXPECT_NE(std::find(env.begin(), env.end(), "TAG=1.36"), env.end());
  // A global ARG is not visible in a stage that does not redeclare it.
  ConvertResult r2 = Must("ARG X=1\nFROM busybox\nRUN echo $X\n");
  for (const std::string& e : Execs(r2)[0]->env) {
    EXPECT_NE(e, "X=1");
  }
}

TEST(ConvertTest, PlatformArgs) {
  Options o = Opts();
  o.target_platform = graph::Platform{"linux", "arm64", ""};
  ConvertResult r =
      Must("FROM --platform=$BUILDPLATFORM busybox\nARG TARGETARCH\nRUN echo $TARGETARCH\n", o);
  EXPECT_EQ(r.graph.vertex(r.target.vertex).op.platform.architecture, "amd64");
  const auto& env = Execs(r)[0]->env;
  EXPECT_NE(std::find(env.begin(), env.end(), "TARGETARCH=arm64"), env.end());
}

TEST(ConvertTest, UnusedBuildArgWarns) {
  Options o = Opts();
  o.build_args["NOPE"] = "1";
  ConvertResult r = Must("FROM busybox\n", o);
  ASSERT_FALSE(r.warnings.empty());
  EXPECT_NE(r.warnings.back().message.find("NOPE"), std::string::npos);
}

TEST(ConvertTest, Mounts) {
  ConvertResult r = Must(
      "FROM busybox AS deps\nRUN echo\nFROM busybox\n"
      "RUN --mount=type=cache,target=/cache --mount=type=secret,id=tok "
      "--mount=type=bind,from=deps,source=/etc,target=/deps --mount=type=tmpfs,target=/t "
      "--mount=type=ssh --network=none cat /run/secrets/tok\n");
  std::vector<const ExecOp*> execs = Execs(r);
  const ExecOp* run = execs.back();
  ASSERT_EQ(run->mounts.size(), 6u);
  EXPECT_EQ(run->mounts[1].type, graph::MountType::kCache);
  EXPECT_EQ(run->mounts[1].cache_id, "/cache");
  EXPECT_EQ(run->mounts[2].secret_id, "tok");
  EXPECT_EQ(run->mounts[3].dest, "/deps");
  EXPECT_TRUE(run->mounts[3].input.has_value());
  EXPECT_EQ(run->network, graph::NetworkMode::kNone);
  EXPECT_EQ(r.secrets, (std::vector<std::string>{"tok"}));
  EXPECT_EQ(r.ssh, (std::vector<std::string>{"default"}));
  EXPECT_NE(ErrorOf("FROM busybox\nRUN --mount=type=cache,target=/x,bogus=1 true\n")
                .find("Dockerfile:2: RUN: --mount=type=cache,target=/x,bogus=1: unexpected key"),
            std::string::npos);
}

TEST(ConvertTest, CopyLinkBecomesMerge) {
  ConvertResult r = Must("FROM busybox\nCOPY --link a /a\n");
  const graph::Vertex& top = r.graph.vertex(r.target.vertex);
  EXPECT_TRUE(std::holds_alternative<graph::MergeOp>(top.op.op));
  ASSERT_EQ(top.op.inputs.size(), 2u);
  // The copied layer does not depend on the base.
  const graph::Vertex& copied = r.graph.vertex(top.op.inputs[1].vertex);
  EXPECT_TRUE(copied.op.inputs[0].scratch());
}

TEST(ConvertTest, CopyFlagsAndHeredoc) {
  ConvertResult r = Must(
      "FROM busybox\nCOPY --chown=app:app --chmod=0640 --exclude=*.md --parents a/b c/ /dst/\n"
      "COPY <<EOF /etc/conf\nname=$HOSTNAME\nEOF\n");
  int copies = 0;
  int mkfiles = 0;
  for (const graph::Vertex* v : Closure(r)) {
    if (const auto* f = std::get_if<FileOp>(&v->op.op)) {
      for (const auto& a : f->actions) {
        if (const auto* c = std::get_if<graph::CopyAction>(&a)) {
          ++copies;
          EXPECT_EQ(c->chown->user, "app");
          EXPECT_EQ(c->chmod, "0640");
          EXPECT_TRUE(c->parents);
          EXPECT_EQ(c->exclude_patterns, (std::vector<std::string>{"*.md"}));
        }
        if (const auto* m = std::get_if<graph::MkfileAction>(&a)) {
          ++mkfiles;
          EXPECT_EQ(m->path, "/etc/conf");
          EXPECT_EQ(m->data, "name=\n");
        }
      }
    }
  }
  EXPECT_EQ(copies, 2);
  EXPECT_EQ(mkfiles, 1);
  EXPECT_NE(ErrorOf("FROM busybox\nCOPY a b /dst\n").find("must be a directory"),
            std::string::npos);
  EXPECT_NE(ErrorOf("FROM busybox\nCOPY --chmod=abc a /dst\n").find("invalid chmod"),
            std::string::npos);
}

TEST(ConvertTest, AddSources) {
  ConvertResult r = Must(
      "FROM busybox\nADD --checksum=sha256:" + std::string(64, 'a') +
      " https://example.com/f.tar.gz /x/\nADD https://github.com/moby/buildkit.git#v0.12 /src\n"
      "ADD local.tar /y/\n");
  std::vector<std::string> sources = Sources(r);
  EXPECT_NE(std::find(sources.begin(), sources.end(), "https://example.com/f.tar.gz"),
            sources.end());
  EXPECT_NE(std::find(sources.begin(), sources.end(), "git://https://github.com/moby/buildkit.git"),
            sources.end());
  bool ref_attr = false;
  for (const graph::Vertex* v : Closure(r)) {
    const auto* s = std::get_if<SourceOp>(&v->op.op);
    if (s != nullptr && s->identifier.rfind("git://", 0) == 0) {
      ref_attr = s->attrs.count("ref") != 0 && s->attrs.at("ref") == "v0.12";
    }
  }
  EXPECT_TRUE(ref_attr);
  // The legacy "github.com/x/y" form is a local path, and a malformed git ref is an error.
  EXPECT_EQ(ErrorOf("FROM busybox\nADD github.com/moby/buildkit /src\n"), "");
  EXPECT_NE(ErrorOf("FROM busybox\nADD --checksum=sha256:abc local /x\n").find("--checksum"),
            std::string::npos);
}

TEST(ConvertTest, RunHeredocs) {
  ConvertResult r = Must("FROM busybox\nRUN <<EOF\necho hi\nEOF\n");
  EXPECT_EQ(Execs(r)[0]->args, (std::vector<std::string>{"/bin/sh", "-c", "echo hi\n"}));
  ConvertResult s = Must("FROM busybox\nRUN <<EOF\n#!/bin/sh\necho hi\nEOF\n");
  EXPECT_EQ(Execs(s)[0]->args, (std::vector<std::string>{"/dev/pipes/EOF"}));
  ConvertResult t = Must("FROM busybox\nRUN cat <<A > /a && cat 3<<B\none\nA\ntwo\nB\n");
  EXPECT_EQ(Execs(t)[0]->args.back(), "cat </dev/pipes/A > /a && cat 3</dev/pipes/B");
  EXPECT_EQ(Execs(t)[0]->mounts.back().dest, "/dev/pipes");
}

TEST(ConvertTest, CyclesAndBadReferences) {
  EXPECT_NE(ErrorOf("FROM busybox AS a\nCOPY --from=b / /\nFROM busybox AS b\nCOPY --from=a / /\n")
                .find("circular dependency"),
            std::string::npos);
  EXPECT_NE(ErrorOf("FROM busybox AS a\nCOPY --from=a / /\n").find("circular dependency"),
            std::string::npos);
  EXPECT_NE(ErrorOf("FROM busybox\nCOPY --from=7 / /\n").find("out of bounds"), std::string::npos);
  EXPECT_NE(ErrorOf("FROM BusyBox\n").find("Dockerfile:1"), std::string::npos);
  EXPECT_NE(ErrorOf("ARG X\nFROM $X\n").find("should not be blank"), std::string::npos);
  // An unknown --from name is an image, as in BuildKit.
  ConvertResult r = Must("FROM busybox\nCOPY --from=nginx:1 /etc/nginx /n\n");
  std::vector<std::string> sources = Sources(r);
  EXPECT_NE(std::find(sources.begin(), sources.end(), "docker-image://docker.io/library/nginx:1"),
            sources.end());
}

TEST(ConvertTest, EntrypointResetsInheritedCmd) {
  ConvertResult r = Must("FROM busybox AS a\nCMD [\"x\"]\nFROM a\nENTRYPOINT [\"y\"]\n");
  EXPECT_TRUE(r.config.cmd.empty());
  ConvertResult s = Must("FROM busybox\nCMD [\"x\"]\nENTRYPOINT [\"y\"]\n");
  EXPECT_EQ(s.config.cmd, (std::vector<std::string>{"x"}));
}

TEST(ConvertTest, OnbuildTriggersRunInChild) {
  ConvertResult r =
      Must("FROM busybox AS base\nONBUILD RUN echo trigger\nFROM base\nRUN echo child\n");
  std::vector<const ExecOp*> execs = Execs(r);
  ASSERT_EQ(execs.size(), 2u);
  EXPECT_EQ(execs[0]->args.back(), "echo trigger");
  EXPECT_TRUE(r.config.on_build.empty());
}

TEST(ConvertTest, NoCacheFilterMarksStage) {
  Options o = Opts();
  o.no_cache_filter = {"build"};
  ConvertResult r =
      Must("FROM busybox AS build\nRUN a\nFROM busybox\nCOPY --from=build /a /a\nRUN b\n", o);
  for (const graph::Vertex* v : Closure(r)) {
    if (std::holds_alternative<ExecOp>(v->op.op)) {
      EXPECT_EQ(v->metadata.ignore_cache, v->metadata.stage == "build") << v->metadata.description;
    }
  }
}

TEST(ConvertTest, ShellAndHealthcheckAndEscape) {
  ConvertResult r = Must(
      "# escape=`\nFROM busybox\nSHELL [\"/bin/bash\", \"-c\"]\nRUN echo `\n  hi\n"
      "HEALTHCHECK --interval=5s CMD true\nSTOPSIGNAL SIGTERM\nVOLUME /data\n");
  EXPECT_EQ(Execs(r)[0]->args[0], "/bin/bash");
  EXPECT_EQ(r.config.healthcheck->interval, 5000000000);
  EXPECT_EQ(r.config.stop_signal, "SIGTERM");
  EXPECT_EQ(r.config.volumes, (std::vector<std::string>{"/data"}));
  EXPECT_FALSE(ConfigToJson(r.config).empty());
}

TEST(ConvertTest, LabelsFromOptionsAndContextExcludes) {
  Options o = Opts();
  o.labels["org.example"] = "1";
  o.context_excludes = {"*.md"};
  ConvertResult r = Must("FROM busybox\nCOPY . /src\n", o);
  EXPECT_EQ(r.config.labels.at("org.example"), "1");
  for (const graph::Vertex* v : Closure(r)) {
    if (const auto* s = std::get_if<SourceOp>(&v->op.op); s && s->identifier == "local://context") {
      EXPECT_EQ(s->attrs.at("excludepatterns"), "[\"*.md\"]");
    }
  }
}

}  // namespace
}  // namespace berth::frontend::dockerfile::convert
