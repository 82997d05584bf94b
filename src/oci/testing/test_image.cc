#include "oci/testing/test_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>

#include <gtest/gtest.h>

#include "oci/media_types.h"
#include "os/file.h"

namespace berth::oci::test {

TempDir::TempDir() {
  std::string tmpl = ::testing::TempDir() + "berth-oci-XXXXXX";
  char* made = ::mkdtemp(tmpl.data());
  if (made == nullptr) {
    ADD_FAILURE() << "mkdtemp " << tmpl << " failed";
  }
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    result.output = "popen failed";
    return result;
  }
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) {
    result.output.append(buf, n);
  }
  int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

bool HaveTool(const std::string& program) {
  return RunCommand("command -v " + program + " >/dev/null").exit_code == 0;
}

Result<TinyImage> BuildTinyImage(MemoryBlobSource& blobs, const std::string& scratch,
                                 const std::vector<std::pair<std::string, std::string>>& files,
                                 std::string_view architecture, bool docker_media_types) {
  std::string rootfs = scratch + "/rootfs";
  std::error_code ec;
  std::filesystem::remove_all(rootfs, ec);
  BERTH_TRY(os::MakeDirs(rootfs));
  for (const auto& [path, content] : files) {
    std::string full = rootfs + "/" + path;
    BERTH_TRY(os::MakeDirs(std::filesystem::path(full).parent_path().string()));
    BERTH_TRY(os::WriteFileAtomic(full, content));
  }
  std::string tar_path = scratch + "/layer.tar";
  CommandResult tar =
      RunCommand("tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C '" + rootfs +
                 "' -cf '" + tar_path + "' . && gzip -n -k -f '" + tar_path + "'");
  if (tar.exit_code != 0) {
    return Error::Internal("building the layer: " + tar.output);
  }
  TinyImage image;
  image.layer_tar = BERTH_TRY(os::ReadFile(tar_path));
  std::string gz = BERTH_TRY(os::ReadFile(tar_path + ".gz"));
  image.layers.push_back(blobs.Add(
      docker_media_types ? kMediaTypeDockerLayerGzip : kMediaTypeImageLayerGzip, std::move(gz)));

  ImageConfig& c = image.config_value;
  c.created = "2024-01-02T03:04:05Z";
  c.architecture = std::string(architecture);
  c.os = "linux";
  c.config.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
  c.config.cmd = {"/bin/sh"};
  c.config.working_dir = "/";
  c.config.labels = {{"org.example.test", "tiny"}};
  c.rootfs.diff_ids.push_back(digest::FromBytes(image.layer_tar));
  History h;
  h.created = c.created;
  h.created_by = "berth test";
  c.history.push_back(h);
  image.config =
      blobs.Add(docker_media_types ? kMediaTypeDockerConfig : kMediaTypeImageConfig, Serialize(c));

  Manifest m;
  m.media_type =
      std::string(docker_media_types ? kMediaTypeDockerManifest : kMediaTypeImageManifest);
  m.config = image.config;
  m.layers = image.layers;
  image.manifest = blobs.Add(m.media_type, Serialize(m));
  return image;
}

}  // namespace berth::oci::test
