// The --print document byte for byte, and the --list tables.
#include <gtest/gtest.h>

#include "frontend/bake/model.h"
#include "frontend/bake/testing.h"

namespace berth::frontend::bake {
namespace {

TEST(PrintTest, ByteExactSmallExample) {
  // The example of docs.docker.com/build/bake/reference ("variable TAG, group default, target
  // webapp"), printed with keys sorted.
  Result<Selection> s = testing::LoadAndResolve({{"docker-bake.hcl", R"(
variable "TAG" {
  default = "latest"
}
group "default" {
  targets = ["webapp"]
}
target "webapp" {
  dockerfile = "Dockerfile"
  tags = ["docker.io/username/webapp:${TAG}"]
  args = { GO_VERSION = "1.22", EMPTY = null }  # null: left out
  labels = { "x" = "a<b&c>${"$"}{HOME}" }
}
)"}});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(PrintJson(*s), R"({
  "group": {
    "default": {
      "targets": [
        "webapp"
      ]
    }
  },
  "target": {
    "webapp": {
      "args": {
        "GO_VERSION": "1.22"
      },
      "context": ".",
      "dockerfile": "Dockerfile",
      "labels": {
        "x": "a\u003cb\u0026c\u003e$${HOME}"
      },
      "tags": [
        "docker.io/username/webapp:latest"
      ]
    }
  }
}
)");
}

TEST(PrintTest, ByteExactMatrixExampleOfTheDocs) {
  // docs.docker.com/build/bake/matrices: `docker buildx bake --print app` (whose targets' keys
  // happen to be in sorted order, so buildx's output and ours agree byte for byte).
  Result<Selection> s = testing::LoadAndResolve({{"docker-bake.hcl", R"(
target "app" {
  name = "app-${tgt}"
  matrix = {
    tgt = ["foo", "bar"]
  }
  target = tgt
}
)"}},
                                                {"app"});
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(PrintJson(*s), R"({
  "group": {
    "app": {
      "targets": [
        "app-foo",
        "app-bar"
      ]
    },
    "default": {
      "targets": [
        "app"
      ]
    }
  },
  "target": {
    "app-bar": {
      "context": ".",
      "dockerfile": "Dockerfile",
      "target": "bar"
    },
    "app-foo": {
      "context": ".",
      "dockerfile": "Dockerfile",
      "target": "foo"
    }
  }
}
)");
}

TEST(PrintTest, EmptySelectionOmitsGroups) {
  Selection s;
  EXPECT_EQ(PrintJson(s), "{\n  \"target\": {}\n}\n");
}

TEST(ListTest, TargetsAndGroups) {
  Result<Resolved> r = Load({{"docker-bake.hcl", R"(
group "default" {
  targets = ["binaries"]
}
group "validate" {
  description = "Run all validators"
  targets = ["lint", "vendor"]
}
target "binaries" {
  description = "Build the binaries"
}
target "lint" {}
target "vendor" {}
target "_common" {}
)"}},
                            {});
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(ListTargets(r->config),
            "TARGET\t\tDESCRIPTION\n"
            "binaries\tBuild the binaries\n"
            "default\t\tbinaries\n"
            "lint\t\t\n"
            "validate\tRun all validators (lint, vendor)\n"
            "vendor\t\t\n");
}

}  // namespace
}  // namespace berth::frontend::bake
