// COPY / ADD: resolution of sources and destination (BuildKit's file backend and fsutil's
// copier), then a descriptor-relative walk of each selected tree.

#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/io.h"
#include "fileop/chmod.h"
#include "fileop/fs.h"
#include "fileop/ops.h"
#include "patternmatcher/patternmatcher.h"

namespace berth::fileop::internal {

namespace {

using patternmatcher::PatternMatcher;

struct timespec Clamp(struct timespec t, std::optional<int64_t> epoch) {
  if (epoch && t.tv_sec >= *epoch) {
    return {static_cast<time_t>(*epoch), 0};
  }
  return t;
}

// A directory of the destination being copied to, created lazily when include or exclude
// patterns may leave it empty (BuildKit creates `a/` for `--include=a/*/c` only once it
// meets a/b/c).
struct Frame {
  Frame* parent = nullptr;
  std::string name;     // in parent's directory
  std::string dst_rel;  // root-relative destination path
  struct stat st {};    // of the source directory
  int src_fd = -1;      // source directory (O_PATH)
  UniqueFd dst_fd;      // once ensured
  bool ensured = false;
  bool target_root = false;  // the existing directory contents are copied into: left alone
};

class Copier {
 public:
  Copier(const Context& ctx, const graph::CopyAction& action, const FileOpEnv& env, int dst_root)
      : ctx_(ctx), action_(action), env_(env), dst_root_(dst_root) {}

  Result<> Init(bool reset_owners) {
    owner_ = BERTH_TRY(ResolveChown(action_.chown, env_.dest_root));
    reset_owners_ = reset_owners;
    if (!action_.chmod.empty()) {
      chmod_ = BERTH_TRY(ModeChange::Parse(action_.chmod));
    }
    if (!action_.include_patterns.empty()) {
      include_ = BERTH_TRY(PatternMatcher::Create(action_.include_patterns));
    }
    if (!action_.exclude_patterns.empty()) {
      exclude_ = BERTH_TRY(PatternMatcher::Create(action_.exclude_patterns));
    }
    return {};
  }

  // Metadata for directories a copy creates on the way to its destination.
  Meta ParentMeta() const {
    Meta m;
    m.owner = owner_;
    if (action_.timestamp >= 0) {
      m.mtime = m.atime = timespec{static_cast<time_t>(action_.timestamp), 0};
    }
    return m;
  }

  Meta MetaFor(const struct stat& st) const {
    Meta m;
    if (owner_) {
      m.owner = owner_;
    } else if (reset_owners_) {
      m.owner = Owner{0, 0};
    } else {
      m.owner = Owner{st.st_uid, st.st_gid};
    }
    m.mode = chmod_ ? chmod_->Apply(st.st_mode) : (st.st_mode & 07777);
    if (action_.timestamp >= 0) {
      m.atime = m.mtime = timespec{static_cast<time_t>(action_.timestamp), 0};
    } else {
      m.atime = st.st_atim;
      m.mtime = st.st_mtim;
    }
    m.atime = Clamp(*m.atime, env_.source_date_epoch);
    m.mtime = Clamp(*m.mtime, env_.source_date_epoch);
    return m;
  }

  std::optional<Owner> owner() const { return owner_; }
  const std::optional<PatternMatcher>& exclude() const { return exclude_; }

  // Copies the directory open as `src` (O_PATH) into the existing directory `dst`: its
  // contents, not the directory itself.
  Result<> CopyContents(int src, const struct stat& st, UniqueFd dst, const std::string& dst_rel) {
    Frame root;
    root.dst_rel = dst_rel;
    root.st = st;
    root.src_fd = src;
    root.dst_fd = std::move(dst);
    root.ensured = true;
    root.target_root = true;
    return WalkDir(&root, "", include_ ? false : true);
  }

  // Copies the entry open as `src` (O_PATH, not followed) to `name` in `dst_dir`.
  Result<> CopyEntry(int src, const struct stat& st, UniqueFd dst_dir, const std::string& name,
                     const std::string& dst_rel) {
    Frame parent;
    parent.dst_fd = std::move(dst_dir);
    parent.ensured = true;
    parent.target_root = true;
    parent.dst_rel = SplitPath(dst_rel).first;
    if (S_ISDIR(st.st_mode)) {
      Frame f;
      f.parent = &parent;
      f.name = name;
      f.dst_rel = dst_rel;
      f.st = st;
      f.src_fd = src;
      BERTH_TRY(Ensure(&f));
      BERTH_TRY(WalkDir(&f, "", !include_));
      return Finish(&f);
    }
    return CopyLeaf(src, st, parent.dst_fd.get(), name, dst_rel);
  }

 private:
  Result<> Ensure(Frame* f) {
    if (f->ensured) {
      return {};
    }
    BERTH_TRY(Ensure(f->parent));
    int dir = f->parent->dst_fd.get();
    std::optional<struct stat> existing = BERTH_TRY(LstatAt(dir, f->name));
    if (existing && !S_ISDIR(existing->st_mode)) {
      return Error::InvalidArgument("cannot copy to non-directory: /" + f->dst_rel);
    }
    if (!existing && ::mkdirat(dir, f->name.c_str(), 0700) != 0) {
      return Error::FromErrno("mkdir /" + f->dst_rel, errno);
    }
    f->dst_fd.Reset(
        ::openat(dir, f->name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!f->dst_fd) {
      return Error::FromErrno("open /" + f->dst_rel, errno);
    }
    f->ensured = true;
    return {};
  }

  // Directories get their metadata after their contents, so that their mtimes stick.
  Result<> Finish(Frame* f) {
    if (!f->ensured || f->target_root) {
      return {};
    }
    Meta m = MetaFor(f->st);
    Meta owner_only;
    owner_only.owner = m.owner;
    m.owner.reset();
    BERTH_TRY(ApplyMetaFd(f->dst_fd.get(), owner_only, f->dst_rel));
    UniqueFd src = BERTH_TRY(Reopen(f->src_fd, O_RDONLY | O_DIRECTORY));
    BERTH_TRY(CopyXattrs(src.get(), f->dst_fd.get(), f->dst_rel));
    return ApplyMetaFd(f->dst_fd.get(), m, f->dst_rel);
  }

  // Whether an excluded directory must still be walked: a later '!' pattern may re-include
  // something below it (fsutil's rule).
  bool ReincludesBelow(const std::string& comps) const {
    if (!exclude_->exclusions()) {
      return false;
    }
    std::string dir_slash = comps + "/";
    for (const patternmatcher::Pattern& p : exclude_->patterns()) {
      if (p.exclusion() && (p.text() + "/").starts_with(dir_slash)) {
        return true;
      }
    }
    return false;
  }

  Result<> WalkDir(Frame* f, const std::string& comps, bool included) {
    for (const std::string& name : BERTH_TRY(ListDir(f->src_fd))) {
      BERTH_TRY(ctx_.Check());
      UniqueFd child(::openat(f->src_fd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!child) {
        return Error::FromErrno("open " + JoinPath(comps, name), errno);
      }
      struct stat st = BERTH_TRY(Stat(child.get()));
      std::string child_comps = JoinPath(comps, name);
      bool child_included = included;
      bool copy_now = true;
      if (!included) {
        child_included = BERTH_TRY(include_->MatchesOrParentMatches(child_comps));
        if (!child_included) {
          if (!S_ISDIR(st.st_mode)) {
            continue;
          }
          copy_now = false;
        }
      }
      if (exclude_ && BERTH_TRY(exclude_->MatchesOrParentMatches(child_comps))) {
        if (!S_ISDIR(st.st_mode) || !ReincludesBelow(child_comps)) {
          continue;
        }
        copy_now = false;
      }
      std::string dst_rel = JoinPath(f->dst_rel, name);
      if (S_ISDIR(st.st_mode)) {
        Frame sub;
        sub.parent = f;
        sub.name = name;
        sub.dst_rel = dst_rel;
        sub.st = st;
        sub.src_fd = child.get();
        if (copy_now) {
          BERTH_TRY(Ensure(&sub));
        }
        BERTH_TRY(WalkDir(&sub, child_comps, child_included && copy_now));
        BERTH_TRY(Finish(&sub));
        continue;
      }
      BERTH_TRY(Ensure(f));
      BERTH_TRY(CopyLeaf(child.get(), st, f->dst_fd.get(), name, dst_rel));
    }
    return {};
  }

  // Makes room for a non-directory at `name`: what is there goes, unless it is a directory.
  Result<> ClearTarget(int dir, const std::string& name, const std::string& dst_rel) {
    std::optional<struct stat> existing = BERTH_TRY(LstatAt(dir, name));
    if (!existing) {
      return {};
    }
    if (S_ISDIR(existing->st_mode)) {
      return Error::InvalidArgument("cannot replace directory /" + dst_rel + " with a file");
    }
    if (::unlinkat(dir, name.c_str(), 0) != 0) {
      return Error::FromErrno("remove /" + dst_rel, errno);
    }
    return {};
  }

  Result<> CopyLeaf(int src, const struct stat& st, int dir, const std::string& name,
                    const std::string& dst_rel) {
    BERTH_TRY(ClearTarget(dir, name, dst_rel));
    Meta m = MetaFor(st);
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        auto key = std::make_pair(st.st_dev, st.st_ino);
        if (auto it = links_.find(key); it != links_.end()) {
          auto [link_dir, link_name] = SplitPath(it->second);
          UniqueFd ld = BERTH_TRY(OpenAt2(dst_root_, link_dir, O_PATH | O_DIRECTORY));
          if (::linkat(ld.get(), link_name.c_str(), dir, name.c_str(), 0) != 0) {
            return Error::FromErrno("link /" + dst_rel + " to /" + it->second, errno);
          }
          return {};
        }
        links_[key] = dst_rel;
      }
      UniqueFd in = BERTH_TRY(Reopen(src, O_RDONLY | O_NOCTTY));
      UniqueFd out(
          ::openat(dir, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!out) {
        return Error::FromErrno("create /" + dst_rel, errno);
      }
      BERTH_TRY(CopyData(in.get(), out.get(), dst_rel));
      Meta owner_only;
      owner_only.owner = m.owner;
      m.owner.reset();
      // chown first: it clears security.capability and set-id bits, which come after.
      BERTH_TRY(ApplyMetaFd(out.get(), owner_only, dst_rel));
      BERTH_TRY(CopyXattrs(in.get(), out.get(), dst_rel));
      return ApplyMetaFd(out.get(), m, dst_rel);
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(src, "", target.data(), target.size());
      if (n < 0) {
        return Error::FromErrno("readlink for /" + dst_rel, errno);
      }
      target.resize(static_cast<size_t>(n));
      if (::symlinkat(target.c_str(), dir, name.c_str()) != 0) {
        return Error::FromErrno("symlink /" + dst_rel, errno);
      }
      return ApplyMetaSymlink(dir, name, m);
    }
    if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode) || S_ISFIFO(st.st_mode)) {
      if (::mknodat(dir, name.c_str(), (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) {
        return Error::FromErrno("mknod /" + dst_rel, errno);
      }
      BERTH_TRY(
          ApplyMetaSymlink(dir, name, Meta{m.owner, std::nullopt, std::nullopt, std::nullopt}));
      if (::fchmodat(dir, name.c_str(), *m.mode, 0) != 0) {
        return Error::FromErrno("chmod /" + dst_rel, errno);
      }
      return ApplyMetaSymlink(dir, name, Meta{std::nullopt, std::nullopt, m.atime, m.mtime});
    }
    // Sockets cannot be copied meaningfully; BuildKit skips them too.
    return {};
  }

  static Result<> CopyData(int in, int out, const std::string& what) {
    bool first = true;
    while (true) {
      ssize_t n = ::copy_file_range(in, nullptr, out, nullptr, size_t{1} << 30, 0);
      if (n == 0) {
        return {};
      }
      if (n < 0) {
        if (first && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL ||
                      errno == EPERM)) {
          break;
        }
        if (errno == EINTR) {
          continue;
        }
        return Error::FromErrno("copy to /" + what, errno);
      }
      first = false;
    }
    FdReader reader(in);
    FdWriter writer(out);
    BERTH_TRY_CONTEXT(berth::Copy(writer, reader), "copying to /" + what);
    return {};
  }

  const Context& ctx_;
  const graph::CopyAction& action_;
  const FileOpEnv& env_;
  int dst_root_;
  std::optional<Owner> owner_;
  bool reset_owners_ = false;
  std::optional<ModeChange> chmod_;
  std::optional<PatternMatcher> include_;
  std::optional<PatternMatcher> exclude_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;
};

bool EndsWithSlash(std::string_view p) {
  return p.ends_with("/") || p.ends_with("/.") || p == "." || p.empty();
}

// The part of `path` below `base` (both root-relative, clean).
std::string Below(const std::string& path, const std::string& base) {
  if (base.empty()) {
    return path;
  }
  if (path == base) {
    return "";
  }
  if (path.starts_with(base + "/")) {
    return path.substr(base.size() + 1);
  }
  return path;
}

}  // namespace

Result<> Copy(const Context& ctx, const graph::CopyAction& a, const FileOpEnv& env) {
  UniqueFd dst_root = BERTH_TRY(OpenRoot(env.dest_root));
  std::optional<UniqueFd> src_root;
  bool reset_owners = false;
  if (a.src_input >= 0) {
    if (static_cast<size_t>(a.src_input) >= env.sources.size()) {
      return Error::InvalidArgument("copy from input " + std::to_string(a.src_input) +
                                    ", which the op does not have");
    }
    const SourceRoot& s = env.sources[static_cast<size_t>(a.src_input)];
    reset_owners = s.reset_owners;
    if (!s.path.empty()) {
      src_root = BERTH_TRY(OpenRoot(s.path));
    }
  }
  Copier copier(ctx, a, env, dst_root.get());
  BERTH_TRY(copier.Init(reset_owners));

  // "a/./b/c": with --parents, only "b/c" is kept below the destination.
  std::string src = a.src;
  std::string pivot;
  bool has_pivot = false;
  if (a.parents) {
    size_t p = src.find("/./");
    if (p != std::string::npos) {
      pivot = RelPath(src.substr(0, p));
      has_pivot = true;
    }
  }

  std::vector<std::string> matches;
  std::string glob_base;
  bool glob = a.allow_wildcard && HasWildcards(RelPath(src));
  if (glob) {
    if (src_root) {
      matches = BERTH_TRY(Glob(src_root->get(), src, &glob_base));
    }
    if (matches.empty()) {
      if (a.allow_empty_wildcard) {
        return {};
      }
      return Error::NotFound("no source files were specified: no match for \"" + a.src + "\"");
    }
  } else {
    matches.push_back(RelPath(src));
  }

  std::string dest = RelPath(a.dest);
  bool dest_slash = EndsWithSlash(a.dest);
  for (const std::string& rel : matches) {
    BERTH_TRY(ctx.Check());
    auto not_found = [&] {
      return Error::NotFound("\"/" + rel + "\": not found");
    };
    if (!src_root) {
      return not_found();
    }
    // The selection itself: followed inside the source root when asked, else taken as is.
    UniqueFd sel;
    {
      Result<UniqueFd> opened = Error::Internal("unset");
      if (a.follow_symlinks || rel.empty()) {
        opened = OpenAt2(src_root->get(), rel, O_PATH);
      } else {
        auto [dir, base] = SplitPath(rel);
        Result<UniqueFd> parent = OpenAt2(src_root->get(), dir, O_PATH | O_DIRECTORY);
        if (parent.ok()) {
          int fd = ::openat(parent->get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
          opened =
              fd >= 0 ? Result<UniqueFd>(UniqueFd(fd)) : Error::FromErrno("open " + rel, errno);
        } else {
          opened = std::move(parent).error();
        }
      }
      if (!opened.ok()) {
        int err = opened.error().sys_errno();
        if (err == ENOENT || err == ENOTDIR) {
          return not_found();
        }
        return std::move(opened).error();
      }
      sel = std::move(opened).value();
    }
    struct stat st = BERTH_TRY(Stat(sel.get()));
    bool src_dir = S_ISDIR(st.st_mode);

    // Glob matches are filtered like the entries below them: by their path below the glob's
    // directory (`COPY --exclude=*.txt hom* /dst/`).
    if (glob && copier.exclude() && !src_dir) {
      if (BERTH_TRY(copier.exclude()->MatchesOrParentMatches(Below(rel, glob_base)))) {
        continue;
      }
    }

    std::string dest_path = dest;
    bool slash = dest_slash;
    if (a.parents) {
      std::string kept = has_pivot ? Below(rel, pivot) : rel;
      if (src_dir) {
        dest_path = JoinPath(dest, kept);
        slash = true;
      } else {
        dest_path = JoinPath(dest, SplitPath(kept).first);
        slash = true;
      }
    }
    if (a.create_dest_path) {
      BERTH_TRY(MkdirAll(dst_root.get(), slash ? dest_path : SplitPath(dest_path).first, 0755,
                         copier.ParentMeta()));
    }

    if (a.attempt_unpack && S_ISREG(st.st_mode) && BERTH_TRY(IsTarArchive(sel.get()))) {
      UniqueFd target = BERTH_TRY(MkdirAll(dst_root.get(), dest_path, 0755, copier.ParentMeta()));
      UnpackOptions uo;
      uo.owner = copier.owner();
      if (a.timestamp >= 0) {
        uo.timestamp = a.timestamp;
      }
      uo.source_date_epoch = env.source_date_epoch;
      BERTH_TRY_CONTEXT(ExtractTar(ctx, sel.get(), target.get(), uo), "extracting /" + rel);
      continue;
    }

    bool dest_exists = false;
    bool dest_is_dir = false;
    {
      Result<UniqueFd> d = OpenAt2(dst_root.get(), dest_path, O_PATH);
      if (d.ok()) {
        struct stat dst = BERTH_TRY(Stat(d->get()));
        dest_exists = true;
        dest_is_dir = S_ISDIR(dst.st_mode);
      } else if (d.error().sys_errno() != ENOENT) {
        return std::move(d).error().AddContext("destination /" + dest_path);
      }
    }
    if (src_dir && a.dir_copy_contents) {
      if (dest_exists && !dest_is_dir) {
        return Error::InvalidArgument("cannot copy to non-directory: /" + dest_path);
      }
      UniqueFd target = BERTH_TRY(MkdirAll(dst_root.get(), dest_path, 0755, copier.ParentMeta()));
      BERTH_TRY(copier.CopyContents(sel.get(), st, std::move(target), dest_path));
      continue;
    }
    bool into = dest_exists && (src_dir || dest_is_dir);
    if (!dest_exists && slash) {
      into = true;  // create_dest_path was off and the directory is missing
    }
    std::string final_path = into ? JoinPath(dest_path, SplitPath(rel).second) : dest_path;
    auto [parent_rel, name] = SplitPath(final_path);
    if (name.empty()) {
      return Error::InvalidArgument("cannot copy /" + rel + " over the root directory");
    }
    Result<UniqueFd> parent = OpenAt2(dst_root.get(), parent_rel, O_RDONLY | O_DIRECTORY);
    if (!parent.ok()) {
      return std::move(parent).error().AddContext("destination directory /" + parent_rel);
    }
    BERTH_TRY(copier.CopyEntry(sel.get(), st, std::move(parent).value(), name, final_path));
  }
  return {};
}

}  // namespace berth::fileop::internal
