#include "engine/attest.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace berth::engine {
namespace {

using nlohmann::json;

TEST(AttestTest, ParsesAttestsAndShorthands) {
  Result<AttestOptions> a =
      ParseAttests({"type=sbom", "type=provenance,mode=max,builder-id=https://ci.example/run/1"});
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_TRUE(a->sbom);
  EXPECT_TRUE(a->provenance);
  EXPECT_TRUE(a->provenance_max);
  EXPECT_EQ(a->builder_id, "https://ci.example/run/1");

  // A later value of a type replaces an earlier one.
  Result<AttestOptions> off = ParseAttests(
      {"type=provenance,mode=max", "type=provenance,disabled=true", "type=sbom,disabled=true"});
  ASSERT_TRUE(off.ok()) << off.error().ToString();
  EXPECT_FALSE(off->any());

  EXPECT_EQ(ProvenanceAttest("true").value(), "type=provenance");
  EXPECT_EQ(ProvenanceAttest("false").value(), "type=provenance,disabled=true");
  EXPECT_EQ(ProvenanceAttest("max").value(), "type=provenance,mode=max");
  EXPECT_EQ(ProvenanceAttest("mode=max,version=v1").value(), "type=provenance,mode=max,version=v1");
  EXPECT_EQ(SbomAttest("1").value(), "type=sbom");
  EXPECT_FALSE(SbomAttest("max").ok());
}

TEST(AttestTest, ErrorsNameTheAttribute) {
  struct Case {
    std::string spec;
    std::string want;
  } cases[] = {
      {"type=provenance,mode=all", "mode=all"},
      {"type=provenance,version=v3", "version=v3"},
      {"type=provenance,colour=red", "unknown attribute \"colour\""},
      {"type=sbom,colour=red", "unknown attribute \"colour\""},
      {"type=signature", "unknown type \"signature\""},
      {"mode=max", "type= is required"},
      {"type=sbom,disabled=maybe", "disabled=maybe"},
  };
  for (const Case& c : cases) {
    Result<AttestOptions> r = ParseAttests({c.spec});
    ASSERT_FALSE(r.ok()) << c.spec;
    EXPECT_NE(r.error().ToString().find(c.want), std::string::npos)
        << c.spec << " -> " << r.error().ToString();
  }
}

BuildFacts Facts() {
  BuildFacts f;
  f.subjects = {"docker.io/library/app:v1", "localhost:5000/team/app:v1"};
  f.dockerfile_name = "Dockerfile";
  f.dockerfile_text = "FROM busybox\n";
  f.build_args = {{"VERSION", "1.2"}};
  f.labels = {{"org.example", "x"}};
  f.target = "final";
  f.secret_ids = {"token"};
  f.platform = "linux/amd64";
  f.materials = {{.uri = "pkg:docker/library/busybox@latest?platform=linux%2Famd64",
                  .digest = {{"sha256", std::string(64, 'b')}}}};
  f.steps = {{.description = "[2/2] RUN make", .location = "Dockerfile:2"}};
  f.started = 1700000000;
  f.finished = 1700000060;
  return f;
}

oci::Descriptor Image() {
  oci::Descriptor d;
  d.media_type = "application/vnd.oci.image.manifest.v1+json";
  d.digest = digest::Digest::Parse("sha256:" + std::string(64, 'a')).value();
  d.size = 500;
  return d;
}

TEST(AttestTest, MinProvenanceHasParametersAndMaterialsButNoStepsOrSecrets) {
  AttestOptions options;
  options.provenance = true;
  Statement st = ProvenanceStatement(options, Facts(), Image());
  EXPECT_EQ(st.predicate_type, "https://slsa.dev/provenance/v0.2");
  json j = json::parse(st.json);
  EXPECT_EQ(j["_type"], "https://in-toto.io/Statement/v0.1");
  ASSERT_EQ(j["subject"].size(), 2u);
  EXPECT_EQ(j["subject"][0]["name"], "pkg:docker/library/app@v1?platform=linux%2Famd64");
  EXPECT_EQ(
      j["subject"][1]["name"],
      "pkg:docker/team/app@v1?platform=linux%2Famd64&repository_url=localhost%3A5000%2Fteam%2Fapp");
  EXPECT_EQ(j["subject"][0]["digest"]["sha256"], std::string(64, 'a'));
  const json& p = j["predicate"];
  EXPECT_EQ(p["invocation"]["configSource"]["entryPoint"], "Dockerfile");
  EXPECT_EQ(p["invocation"]["parameters"]["frontend"], "dockerfile.v0");
  EXPECT_EQ(p["invocation"]["parameters"]["args"]["build-arg:VERSION"], "1.2");
  EXPECT_EQ(p["invocation"]["parameters"]["args"]["label:org.example"], "x");
  EXPECT_EQ(p["invocation"]["parameters"]["args"]["target"], "final");
  EXPECT_EQ(p["invocation"]["environment"]["platform"], "linux/amd64");
  EXPECT_EQ(p["materials"][0]["digest"]["sha256"], std::string(64, 'b'));
  EXPECT_EQ(p["metadata"]["buildStartedOn"], "2023-11-14T22:13:20Z");
  EXPECT_FALSE(p.contains("buildConfig"));
  EXPECT_FALSE(p["invocation"]["parameters"].contains("secrets"));
}

TEST(AttestTest, MaxProvenanceAddsStepsSecretIdsAndTheDockerfile) {
  AttestOptions options;
  options.provenance = true;
  options.provenance_max = true;
  json j = json::parse(ProvenanceStatement(options, Facts(), Image()).json);
  const json& p = j["predicate"];
  EXPECT_EQ(p["buildConfig"]["steps"][0]["location"], "Dockerfile:2");
  EXPECT_EQ(p["buildConfig"]["dockerfile"], "FROM busybox\n");
  EXPECT_EQ(p["invocation"]["parameters"]["secrets"][0]["id"], "token");

  options.provenance_version = "v1";
  Statement v1 = ProvenanceStatement(options, Facts(), Image());
  EXPECT_EQ(v1.predicate_type, "https://slsa.dev/provenance/v1");
  json k = json::parse(v1.json);
  EXPECT_EQ(k["predicate"]["buildDefinition"]["externalParameters"]["request"]["args"]
             ["build-arg:VERSION"],
            "1.2");
  EXPECT_EQ(k["predicate"]["buildDefinition"]["resolvedDependencies"][0]["digest"]["sha256"],
            std::string(64, 'b'));
  EXPECT_EQ(k["predicate"]["runDetails"]["metadata"]["finishedOn"], "2023-11-14T22:14:20Z");
}

}  // namespace
}  // namespace berth::engine
