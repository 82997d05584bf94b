// Root: the berth state directory ($BERTH_ROOT) and the stores in it.
//
//   $BERTH_ROOT/content/   the content store (content/local_store.h)
//   $BERTH_ROOT/images/    the image name store (images/file_store.h)
//
// The composition roots (the CLI, berthd) open one Root and hand its stores to the components.
#pragma once

#include <memory>
#include <string>

#include "base/result.h"
#include "content/local_store.h"
#include "images/file_store.h"

namespace berth::images {

// Where berth keeps its state: `flag` when non-empty, else $BERTH_ROOT, else /var/lib/berth
// when running as root, else $XDG_DATA_HOME/berth, else $HOME/.local/share/berth.
// InvalidArgument when none of these can be determined (no HOME for a non-root user).
Result<std::string> ResolveRootPath(const std::string& flag = "");

class Root {
 public:
  // Opens (creating as needed) the state directory `path` and its stores.
  static Result<std::unique_ptr<Root>> Open(const std::string& path);

  Root(const Root&) = delete;
  Root& operator=(const Root&) = delete;
  Root(Root&&) = delete;
  Root& operator=(Root&&) = delete;
  ~Root() = default;

  const std::string& path() const { return path_; }
  content::LocalStore& content() { return *content_; }
  Store& images() { return *images_; }

 private:
  Root() = default;

  std::string path_;
  // Declared first so it is destroyed last: the image store borrows it.
  std::unique_ptr<content::LocalStore> content_;
  std::unique_ptr<FileStore> images_;
};

}  // namespace berth::images
