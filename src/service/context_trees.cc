#include "service/context_trees.h"

#include <stdlib.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "base/scope_exit.h"
#include "os/file.h"
#include "snapshot/fs_util.h"

namespace berth::service {

Result<std::shared_ptr<const std::string>> ContextTrees::Acquire(
    const Context& ctx, const std::string& project_dir, const std::string& manifest_id,
    const contextsync::Manifest& manifest, contextsync::FileStore& files) {
  std::string dir = project_dir + "/trees/" + manifest_id;
  auto handle = [&] {
    return std::shared_ptr<const std::string>(
        new std::string(dir), [this, project_dir, manifest_id](const std::string* p) {
          delete p;
          Release(project_dir, manifest_id);
        });
  };
  {
    std::unique_lock lock(mu_);
    // Map elements stay put while users > 0 (only unused entries are erased).
    Tree& tree = trees_[project_dir][manifest_id];
    ++tree.users;
    tree.last_use = ++clock_;
    ready_.wait(lock, [&] { return tree.ready || !tree.making; });
    if (tree.ready) {
      return handle();
    }
    tree.making = true;  // this call makes it (or finds it from an earlier run of berthd)
  }
  ScopeExit failed([&] {
    std::lock_guard lock(mu_);
    auto& project = trees_[project_dir];
    Tree& tree = project[manifest_id];
    tree.making = false;
    if (--tree.users == 0 && !tree.ready) {
      project.erase(manifest_id);
    }
    ready_.notify_all();  // a waiting build tries in turn
  });
  if (!os::Exists(dir)) {
    BERTH_TRY(os::MakeDirs(project_dir + "/trees", 0700));
    std::string tmp = project_dir + "/trees/.tmp-XXXXXX";
    if (mkdtemp(tmp.data()) == nullptr) {
      return Error::FromErrno("mkdtemp " + tmp, errno);
    }
    ScopeExit remove_tmp([&] { (void)snapshot::RemoveAll(tmp); });
    BERTH_TRY(files.Materialize(ctx, manifest, tmp + "/tree"));
    if (::rename((tmp + "/tree").c_str(), dir.c_str()) != 0 && errno != ENOTEMPTY &&
        errno != EEXIST) {
      return Error::FromErrno("renaming the context tree to " + dir, errno);
    }
  }
  failed.Cancel();
  std::vector<std::string> evicted;
  {
    std::lock_guard lock(mu_);
    Tree& tree = trees_[project_dir][manifest_id];
    tree.ready = true;
    tree.making = false;
    ready_.notify_all();
    evicted = EvictLocked(project_dir);
  }
  for (const std::string& d : evicted) {
    (void)snapshot::RemoveAll(d);
  }
  return handle();
}

void ContextTrees::Release(const std::string& project_dir, const std::string& manifest_id) {
  std::vector<std::string> evicted;
  {
    std::lock_guard lock(mu_);
    auto project = trees_.find(project_dir);
    if (project == trees_.end()) {
      return;
    }
    auto it = project->second.find(manifest_id);
    if (it == project->second.end()) {
      return;
    }
    --it->second.users;
    evicted = EvictLocked(project_dir);
  }
  for (const std::string& d : evicted) {
    (void)snapshot::RemoveAll(d);
  }
}

std::vector<std::string> ContextTrees::EvictLocked(const std::string& project_dir) {
  std::vector<std::string> out;
  auto& project = trees_[project_dir];
  while (project.size() > keep_) {
    auto oldest = project.end();
    for (auto it = project.begin(); it != project.end(); ++it) {
      if (it->second.users == 0 && it->second.ready &&
          (oldest == project.end() || it->second.last_use < oldest->second.last_use)) {
        oldest = it;
      }
    }
    if (oldest == project.end()) {
      break;  // everything left is in use
    }
    // Renamed away under the lock, so that a new Acquire of the id materializes afresh.
    std::string dir = project_dir + "/trees/" + oldest->first;
    std::string gone =
        project_dir + "/trees/.gone-" + oldest->first + "-" + std::to_string(++clock_);
    if (::rename(dir.c_str(), gone.c_str()) == 0) {
      out.push_back(gone);
    }
    project.erase(oldest);
  }
  return out;
}

size_t ContextTrees::size(const std::string& project_dir) {
  std::lock_guard lock(mu_);
  auto it = trees_.find(project_dir);
  return it == trees_.end() ? 0 : it->second.size();
}

}  // namespace berth::service
