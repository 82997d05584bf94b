// The parts of Go's net/url that BuildKit's git reference parsing depends on: url.Parse,
// URL.String, url.ParseQuery and the percent-encoding rules behind them. Internal to gitref;
// the behaviour, including what is rejected, follows Go's so that remotes round-trip the same.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace berth::gitref::internal {

// Decoded query parameters; std::map so iteration order is deterministic (sorted by key).
using QueryValues = std::map<std::string, std::vector<std::string>>;

struct Url {
  std::string scheme;  // lower-cased
  std::string opaque;  // for "scheme:rest" without a leading '/'
  bool has_user = false;
  std::string username;
  bool has_password = false;
  std::string password;
  std::string host;      // decoded, including ":port"
  std::string path;      // decoded
  std::string raw_path;  // the path as written, used by String() when it is validly encoded
  bool omit_host = false;
  bool force_query = false;  // the URL ended in a lone '?'
  std::string raw_query;
  std::string fragment;  // decoded

  // URL.String: the URL re-encoded. The fragment is written when non-empty.
  std::string String() const;
  // URL.Query: the parsed raw_query; malformed pairs are dropped, as Go does.
  QueryValues Query() const;
};

// url.Parse. Errors: InvalidArgument, e.g. for control characters, a bad %-escape, a bad
// port, a malformed userinfo, or "first path segment in URL cannot contain colon".
Result<Url> ParseUrl(std::string_view raw);

// url.ParseQuery: '&'-separated key=value pairs, '+' and %-escapes decoded. The values that
// parsed are always returned in *values; the result is the first error (a bad escape or a
// ';' separator), if any.
Result<> ParseQuery(std::string_view query, QueryValues* values);

}  // namespace berth::gitref::internal
