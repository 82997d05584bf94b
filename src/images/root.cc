#include "images/root.h"

#include <unistd.h>

#include <cstdlib>

#include "os/file.h"

namespace berth::images {
namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe)
  return value == nullptr ? std::string() : std::string(value);
}

}  // namespace

Result<std::string> ResolveRootPath(const std::string& flag) {
  if (!flag.empty()) {
    return flag;
  }
  if (std::string env = Env("BERTH_ROOT"); !env.empty()) {
    return env;
  }
  if (geteuid() == 0) {
    return std::string("/var/lib/berth");
  }
  if (std::string xdg = Env("XDG_DATA_HOME"); !xdg.empty() && xdg[0] == '/') {
    return xdg + "/berth";
  }
  if (std::string home = Env("HOME"); !home.empty()) {
    return home + "/.local/share/berth";
  }
  return Error::InvalidArgument(
      "cannot tell where berth keeps its state: set BERTH_ROOT or HOME, or pass --root");
}

Result<std::unique_ptr<Root>> Root::Open(const std::string& path) {
  if (path.empty()) {
    return Error::InvalidArgument("empty berth root path");
  }
  BERTH_TRY_CONTEXT(os::MakeDirs(path, 0700), "creating berth root " + path);
  std::unique_ptr<Root> root(new Root());
  root->path_ = path;
  root->content_ = BERTH_TRY_CONTEXT(content::LocalStore::Open(path + "/content"),
                                     "opening the content store in " + path);
  root->images_ = BERTH_TRY_CONTEXT(FileStore::Open(path + "/images", *root->content_),
                                    "opening the image store in " + path);
  return root;
}

}  // namespace berth::images
