#include "gitref/gitref.h"

#include <vector>

#include "base/strings.h"
#include "gitref/go_url.h"

namespace berth::gitref {
namespace {

using internal::QueryValues;

// What gitutil.ParseURL extracts from a git URL.
struct GitUrl {
  std::string scheme;
  std::string path;
  std::optional<QueryValues> query;  // unset when there is no query
  bool has_opts = false;             // a non-empty fragment: "ref[:subdir]"
  std::string opts_ref;
  std::string opts_subdir;
  std::string remote;  // the URL without query and fragment
};

void SetOpts(std::string_view fragment, GitUrl* git) {
  if (fragment.empty()) {
    return;
  }
  git->has_opts = true;
  size_t colon = fragment.find(':');
  git->opts_ref = std::string(fragment.substr(0, colon));
  if (colon != std::string_view::npos) {
    git->opts_subdir = std::string(fragment.substr(colon + 1));
  }
}

// gitutil.FromURL.
GitUrl FromUrl(const internal::Url& url) {
  GitUrl git;
  git.scheme = url.scheme;
  git.path = url.path;
  QueryValues query = url.Query();
  if (!query.empty()) {
    git.query = std::move(query);
  }
  SetOpts(url.fragment, &git);
  internal::Url without_opts = url;
  without_opts.fragment.clear();
  without_opts.raw_query.clear();
  git.remote = without_opts.String();
  return git;
}

bool IsUserChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

// sshutil.ParseSCPStyleURL + fromSCPStyleURL: "user@host:path[?query][#fragment]", i.e. the
// regexp ^([a-zA-Z0-9-_]+)@([a-zA-Z0-9-.]+):(.*?)(?:\?(.*?))?(?:#(.*))?$ .
std::optional<GitUrl> ParseScpStyle(std::string_view raw) {
  size_t at = raw.find('@');
  if (at == 0 || at == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view user = raw.substr(0, at);
  for (char c : user) {
    if (!IsUserChar(c)) {
      return std::nullopt;
    }
  }
  std::string_view rest = raw.substr(at + 1);
  size_t colon = rest.find(':');
  if (colon == 0 || colon == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view host = rest.substr(0, colon);
  for (char c : host) {
    if (!IsHostChar(c)) {
      return std::nullopt;
    }
  }
  std::string_view tail = rest.substr(colon + 1);
  // The regexp's '.' does not match a newline.
  if (tail.find('\n') != std::string_view::npos) {
    return std::nullopt;
  }
  // The path ends at the first '?' or '#'; a query runs to the first '#' after it.
  size_t end = tail.find_first_of("?#");
  std::string_view path = tail.substr(0, end);
  std::string_view query;
  std::string_view fragment;
  if (end != std::string_view::npos && tail[end] == '?') {
    std::string_view after = tail.substr(end + 1);
    size_t hash = after.find('#');
    query = after.substr(0, hash);
    if (hash != std::string_view::npos) {
      fragment = after.substr(hash + 1);
    }
  } else if (end != std::string_view::npos) {
    fragment = tail.substr(end + 1);
  }
  GitUrl git;
  if (!query.empty()) {
    QueryValues values;
    if (!internal::ParseQuery(query, &values).ok()) {
      return std::nullopt;
    }
    if (!values.empty()) {
      git.query = std::move(values);
    }
  }
  git.scheme = "ssh";
  git.path = std::string(path);
  SetOpts(fragment, &git);
  // The user name's characters never need escaping.
  git.remote = std::string(user) + "@" + std::string(host) + ":" + std::string(path);
  return git;
}

bool HasSupportedProtocol(std::string_view raw, bool* has_protocol) {
  size_t n = 0;
  while (n < raw.size() && ((raw[n] >= 'a' && raw[n] <= 'z') || (raw[n] >= 'A' && raw[n] <= 'Z') ||
                            (raw[n] >= '0' && raw[n] <= '9'))) {
    ++n;
  }
  *has_protocol = n > 0 && raw.substr(n).starts_with("://");
  if (!*has_protocol) {
    return false;
  }
  std::string proto = ToLower(raw.substr(0, n));
  return proto == "http" || proto == "https" || proto == "ssh" || proto == "git";
}

// gitutil.ParseURL; nullopt when `raw` is no git URL.
std::optional<GitUrl> ParseGitUrl(std::string_view raw) {
  bool has_protocol = false;
  bool supported = HasSupportedProtocol(raw, &has_protocol);
  if (has_protocol) {
    if (!supported) {
      return std::nullopt;
    }
    Result<internal::Url> url = internal::ParseUrl(raw);
    if (!url.ok()) {
      return std::nullopt;
    }
    return FromUrl(*url);
  }
  return ParseScpStyle(raw);
}

// strconv.ParseBool.
std::optional<bool> ParseBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") {
    return true;
  }
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False") {
    return false;
  }
  return std::nullopt;
}

Error QueryError(std::string message) {
  return Error::InvalidArgument(std::move(message));
}

// A boolean option: a bare key means true.
Result<bool> FlagValue(const std::string& key, const std::optional<std::string>& value) {
  if (!value) {
    return true;
  }
  std::optional<bool> b = ParseBool(*value);
  if (!b) {
    return QueryError("invalid " + key + " value: " + QuoteString(*value));
  }
  return *b;
}

Result<> SetRef(std::string* ref, const std::string& value) {
  if (!ref->empty() && *ref != value) {
    return QueryError("ref conflicts: " + QuoteString(*ref) + " vs " + QuoteString(value));
  }
  *ref = value;
  return {};
}

// GitRef.loadQuery.
Result<> LoadQuery(const QueryValues& query, GitRef* gf) {
  std::string tag;
  std::string branch;
  for (const auto& [key, values] : query) {
    if (values.size() > 1) {
      return QueryError("query " + QuoteString(key) + " has multiple values");
    }
    std::optional<std::string> value;
    if (!values.empty() && !values[0].empty()) {
      value = values[0];
    } else if (key != "submodules" && key != "keep-git-dir" && key != "fetch-by-commit") {
      return QueryError("query " + QuoteString(key) + " has no value");
    }
    if (key == "ref") {
      BERTH_TRY(SetRef(&gf->ref, *value));
    } else if (key == "tag") {
      tag = *value;
    } else if (key == "branch") {
      branch = *value;
    } else if (key == "subdir") {
      if (!gf->subdir.empty() && gf->subdir != *value) {
        return QueryError("subdir conflicts: " + QuoteString(gf->subdir) + " vs " +
                          QuoteString(*value));
      }
      gf->subdir = *value;
    } else if (key == "checksum" || key == "commit") {
      gf->checksum = *value;
    } else if (key == "keep-git-dir") {
      gf->keep_git_dir = BERTH_TRY(FlagValue(key, value));
    } else if (key == "submodules") {
      gf->submodules = BERTH_TRY(FlagValue(key, value));
    } else if (key == "fetch-by-commit") {
      gf->fetch_by_commit = BERTH_TRY(FlagValue(key, value));
    } else if (key == "mtime") {
      if (*value != "checkout" && *value != "commit") {
        return QueryError("invalid mtime value: " + QuoteString(*value) +
                          " (must be \"checkout\" or \"commit\")");
      }
      gf->mtime = *value;
    } else {
      return QueryError("unexpected query " + QuoteString(key));
    }
  }
  if (!tag.empty()) {
    if (!tag.starts_with("refs/tags/")) {
      tag.insert(0, "refs/tags/");
    }
    BERTH_TRY(SetRef(&gf->ref, tag));
  }
  if (!branch.empty()) {
    if (!tag.empty()) {
      return QueryError("branch conflicts with tag");
    }
    if (!branch.starts_with("refs/heads/")) {
      branch.insert(0, "refs/heads/");
    }
    BERTH_TRY(SetRef(&gf->ref, branch));
  }
  return {};
}

}  // namespace

Result<std::optional<GitRef>> ParseGitRef(std::string_view ref) {
  GitRef res;
  std::optional<GitUrl> remote;
  if (ref.starts_with("./") || ref.starts_with("../")) {
    return std::optional<GitRef>();
  }
  if (ref.starts_with("github.com/")) {
    res.indistinguishable_from_local = true;
    Result<internal::Url> url = internal::ParseUrl(ref);
    if (!url.ok()) {
      return std::optional<GitRef>();
    }
    url->scheme = "https";
    remote = FromUrl(*url);
  } else {
    remote = ParseGitUrl(ref);
    if (!remote) {
      return std::optional<GitRef>();
    }
    if (remote->scheme == "http" || remote->scheme == "git") {
      res.unencrypted_tcp = true;
    }
    // An HTTP(S) URL is a git repository only with the ".git" suffix.
    if ((remote->scheme == "http" || remote->scheme == "https") &&
        !remote->path.ends_with(".git")) {
      return std::optional<GitRef>();
    }
  }

  res.remote = remote->remote;
  if (res.indistinguishable_from_local) {
    if (size_t sep = res.remote.find("://"); sep != std::string::npos) {
      res.remote.erase(0, sep + 3);
    } else {
      res.remote.clear();
    }
  }
  if (remote->has_opts) {
    res.ref = remote->opts_ref;
    res.subdir = remote->opts_subdir;
  }
  std::string_view last = res.remote;
  last = last.substr(last.rfind('/') == std::string_view::npos ? 0 : last.rfind('/') + 1);
  if (last.ends_with(".git")) {
    last.remove_suffix(4);
  }
  res.short_name = std::string(last);

  if (remote->query) {
    BERTH_TRY_CONTEXT(LoadQuery(*remote->query, &res), "git reference " + QuoteString(ref));
  }
  return std::optional<GitRef>(std::move(res));
}

}  // namespace berth::gitref
