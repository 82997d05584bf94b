#include "fileop/checksum.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fileop/fs.h"
#include "patternmatcher/patternmatcher.h"

namespace berth::fileop {

namespace {

using internal::JoinPath;
using patternmatcher::PatternMatcher;

struct Record {
  std::string path;  // root-relative
  char type = 'f';
  uint32_t mode = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;
  std::string link;
  std::optional<std::string> capability;
  // Regular files: where to reopen them for hashing, and the content digest once hashed.
  int base = -1;
  std::string below;
  std::string content;
};

char TypeOf(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFDIR:
      return 'd';
    case S_IFLNK:
      return 'l';
    case S_IFCHR:
      return 'c';
    case S_IFBLK:
      return 'b';
    case S_IFIFO:
      return 'p';
    case S_IFSOCK:
      return 's';
    default:
      return 'f';
  }
}

class Walker {
 public:
  Walker(const Context& ctx, const ChecksumOptions& o) : ctx_(ctx), options_(o) {}

  Result<> Init() {
    if (!options_.include_patterns.empty()) {
      include_ = BERTH_TRY(PatternMatcher::Create(options_.include_patterns));
    }
    if (!options_.exclude_patterns.empty()) {
      exclude_ = BERTH_TRY(PatternMatcher::Create(options_.exclude_patterns));
    }
    return {};
  }

  const std::optional<PatternMatcher>& exclude() const { return exclude_; }

  // Records the entry `fd` (O_PATH) at `path`; `base` is the selection's fd index and `below`
  // the entry's path below it.
  Result<> Add(int fd, const std::string& path, int base, const std::string& below) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      return Error::FromErrno("stat " + path, errno);
    }
    Record r;
    r.path = path;
    r.type = TypeOf(st.st_mode);
    r.mode = st.st_mode & 07777;
    if (!options_.ignore_owners) {
      r.uid = st.st_uid;
      r.gid = st.st_gid;
    }
    if (S_ISREG(st.st_mode)) {
      r.size = static_cast<uint64_t>(st.st_size);
      r.base = base;
      r.below = below;
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(fd, "", target.data(), target.size());
      if (n < 0) {
        return Error::FromErrno("readlink " + path, errno);
      }
      target.resize(static_cast<size_t>(n));
      r.link = target;
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      r.size = st.st_rdev;
    }
    if (!S_ISLNK(st.st_mode)) {
      r.capability = internal::GetXattr(fd, "security.capability");
    }
    records_.push_back(std::move(r));
    return {};
  }

  Result<> Walk(int dirfd, const std::string& path, int base, const std::string& below,
                bool included) {
    for (const std::string& name : BERTH_TRY(internal::ListDir(dirfd))) {
      BERTH_TRY(ctx_.Check());
      UniqueFd child(::openat(dirfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!child) {
        return Error::FromErrno("open " + JoinPath(path, name), errno);
      }
      struct stat st {};
      if (::fstat(child.get(), &st) != 0) {
        return Error::FromErrno("stat " + JoinPath(path, name), errno);
      }
      std::string comps = JoinPath(below, name);
      bool child_included = included;
      bool record = true;
      if (!included) {
        child_included = BERTH_TRY(include_->MatchesOrParentMatches(comps));
        if (!child_included) {
          if (!S_ISDIR(st.st_mode)) {
            continue;
          }
          record = false;
        }
      }
      if (exclude_ && BERTH_TRY(exclude_->MatchesOrParentMatches(comps))) {
        if (!S_ISDIR(st.st_mode) || !exclude_->exclusions()) {
          continue;
        }
        record = false;
      }
      if (record) {
        BERTH_TRY(Add(child.get(), JoinPath(path, name), base, comps));
      }
      if (S_ISDIR(st.st_mode)) {
        BERTH_TRY(Walk(child.get(), JoinPath(path, name), base, comps, child_included && record));
      }
    }
    return {};
  }

  bool has_include() const { return include_.has_value(); }
  std::vector<Record>& records() { return records_; }

 private:
  const Context& ctx_;
  const ChecksumOptions& options_;
  std::optional<PatternMatcher> include_;
  std::optional<PatternMatcher> exclude_;
  std::vector<Record> records_;
};

Result<std::string> HashFile(int base, const std::string& below, std::vector<char>& buf) {
  UniqueFd fd;
  if (below.empty()) {
    fd = BERTH_TRY(internal::Reopen(base, O_RDONLY | O_NOCTTY));
  } else {
    fd = BERTH_TRY(internal::OpenAt2(base, below, O_RDONLY | O_NOFOLLOW | O_NOCTTY, true));
  }
  digest::Sha256 h;
  while (true) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Error::FromErrno("read " + below, errno);
    }
    h.Update(buf.data(), static_cast<size_t>(n));
  }
  return h.Finish().hex();
}

// Hashes the contents of every regular file, on two threads when there are many.
Result<> HashContents(const Context& ctx, std::vector<Record>& records) {
  std::vector<Record*> files;
  for (Record& r : records) {
    if (r.base >= 0) {
      files.push_back(&r);
    }
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::optional<Error> first_error;
  std::mutex mu;
  auto work = [&] {
    std::vector<char> buf(256 * 1024);
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= files.size()) {
        return;
      }
      Result<std::string> h = ctx.Check().ok() ? HashFile(files[i]->base, files[i]->below, buf)
                                               : Result<std::string>(ctx.Check().error());
      if (!h.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error) {
          first_error = std::move(h).error().AddContext("hashing " + files[i]->path);
        }
        failed = true;
        return;
      }
      files[i]->content = std::move(h).value();
    }
  };
  if (files.size() >= 16) {
    std::thread helper(work);
    work();
    helper.join();
  } else {
    work();
  }
  if (first_error) {
    return std::move(*first_error);
  }
  return {};
}

}  // namespace

Result<digest::Digest> Checksum(const Context& ctx, const std::string& root,
                                const std::string& selector, const ChecksumOptions& options) {
  UniqueFd root_fd = BERTH_TRY(internal::OpenRoot(root));
  Walker walker(ctx, options);
  BERTH_TRY(walker.Init());
  std::vector<std::string> matches;
  std::string glob_base;
  bool glob = options.wildcard && internal::HasWildcards(internal::RelPath(selector));
  if (glob) {
    matches = BERTH_TRY(internal::Glob(root_fd.get(), selector, &glob_base));
    if (matches.empty()) {
      return Error::NotFound("no match for \"" + selector + "\"");
    }
  } else {
    matches.push_back(internal::RelPath(selector));
  }
  std::vector<UniqueFd> bases;
  for (const std::string& rel : matches) {
    Result<UniqueFd> opened = Error::Internal("unset");
    if (options.follow_symlinks || rel.empty()) {
      opened = internal::OpenAt2(root_fd.get(), rel, O_PATH);
    } else {
      auto [dir, name] = internal::SplitPath(rel);
      Result<UniqueFd> parent = internal::OpenAt2(root_fd.get(), dir, O_PATH | O_DIRECTORY);
      if (parent.ok()) {
        int fd = ::openat(parent->get(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
        opened = fd >= 0 ? Result<UniqueFd>(UniqueFd(fd)) : Error::FromErrno("open " + rel, errno);
      } else {
        opened = std::move(parent).error();
      }
    }
    if (!opened.ok()) {
      int err = opened.error().sys_errno();
      if (err == ENOENT || err == ENOTDIR) {
        return Error::NotFound("\"/" + rel + "\": not found");
      }
      return std::move(opened).error();
    }
    UniqueFd fd = std::move(opened).value();
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return Error::FromErrno("stat " + rel, errno);
    }
    if (glob && walker.exclude() && !S_ISDIR(st.st_mode)) {
      std::string below = rel.substr(glob_base.empty() ? 0 : glob_base.size() + 1);
      if (BERTH_TRY(walker.exclude()->MatchesOrParentMatches(below))) {
        continue;
      }
    }
    int base = static_cast<int>(bases.size());
    BERTH_TRY(walker.Add(fd.get(), rel.empty() ? "." : rel, -1, ""));
    if (S_ISREG(st.st_mode)) {
      walker.records().back().base = fd.get();
    }
    if (S_ISDIR(st.st_mode)) {
      BERTH_TRY(walker.Walk(fd.get(), rel, base, "", !walker.has_include()));
    }
    bases.push_back(std::move(fd));
  }
  // Record bases are indexes until now: turn them into descriptors.
  for (Record& r : walker.records()) {
    if (r.base >= 0 && !r.below.empty()) {
      r.base = bases[static_cast<size_t>(r.base)].get();
    }
  }
  BERTH_TRY(HashContents(ctx, walker.records()));
  digest::Sha256 h;
  auto field = [&h](std::string_view key, std::string_view value) {
    h.Update(key);
    h.Update("=", 1);
    std::string len = std::to_string(value.size());
    h.Update(len);
    h.Update(":", 1);
    h.Update(value);
    h.Update("\n", 1);
  };
  for (const Record& r : walker.records()) {
    field("path", r.path);
    field("type", std::string_view(&r.type, 1));
    field("mode", std::to_string(r.mode));
    field("uid", std::to_string(r.uid));
    field("gid", std::to_string(r.gid));
    field("size", std::to_string(r.size));
    field("link", r.link);
    field("cap", r.capability ? "1" + *r.capability : "0");
    field("content", r.content);
  }
  return h.Finish();
}

}  // namespace berth::fileop
