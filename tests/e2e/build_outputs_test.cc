// `berth build --output` end to end: every exporter type (image, registry/--push, oci as tar
// and as a directory, docker, local, tar to a file and to stdout), --metadata-file and
// --annotation; the OCI output unpacked by umoci and run under runc.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "build_fixture.h"
#include "registry/testing/docker_registry.h"

namespace berth::e2e {
namespace {

class BuildOutputsE2eTest : public BuildE2eTest {
 protected:
  // The image manifest a single-image OCI layout directory holds.
  nlohmann::json LayoutManifest(const std::string& layout) {
    nlohmann::json index = nlohmann::json::parse(os::ReadFile(layout + "/index.json").value());
    std::string digest = index["manifests"][0]["digest"].get<std::string>().substr(7);
    return nlohmann::json::parse(os::ReadFile(layout + "/blobs/sha256/" + digest).value());
  }
};

TEST_F(BuildOutputsE2eTest, EveryLocalOutputType) {
  std::string d = dir_;
  CmdResult built =
      Berth("build -t app:out --annotation org.example.note=hi --metadata-file " + d +
            "/meta.json -o type=local,dest=" + d + "/local -o type=tar,dest=" + d +
            "/fs.tar -o type=oci,dest=" + d + "/oci.tar -o type=oci,tar=false,dest=" + d +
            "/ocidir -o type=docker,dest=" + d + "/docker.tar " + d + "/ctx");
  ASSERT_EQ(built.exit_code, 0) << built.err;
  std::string digest = built.out.substr(0, built.out.find('\n'));
  ASSERT_EQ(digest.rfind("sha256:", 0), 0u) << built.out;

  // type=local: the final file system.
  EXPECT_EQ(os::ReadFile(d + "/local/app/out.txt").value_or(""), "greetings\nhello\n");
  EXPECT_EQ(Sh("test -x " + d + "/local/bin/busybox"), 0);
  // type=tar: the same files in one tar.
  EXPECT_EQ(Sh("tar -tf " + d + "/fs.tar | grep -qx 'app/out.txt'"), 0);

  // type=oci: umoci unpacks it and the image runs under runc, printing what CMD says.
  ASSERT_EQ(Sh("mkdir -p " + d + "/layout && tar -xf " + d + "/oci.tar -C " + d + "/layout"), 0);
  nlohmann::json manifest = LayoutManifest(d + "/layout");
  EXPECT_EQ(manifest["annotations"]["org.example.note"], "hi") << manifest.dump();
  ASSERT_EQ(Sh("umoci unpack --image " + d + "/layout:out " + d + "/bundle >/dev/null 2>&1"), 0);
  ASSERT_EQ(Sh("python3 -c \"import json,sys; p=sys.argv[1]; c=json.load(open(p)); "
               "c['process']['terminal']=False; json.dump(c, open(p,'w'))\" " +
               d + "/bundle/config.json"),
            0);
  ASSERT_EQ(Sh("cd " + d + "/bundle && timeout 60 runc run berth-e2e-" + std::to_string(getpid()) +
               " </dev/null >" + d + "/run.out 2>&1"),
            0)
      << os::ReadFile(d + "/run.out").value_or("");
  EXPECT_EQ(os::ReadFile(d + "/run.out").value_or(""), "greetings\nhello\n");
  // tar=false: the same layout as a directory, and the same manifest.
  EXPECT_EQ(LayoutManifest(d + "/ocidir"), manifest);

  // type=docker: a docker-load archive tagged with -t.
  ASSERT_EQ(Sh("mkdir -p " + d + "/docker && tar -xf " + d + "/docker.tar -C " + d + "/docker"), 0);
  nlohmann::json docker =
      nlohmann::json::parse(os::ReadFile(d + "/docker/manifest.json").value_or("[]"));
  ASSERT_EQ(docker.size(), 1u) << docker.dump();
  EXPECT_EQ(docker[0]["RepoTags"], nlohmann::json::array({"app:out"})) << docker.dump();

  // --metadata-file: buildx's keys.
  nlohmann::json meta = nlohmann::json::parse(os::ReadFile(d + "/meta.json").value_or("{}"));
  EXPECT_EQ(meta["containerimage.digest"], digest) << meta.dump();
  EXPECT_EQ(meta["containerimage.descriptor"]["digest"], digest) << meta.dump();
  EXPECT_EQ(meta["containerimage.config.digest"].get<std::string>().rfind("sha256:", 0), 0u);
  EXPECT_EQ(meta["image.name"], "docker.io/library/app:out") << meta.dump();

  // An explicit --output replaces the default: nothing was stored in the image store.
  CmdResult ls = Berth("image ls --format json");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out.find("app:out"), std::string::npos) << ls.out;
  EXPECT_EQ(ls.out.find("docker.io/library/app"), std::string::npos) << ls.out;
}

TEST_F(BuildOutputsE2eTest, TarToStdoutAndLoad) {
  CmdResult tar = Berth("build -q -o - " + dir_ + "/ctx");
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  // stdout is the tar stream and nothing else.
  EXPECT_EQ(Sh("tar -tf " + dir_ + "/out | grep -qx 'app/out.txt'"), 0);

  CmdResult load =
      Berth("build --load -t app:loaded -o type=local,dest=" + dir_ + "/l " + dir_ + "/ctx");
  ASSERT_EQ(load.exit_code, 0) << load.err;
  CmdResult ls = Berth("image ls --format json");
  EXPECT_NE(ls.out.find("docker.io/library/app:loaded"), std::string::npos) << ls.out;
}

TEST_F(BuildOutputsE2eTest, BadOutputsAreUsageErrors) {
  CmdResult bogus = Berth("build -o type=bogus " + dir_ + "/ctx");
  EXPECT_EQ(bogus.exit_code, 2) << bogus.err;
  EXPECT_NE(bogus.err.find("unknown type \"bogus\""), std::string::npos) << bogus.err;
  CmdResult no_dest = Berth("build -o type=local " + dir_ + "/ctx");
  EXPECT_EQ(no_dest.exit_code, 2) << no_dest.err;
  EXPECT_NE(no_dest.err.find("dest="), std::string::npos) << no_dest.err;
  CmdResult bad_attr = Berth("build -o type=local,dest=x,colour=red " + dir_ + "/ctx");
  EXPECT_EQ(bad_attr.exit_code, 2) << bad_attr.err;
  EXPECT_NE(bad_attr.err.find("colour"), std::string::npos) << bad_attr.err;
  CmdResult two_stdout = Berth("build -o - -o type=oci,dest=- " + dir_ + "/ctx");
  EXPECT_EQ(two_stdout.exit_code, 2) << two_stdout.err;
  CmdResult push_no_name = Berth("build --push " + dir_ + "/ctx");
  EXPECT_NE(push_no_name.exit_code, 0);
  EXPECT_NE(push_no_name.err.find("-t NAME"), std::string::npos) << push_no_name.err;
}

TEST_F(BuildOutputsE2eTest, PushesEveryTagToTheRegistry) {
  if (!registry::test::DockerRegistry::Available()) {
    FAIL() << "docker-registry is not installed (scripts/setup installs it)";
  }
  ASSERT_EQ(Sh("mkdir -p " + dir_ + "/registry"), 0);
  Result<std::unique_ptr<registry::test::DockerRegistry>> reg =
      registry::test::DockerRegistry::Start(dir_ + "/registry");
  ASSERT_TRUE(reg.ok()) << reg.error().ToString();
  std::string a = (*reg)->host() + "/e2e/app:v1";
  std::string b = (*reg)->host() + "/e2e/other:v2";
  CmdResult push = Berth("build --push -t " + a + " -t " + b + " --metadata-file " + dir_ +
                         "/meta.json " + dir_ + "/ctx");
  ASSERT_EQ(push.exit_code, 0) << push.err;
  std::string digest = push.out.substr(0, push.out.find('\n'));
  for (const std::string& name : {a, b}) {
    ASSERT_EQ(Sh("skopeo inspect --tls-verify=false docker://" + name + " >" + dir_ +
                 "/inspect.json 2>&1"),
              0)
        << os::ReadFile(dir_ + "/inspect.json").value_or("");
    nlohmann::json inspect =
        nlohmann::json::parse(os::ReadFile(dir_ + "/inspect.json").value_or("{}"));
    EXPECT_EQ(inspect["Digest"], digest) << inspect.dump();
  }
  nlohmann::json meta = nlohmann::json::parse(os::ReadFile(dir_ + "/meta.json").value_or("{}"));
  EXPECT_EQ(meta["image.name"], a + "," + b) << meta.dump();
  // type=image,push=true keeps the image in the local store too.
  CmdResult ls = Berth("image ls --format json");
  EXPECT_NE(ls.out.find(a), std::string::npos) << ls.out;
}

}  // namespace
}  // namespace berth::e2e
