// Git references in build sources (`ADD <git url>`, git build contexts), recognised and split
// the way BuildKit's Dockerfile frontend does it (dfgitutil.ParseGitRef).
//
// Recognised forms:
//   https://host/path/repo.git[?query][#ref[:subdir]]   (http(s) only with a ".git" path)
//   git://host/path[...], ssh://[user@]host/path[...]
//   user@host:path[?query][#ref[:subdir]]               (scp-style, ssh)
//   github.com/owner/repo[...]                          (deprecated: looks like a local path)
// Query keys: ref, tag (-> refs/tags/...), branch (-> refs/heads/...), subdir, checksum or
// commit, keep-git-dir, submodules, fetch-by-commit (booleans; a bare key means true) and
// mtime ("checkout" or "commit").
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace berth::gitref {

struct GitRef {
  // The repository to clone, without query and fragment ("https://github.com/foo/bar.git",
  // "git@github.com:foo/bar.git", "github.com/foo/bar").
  std::string remote;
  // The repository's directory name: the last element of remote without ".git" ("bar").
  std::string short_name;
  // Commit, tag or branch to check out; empty for the default branch.
  std::string ref;
  // Commit hash the checkout must resolve to; empty when not pinned.
  std::string checksum;
  // Directory inside the repository to use; empty for the root.
  std::string subdir;
  // The deprecated "github.com/..." form that is indistinguishable from a local path.
  bool indistinguishable_from_local = false;
  // git:// or http:// (unencrypted transport).
  bool unencrypted_tcp = false;
  // Whether to keep the .git directory / fetch submodules; unset when not specified.
  std::optional<bool> keep_git_dir;
  std::optional<bool> submodules;
  // File modification times to set: "", "checkout" or "commit".
  std::string mtime;
  bool fetch_by_commit = false;

  bool operator==(const GitRef&) const = default;
};

// Parses `ref`. Returns std::nullopt when `ref` is not a git reference (a local path, a plain
// HTTP URL without ".git", an unknown scheme, an unparsable URL): the caller treats it as a
// local or HTTP source.
// Errors: InvalidArgument for a git reference with bad options, with BuildKit's messages:
// `ref conflicts: "a" vs "b"`, `subdir conflicts: ...`, "branch conflicts with tag",
// `query "k" has no value`, `query "k" has multiple values`, `unexpected query "k"`,
// `invalid keep-git-dir value: "x"` (likewise submodules, fetch-by-commit, mtime). Query keys
// are checked in sorted order, so the first error reported is deterministic (BuildKit's
// depends on Go's map order).
Result<std::optional<GitRef>> ParseGitRef(std::string_view ref);

}  // namespace berth::gitref
