#include "fileop/fileop.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <string>

#include "executor/spec.h"
#include "fileop/fs.h"
#include "fileop/ops.h"
#include "os/file.h"

namespace berth::fileop {

namespace internal {

Result<std::optional<Owner>> ResolveChown(const std::optional<graph::ChownOpt>& chown,
                                          const std::string& dest_root) {
  if (!chown || (chown->user.empty() && chown->group.empty())) {
    return std::optional<Owner>();
  }
  const std::string& user = chown->user;
  uint32_t id = 0;
  auto [end, ec] = std::from_chars(user.data(), user.data() + user.size(), id);
  if (chown->group.empty() && !user.empty() && ec == std::errc() &&
      end == user.data() + user.size()) {
    // BuildKit gives a bare numeric user the same number as group, without looking it up.
    return std::optional<Owner>(Owner{id, id});
  }
  std::string spec = user.empty() ? "0" : user;
  if (!chown->group.empty()) {
    spec += ":" + chown->group;
  }
  executor::ResolvedUser u =
      BERTH_TRY_CONTEXT(executor::ResolveUser(dest_root, spec), "resolving chown " + spec);
  return std::optional<Owner>(Owner{u.uid, u.gid});
}

}  // namespace internal

namespace {

using internal::Meta;
using internal::Owner;

std::optional<struct timespec> Time(int64_t timestamp, std::optional<int64_t> epoch) {
  if (timestamp >= 0) {
    return timespec{static_cast<time_t>(timestamp), 0};
  }
  if (epoch) {
    struct timespec now {};
    ::clock_gettime(CLOCK_REALTIME, &now);
    if (now.tv_sec >= *epoch) {
      return timespec{static_cast<time_t>(*epoch), 0};
    }
  }
  return std::nullopt;
}

Result<> Mkdir(const graph::MkdirAction& a, const FileOpEnv& env) {
  UniqueFd root = BERTH_TRY(internal::OpenRoot(env.dest_root));
  std::optional<Owner> owner = BERTH_TRY(internal::ResolveChown(a.chown, env.dest_root));
  std::string rel = internal::RelPath(a.path);
  Meta meta;
  meta.owner = owner;
  meta.atime = meta.mtime = Time(a.timestamp, env.source_date_epoch);
  if (a.make_parents) {
    BERTH_TRY(internal::MkdirAll(root.get(), rel, a.mode, meta));
    return {};
  }
  auto [dir, name] = internal::SplitPath(rel);
  if (name.empty()) {
    return {};
  }
  Result<UniqueFd> parent = internal::OpenAt2(root.get(), dir, O_PATH | O_DIRECTORY);
  if (!parent.ok()) {
    return std::move(parent).error().AddContext("mkdir /" + rel);
  }
  if (::mkdirat(parent->get(), name.c_str(), 0700) != 0) {
    if (errno == EEXIST) {
      return {};  // as BuildKit: an existing path is not an error
    }
    return Error::FromErrno("mkdir /" + rel, errno);
  }
  UniqueFd d(
      ::openat(parent->get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!d) {
    return Error::FromErrno("open /" + rel, errno);
  }
  meta.mode = a.mode & 07777;
  return internal::ApplyMetaFd(d.get(), meta, rel);
}

Result<> Mkfile(const graph::MkfileAction& a, const FileOpEnv& env) {
  UniqueFd root = BERTH_TRY(internal::OpenRoot(env.dest_root));
  std::optional<Owner> owner = BERTH_TRY(internal::ResolveChown(a.chown, env.dest_root));
  std::string rel = internal::RelPath(a.path);
  auto [dir, name] = internal::SplitPath(rel);
  if (name.empty()) {
    return Error::InvalidArgument("mkfile: no file name in " + a.path);
  }
  Result<UniqueFd> parent = internal::OpenAt2(root.get(), dir, O_PATH | O_DIRECTORY);
  if (!parent.ok()) {
    return std::move(parent).error().AddContext("mkfile /" + rel);
  }
  std::optional<struct stat> existing = BERTH_TRY(internal::LstatAt(parent->get(), name));
  if (existing) {
    if (S_ISDIR(existing->st_mode)) {
      return Error::InvalidArgument("mkfile /" + rel + ": is a directory");
    }
    // Replaced, never written through: a symlink here must not redirect the write.
    if (::unlinkat(parent->get(), name.c_str(), 0) != 0) {
      return Error::FromErrno("remove /" + rel, errno);
    }
  }
  UniqueFd out(::openat(parent->get(), name.c_str(),
                        O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!out) {
    return Error::FromErrno("create /" + rel, errno);
  }
  BERTH_TRY(os::WriteAll(out.get(), a.data));
  Meta meta;
  meta.owner = owner;
  meta.mode = a.mode & 07777;
  meta.atime = meta.mtime = Time(a.timestamp, env.source_date_epoch);
  return internal::ApplyMetaFd(out.get(), meta, rel);
}

Result<> Rm(const graph::RmAction& a, const FileOpEnv& env) {
  UniqueFd root = BERTH_TRY(internal::OpenRoot(env.dest_root));
  std::vector<std::string> paths;
  if (a.allow_wildcard && internal::HasWildcards(internal::RelPath(a.path))) {
    std::string base;
    paths = BERTH_TRY(internal::Glob(root.get(), a.path, &base));
  } else {
    paths.push_back(internal::RelPath(a.path));
  }
  if (paths.empty() && !a.allow_not_found) {
    return Error::NotFound("rm " + a.path + ": no such file or directory");
  }
  for (const std::string& rel : paths) {
    auto [dir, name] = internal::SplitPath(rel);
    if (name.empty()) {
      return Error::InvalidArgument("rm: refusing to remove the root directory");
    }
    Result<UniqueFd> parent = internal::OpenAt2(root.get(), dir, O_PATH | O_DIRECTORY);
    std::optional<struct stat> st;
    if (parent.ok()) {
      st = BERTH_TRY(internal::LstatAt(parent->get(), name));
    } else if (parent.error().sys_errno() != ENOENT && parent.error().sys_errno() != ENOTDIR) {
      return std::move(parent).error();
    }
    if (!st) {
      if (a.allow_not_found) {
        continue;
      }
      return Error::NotFound("rm /" + rel + ": no such file or directory");
    }
    BERTH_TRY_CONTEXT(internal::RemoveAllAt(parent->get(), name), "rm /" + rel);
  }
  return {};
}

Result<> Symlink(const graph::SymlinkAction& a, const FileOpEnv& env) {
  UniqueFd root = BERTH_TRY(internal::OpenRoot(env.dest_root));
  std::string rel = internal::RelPath(a.newpath);
  auto [dir, name] = internal::SplitPath(rel);
  if (name.empty()) {
    return Error::InvalidArgument("symlink: no name in " + a.newpath);
  }
  Result<UniqueFd> parent = internal::OpenAt2(root.get(), dir, O_PATH | O_DIRECTORY);
  if (!parent.ok()) {
    return std::move(parent).error().AddContext("symlink /" + rel);
  }
  if (::symlinkat(a.oldpath.c_str(), parent->get(), name.c_str()) != 0) {
    return Error::FromErrno("symlink /" + rel + " -> " + a.oldpath, errno);
  }
  return {};
}

}  // namespace

Result<> Apply(const Context& ctx, const graph::FileAction& action, const FileOpEnv& env) {
  BERTH_TRY(ctx.Check());
  return std::visit(
      [&](const auto& a) -> Result<> {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, graph::CopyAction>) {
          return internal::Copy(ctx, a, env);
        } else if constexpr (std::is_same_v<T, graph::MkdirAction>) {
          return Mkdir(a, env);
        } else if constexpr (std::is_same_v<T, graph::MkfileAction>) {
          return Mkfile(a, env);
        } else if constexpr (std::is_same_v<T, graph::RmAction>) {
          return Rm(a, env);
        } else {
          return Symlink(a, env);
        }
      },
      action);
}

Result<> ApplyFileOp(const Context& ctx, const graph::FileOp& op, const FileOpEnv& env) {
  for (size_t i = 0; i < op.actions.size(); ++i) {
    BERTH_TRY_CONTEXT(Apply(ctx, op.actions[i], env), "file action " + std::to_string(i));
  }
  return {};
}

}  // namespace berth::fileop
