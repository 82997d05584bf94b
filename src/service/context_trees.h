// Materialized build contexts, kept per project and manifest: a rebuild of an unchanged context
// (the same manifest) reuses the tree of the last build instead of linking every file of it
// again (10,000 hardlinks take a few hundred milliseconds). Builds only read a tree, so builds
// of one manifest share it; a tree no build uses is removed once its project has more than
// `keep` trees, oldest use first.
//
// Trees live at <project dir>/trees/<manifest id>; a tree is materialized under a temporary name
// and renamed into place, so a tree found there (from an earlier run of berthd) is complete.
// Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/context.h"
#include "base/result.h"
#include "contextsync/file_store.h"
#include "contextsync/manifest.h"

namespace berth::service {

class ContextTrees {
 public:
  explicit ContextTrees(size_t keep = 4) : keep_(keep) {}

  // The tree of `manifest` (id `manifest_id`) under `project_dir`, materialized from `files`
  // unless present. The returned path stays valid until the pointer and its copies are gone.
  Result<std::shared_ptr<const std::string>> Acquire(const Context& ctx,
                                                     const std::string& project_dir,
                                                     const std::string& manifest_id,
                                                     const contextsync::Manifest& manifest,
                                                     contextsync::FileStore& files);

  // How many trees are kept, for tests.
  size_t size(const std::string& project_dir);

 private:
  struct Tree {
    int users = 0;        // builds holding it or waiting for it
    bool ready = false;   // on disk, complete
    bool making = false;  // a build is materializing it
    uint64_t last_use = 0;
  };
  void Release(const std::string& project_dir, const std::string& manifest_id);
  // Removes unused trees of `project_dir` beyond keep_. REQUIRES: mu_ held; returns the
  // directories to delete (outside the lock).
  std::vector<std::string> EvictLocked(const std::string& project_dir);

  size_t keep_;
  std::mutex mu_;
  std::condition_variable ready_;
  uint64_t clock_ = 0;
  std::map<std::string, std::map<std::string, Tree>> trees_;  // project dir -> manifest id -> tree
};

}  // namespace berth::service
