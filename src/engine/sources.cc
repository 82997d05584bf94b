#include "engine/sources.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <optional>
#include <vector>

#include "base/io.h"
#include "base/scope_exit.h"
#include "base/strings.h"
#include "base/unique_fd.h"
#include "digest/hashing_writer.h"
#include "executor/subprocess.h"
#include "os/file.h"
#include "registry/http.h"
#include "snapshot/fs_util.h"

namespace berth::engine {
namespace {

// An HTTP date (RFC 7231 IMF-fixdate) as Unix seconds; 0 when it does not parse.
int64_t ParseHttpDate(const std::string& text) {
  struct tm tm {};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr) {
    return 0;
  }
  return static_cast<int64_t>(timegm(&tm));
}

// The git program: posix_spawn needs a path.
Result<std::string> GitPath() {
  const char* path = std::getenv("PATH");
  for (const std::string& dir : StrSplit(path != nullptr ? path : "/usr/bin:/bin", ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/git";
    if (::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return Error::FailedPrecondition("git is not installed (apt-get install git)");
}

// Runs git with `args`; the output on success, an error quoting git's last line otherwise.
Result<std::string> Git(const Context& ctx, const std::vector<std::string>& args,
                        const std::string& what) {
  BERTH_TRY(ctx.Check());
  std::vector<std::string> argv = {BERTH_TRY(GitPath())};
  // No prompts for credentials and no system or user config steering the fetch.
  argv.insert(argv.end(), {"-c", "credential.helper=", "-c", "protocol.file.allow=always"});
  argv.insert(argv.end(), args.begin(), args.end());
  setenv("GIT_TERMINAL_PROMPT", "0", 1);  // NOLINT(concurrency-mt-unsafe)
  executor::RunOutput out = BERTH_TRY_CONTEXT(executor::RunCommand(argv), what);
  if (out.exit_code != 0) {
    std::string text(Trim(out.output));
    if (size_t nl = text.rfind('\n'); nl != std::string::npos) {
      text = text.substr(nl + 1);
    }
    return Error::Unavailable(what + ": git exited with " + std::to_string(out.exit_code) +
                              (text.empty() ? "" : ": " + text));
  }
  return out.output;
}

bool IsCommitId(const std::string& ref) {
  if (ref.size() != 40 && ref.size() != 64) {
    return false;
  }
  for (char c : ref) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<Download> DownloadUrl(const Context& ctx, const std::string& url, const std::string& path,
                             const std::string& checksum) {
  std::optional<digest::Digest> want;
  if (!checksum.empty()) {
    want = BERTH_TRY_CONTEXT(digest::Digest::Parse(checksum), "--checksum " + checksum);
  }
  UniqueFd fd = BERTH_TRY(os::Open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  bool keep = false;
  ScopeExit remove([&] {
    if (!keep) {
      (void)unlink(path.c_str());
    }
  });
  FdWriter file(fd.get());
  digest::HashingWriter hashing(file);
  static registry::HttpClient* client = new registry::HttpClient();  // shared, never destroyed
  registry::HttpRequest request;
  request.url = url;
  request.sink = &hashing;
  registry::HttpResponse response =
      BERTH_TRY_CONTEXT(client->Do(ctx, request), "downloading " + url);
  if (response.status < 200 || response.status >= 300) {
    return Error::Unavailable("downloading " + url + ": HTTP status " +
                              std::to_string(response.status));
  }
  BERTH_TRY(hashing.Close());
  Download d{.digest = hashing.digest(),
             .size = hashing.bytes(),
             .mtime = ParseHttpDate(response.headers.Get("last-modified"))};
  if (want && !(*want == d.digest)) {
    return Error::InvalidArgument("digest mismatch for " + url + ": --checksum says " +
                                  want->ToString() + ", the content is " + d.digest.ToString());
  }
  if (::fsync(fd.get()) != 0) {
    return Error::FromErrno("writing " + path, errno);
  }
  keep = true;
  return d;
}

Result<std::string> GitResolve(const Context& ctx, const std::string& remote,
                               const std::string& ref) {
  if (IsCommitId(ref)) {
    return ref;
  }
  std::string want = ref.empty() ? "HEAD" : ref;
  std::string out =
      BERTH_TRY(Git(ctx, {"ls-remote", "--", remote, want}, "resolving " + want + " at " + remote));
  // Lines "<commit>\t<ref>"; prefer an exact ref, then a branch, then a tag (peeled "^{}" for
  // annotated tags, which name the commit rather than the tag object).
  std::string best;
  int best_rank = 0;
  for (const std::string& line : StrSplit(out, '\n')) {
    size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      continue;
    }
    std::string commit = line.substr(0, tab);
    std::string name = line.substr(tab + 1);
    int rank = 0;
    if (name == want) {
      rank = 4;
    } else if (name == "refs/tags/" + want + "^{}") {
      rank = 5;
    } else if (name == "refs/heads/" + want) {
      rank = 3;
    } else if (name == "refs/tags/" + want) {
      rank = 2;
    }
    if (rank > best_rank) {
      best = commit;
      best_rank = rank;
    }
  }
  if (best.empty()) {
    return Error::NotFound("git ref " + want + " not found at " + remote);
  }
  return best;
}

Result<> GitCheckout(const Context& ctx, const std::string& remote, const std::string& commit,
                     const std::string& dest, const GitCheckoutOptions& options) {
  if (options.subdir.find("..") != std::string::npos) {
    return Error::InvalidArgument("git subdir " + options.subdir + ": must not contain ..");
  }
  BERTH_TRY(os::MakeDirs(dest, 0755));
  std::string work = dest;
  std::string subdir(Trim(options.subdir));
  while (!subdir.empty() && subdir.front() == '/') {
    subdir.erase(0, 1);
  }
  if (!subdir.empty()) {
    work = dest + "/.berth-git-checkout";
  }
  std::string what = "fetching " + commit.substr(0, 12) + " from " + remote;
  BERTH_TRY(Git(ctx, {"init", "-q", work}, what));
  BERTH_TRY(Git(ctx, {"-C", work, "remote", "add", "origin", remote}, what));
  BERTH_TRY(Git(ctx, {"-C", work, "fetch", "-q", "--depth", "1", "origin", commit}, what));
  BERTH_TRY(Git(ctx, {"-C", work, "checkout", "-q", "FETCH_HEAD"}, what));
  if (options.submodules) {
    BERTH_TRY(
        Git(ctx, {"-C", work, "submodule", "update", "-q", "--init", "--recursive", "--depth", "1"},
            what));
  }
  if (subdir.empty()) {
    if (!options.keep_git_dir) {
      BERTH_TRY(snapshot::RemoveAll(work + "/.git"));
    }
    return {};
  }
  // Only the subdirectory's contents stay: move them up, then drop the rest.
  std::string from = work + "/" + subdir;
  std::error_code ec;
  std::filesystem::path real_from = std::filesystem::canonical(from, ec);
  if (ec) {
    return Error::NotFound("git subdir " + options.subdir + " is not in the repository");
  }
  std::filesystem::path real_work = std::filesystem::canonical(work, ec);
  if (ec || !real_from.string().starts_with(real_work.string() + "/") ||
      !std::filesystem::is_directory(real_from)) {
    return Error::InvalidArgument("git subdir " + options.subdir +
                                  " is not a directory inside the repository");
  }
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(real_from, ec)) {
    names.push_back(entry.path().filename().string());
  }
  if (ec) {
    return Error::FromErrno("listing " + real_from.string(), ec.value());
  }
  for (const std::string& name : names) {
    if (::rename((real_from / name).c_str(), (dest + "/" + name).c_str()) != 0) {
      return Error::FromErrno("moving " + name + " out of " + subdir, errno);
    }
  }
  BERTH_TRY(snapshot::RemoveAll(work));
  return {};
}

}  // namespace berth::engine
