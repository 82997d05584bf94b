// Attestations end to end: `--provenance` and `--sbom` (and `--attest`, bake's `attest`) make an
// index of the image and an attestation manifest of in-toto statements, read back from an OCI
// layout and from a real docker-registry through skopeo; a docker archive gets the image alone;
// bad values are usage errors.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "build_fixture.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

using nlohmann::json;

// An image with a Debian package database and os-release, as a Debian image has them.
constexpr const char* kPackaged = R"DF(FROM busybox
ARG VERSION=1
RUN mkdir -p /var/lib/dpkg /etc && \
    printf 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' > /etc/os-release && \
    printf 'Package: hello\nStatus: install ok installed\nVersion: 2.10-3\nArchitecture: amd64\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\nArchitecture: amd64\n' > /var/lib/dpkg/status
RUN --mount=type=secret,id=token echo built-$VERSION > /version
)DF";

class AttestE2eTest : public BuildE2eTest {
 protected:
  void SetUp() override {
    BuildE2eTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/ctx/Dockerfile", kPackaged).ok());
    ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/token", "s3cret-value").ok());
  }

  json Blob(const std::string& layout, const std::string& digest) {
    return json::parse(os::ReadFile(layout + "/blobs/sha256/" + digest.substr(7)).value_or("null"),
                       nullptr, false);
  }

  // The statements of the attested image at the top of `layout`, by predicate type; checks the
  // index's shape on the way.
  std::map<std::string, json> Statements(const std::string& layout, std::string* image_digest) {
    std::map<std::string, json> out;
    json top = json::parse(os::ReadFile(layout + "/index.json").value_or("{}"));
    json index = Blob(layout, top["manifests"][0]["digest"]);
    EXPECT_EQ(index["mediaType"], "application/vnd.oci.image.index.v1+json") << index.dump();
    if (!index.contains("manifests") || index["manifests"].size() != 2) {
      ADD_FAILURE() << index.dump();
      return out;
    }
    const json& image = index["manifests"][0];
    const json& attestation = index["manifests"][1];
    *image_digest = image["digest"];
    EXPECT_EQ(image["platform"]["os"], "linux");
    EXPECT_EQ(attestation["platform"]["os"], "unknown");
    EXPECT_EQ(attestation["annotations"]["vnd.docker.reference.type"], "attestation-manifest");
    EXPECT_EQ(attestation["annotations"]["vnd.docker.reference.digest"], *image_digest);
    json manifest = Blob(layout, attestation["digest"]);
    for (const json& layer : manifest["layers"]) {
      EXPECT_EQ(layer["mediaType"], "application/vnd.in-toto+json");
      std::string type = layer["annotations"]["in-toto.io/predicate-type"];
      out[type] = Blob(layout, layer["digest"]);
      EXPECT_EQ(out[type]["predicateType"], type);
      EXPECT_EQ(out[type]["subject"][0]["digest"]["sha256"], image_digest->substr(7));
    }
    return out;
  }
};

TEST_F(AttestE2eTest, ProvenanceAndSbomGoBesideTheImageInAnIndex) {
  CmdResult built =
      Berth("build --progress plain -t app:v1 --build-arg VERSION=7 --secret id=token,src=" + dir_ +
            "/token --provenance=mode=max --sbom=true -o type=oci,tar=false,dest=" + dir_ +
            "/layout -o type=image --metadata-file " + dir_ + "/meta.json " + dir_ + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  std::string image;
  std::map<std::string, json> statements = Statements(dir_ + "/layout", &image);
  ASSERT_EQ(statements.count("https://slsa.dev/provenance/v0.2"), 1u);
  ASSERT_EQ(statements.count("https://spdx.dev/Document"), 1u);

  const json& provenance = statements["https://slsa.dev/provenance/v0.2"];
  EXPECT_EQ(provenance["subject"][0]["name"], "pkg:docker/library/app@v1?platform=linux%2Famd64");
  const json& p = provenance["predicate"];
  EXPECT_EQ(p["invocation"]["parameters"]["args"]["build-arg:VERSION"], "7");
  EXPECT_EQ(p["invocation"]["parameters"]["secrets"][0]["id"], "token");
  EXPECT_EQ(p["materials"][0]["uri"], "pkg:docker/library/busybox@latest?platform=linux%2Famd64");
  EXPECT_EQ(p["materials"][0]["digest"]["sha256"].get<std::string>().size(), 64u);
  EXPECT_NE(p["buildConfig"]["dockerfile"].get<std::string>().find("ARG VERSION"),
            std::string::npos);
  EXPECT_EQ(provenance.dump().find("s3cret-value"), std::string::npos);

  const json& sbom = statements["https://spdx.dev/Document"]["predicate"];
  EXPECT_EQ(sbom["spdxVersion"], "SPDX-2.3");
  bool hello = false;
  for (const json& pkg : sbom["packages"]) {
    EXPECT_NE(pkg["name"], "gone") << "a removed package is not installed";
    if (pkg["name"] == "hello") {
      hello = true;
      EXPECT_EQ(pkg["versionInfo"], "2.10-3");
      EXPECT_NE(pkg.dump().find("pkg:deb/debian/hello@2.10-3"), std::string::npos) << pkg.dump();
    }
  }
  EXPECT_TRUE(hello) << sbom.dump();

  // The store names the index; a build on it takes the image for this platform.
  json meta = json::parse(os::ReadFile(dir_ + "/meta.json").value_or("{}"));
  EXPECT_EQ(meta["containerimage.descriptor"]["mediaType"],
            "application/vnd.oci.image.index.v1+json")
      << meta.dump();
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/ctx2 && printf 'FROM app:v1\\nRUN cat /version\\n' > " +
               dir_ + "/ctx2/Dockerfile"),
            0);
  CmdResult on_top = Berth("build --progress plain " + dir_ + "/ctx2");
  ASSERT_EQ(on_top.exit_code, 0) << on_top.err;
  EXPECT_NE(on_top.err.find("built-7"), std::string::npos) << on_top.err;
}

TEST_F(AttestE2eTest, PushedAttestationsReachTheRegistryAndADockerArchiveGetsTheImageAlone) {
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string ref = (*reg)->host() + "/e2e/attested:v1";
  CmdResult pushed = Berth("build --progress plain --attest type=provenance --push -t " + ref +
                           " -o type=docker,dest=" + dir_ + "/docker.tar " + dir_ + "/ctx");
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  ASSERT_EQ(Sh("skopeo copy --all --src-tls-verify=false docker://" + ref + " oci:" + dir_ +
               "/copied:v1 >" + dir_ + "/skopeo.log 2>&1"),
            0)
      << os::ReadFile(dir_ + "/skopeo.log").value_or("");
  std::string image;
  std::map<std::string, json> statements = Statements(dir_ + "/copied", &image);
  EXPECT_EQ(statements.count("https://slsa.dev/provenance/v0.2"), 1u);
  EXPECT_EQ(statements.count("https://spdx.dev/Document"), 0u);
  // docker load archives hold images, not indexes.
  ASSERT_EQ(Sh("tar -xOf " + dir_ + "/docker.tar manifest.json > " + dir_ + "/docker.json"), 0);
  json docker = json::parse(os::ReadFile(dir_ + "/docker.json").value_or("[]"));
  ASSERT_EQ(docker.size(), 1u) << docker.dump();
}

TEST_F(AttestE2eTest, BakeAttestAttributeAndFlags) {
  ASSERT_TRUE(os::WriteFileAtomic(dir_ + "/docker-bake.hcl", R"HCL(target "app" {
  attest = ["type=provenance,mode=max"]
}
)HCL")
                  .ok());
  auto bake = [&](const std::string& flags, const std::string& out) {
    return Berth("bake --progress plain -f " + dir_ + "/docker-bake.hcl --set app.context=" + dir_ +
                 "/ctx --set app.output=type=oci,tar=false,dest=" + dir_ + "/" + out + " " + flags +
                 " app");
  };
  CmdResult attested = bake("", "one");
  ASSERT_EQ(attested.exit_code, 0) << attested.err;
  std::string image;
  std::map<std::string, json> statements = Statements(dir_ + "/one", &image);
  EXPECT_EQ(statements.count("https://slsa.dev/provenance/v0.2"), 1u);

  // --provenance=false overrides the file's attest: the layout holds the image manifest.
  CmdResult plain = bake("--provenance=false", "two");
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  json top = json::parse(os::ReadFile(dir_ + "/two/index.json").value_or("{}"));
  EXPECT_EQ(top["manifests"][0]["mediaType"], "application/vnd.oci.image.manifest.v1+json");
}

TEST_F(AttestE2eTest, BadValuesAreUsageErrors) {
  struct Case {
    std::string flags;
    std::string want;
  } cases[] = {
      {"--attest type=signature", "unknown type \"signature\""},
      {"--provenance=maybe", "--provenance maybe"},
      {"--attest type=provenance,mode=all", "mode=all"},
  };
  for (const Case& c : cases) {
    CmdResult r = Berth("build " + c.flags + " " + dir_ + "/ctx");
    EXPECT_EQ(r.exit_code, 2) << c.flags << "\n" << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << c.flags << "\n" << r.err;
  }
}

}  // namespace
}  // namespace berth::e2e
