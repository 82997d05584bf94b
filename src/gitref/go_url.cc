#include "gitref/go_url.h"

#include "base/strings.h"

namespace berth::gitref::internal {
namespace {

// Which component a string belongs to: the characters that may stay unescaped differ.
enum class Encoding { kPath, kHost, kZone, kUserPassword, kQueryComponent, kFragment };

bool IsAlnum(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int Unhex(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return c - 'A' + 10;
}

// Go's shouldEscape.
bool ShouldEscape(unsigned char c, Encoding mode) {
  if (IsAlnum(c)) {
    return false;
  }
  if (mode == Encoding::kHost || mode == Encoding::kZone) {
    switch (c) {
      case '!':
      case '$':
      case '&':
      case '\'':
      case '(':
      case ')':
      case '*':
      case '+':
      case ',':
      case ';':
      case '=':
      case ':':
      case '[':
      case ']':
      case '<':
      case '>':
      case '"':
        return false;
      default:
        break;
    }
  }
  switch (c) {
    case '-':
    case '_':
    case '.':
    case '~':
      return false;
    case '$':
    case '&':
    case '+':
    case ',':
    case '/':
    case ':':
    case ';':
    case '=':
    case '?':
    case '@':
      switch (mode) {
        case Encoding::kPath:
          return c == '?';
        case Encoding::kUserPassword:
          return c == '@' || c == '/' || c == '?' || c == ':';
        case Encoding::kQueryComponent:
          return true;
        case Encoding::kFragment:
          return false;
        default:
          break;
      }
      break;
    default:
      break;
  }
  if (mode == Encoding::kFragment && (c == '!' || c == '(' || c == ')' || c == '*')) {
    return false;
  }
  return true;
}

Error EscapeError(std::string_view s) {
  return Error::InvalidArgument("invalid URL escape " + QuoteString(s));
}

// Go's unescape.
Result<std::string> Unescape(std::string_view s, Encoding mode) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '%') {
      if (i + 2 >= s.size() || !IsHex(s[i + 1]) || !IsHex(s[i + 2])) {
        return EscapeError(s.substr(i, 3));
      }
      std::string_view esc = s.substr(i, 3);
      // In a host, %-escapes may only encode non-ASCII bytes, or '%' itself (RFC 6874).
      if (mode == Encoding::kHost && Unhex(s[i + 1]) < 8 && esc != "%25") {
        return EscapeError(esc);
      }
      if (mode == Encoding::kZone) {
        auto v = static_cast<unsigned char>(Unhex(s[i + 1]) << 4 | Unhex(s[i + 2]));
        if (esc != "%25" && v != ' ' && ShouldEscape(v, Encoding::kHost)) {
          return EscapeError(esc);
        }
      }
      i += 3;
    } else {
      if ((mode == Encoding::kHost || mode == Encoding::kZone) && c < 0x80 &&
          ShouldEscape(c, mode)) {
        return Error::InvalidArgument("invalid character " + QuoteString(s.substr(i, 1)) +
                                      " in host name");
      }
      ++i;
    }
  }
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      out.push_back(static_cast<char>(Unhex(s[i + 1]) << 4 | Unhex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && mode == Encoding::kQueryComponent) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Go's escape.
std::string Escape(std::string_view s, Encoding mode) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (!ShouldEscape(c, mode)) {
      out.push_back(ch);
    } else if (c == ' ' && mode == Encoding::kQueryComponent) {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// Go's validEncoded: whether `s` can be used as written for the given component.
bool ValidEncoded(std::string_view s, Encoding mode) {
  for (char ch : s) {
    switch (ch) {
      case '!':
      case '$':
      case '&':
      case '\'':
      case '(':
      case ')':
      case '*':
      case '+':
      case ',':
      case ';':
      case '=':
      case ':':
      case '@':
      case '[':
      case ']':
      case '%':
        break;
      default:
        if (ShouldEscape(static_cast<unsigned char>(ch), mode)) {
          return false;
        }
    }
  }
  return true;
}

bool ValidOptionalPort(std::string_view port) {
  if (port.empty()) {
    return true;
  }
  if (port[0] != ':') {
    return false;
  }
  for (char c : port.substr(1)) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

bool ValidUserinfo(std::string_view s) {
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsAlnum(c)) {
      continue;
    }
    switch (c) {
      case '-':
      case '.':
      case '_':
      case ':':
      case '~':
      case '!':
      case '$':
      case '&':
      case '\'':
      case '(':
      case ')':
      case '*':
      case '+':
      case ',':
      case ';':
      case '=':
      case '%':
      case '@':
        continue;
      default:
        // Go iterates runes, so any non-ASCII byte fails here too.
        return false;
    }
  }
  return true;
}

Result<std::string> ParseHost(std::string_view host) {
  if (host.starts_with('[')) {
    // An IP literal: "[fe80::1]", "[fe80::1%25en0]", "[fe80::1]:80".
    size_t close = host.rfind(']');
    if (close == std::string_view::npos) {
      return Error::InvalidArgument("missing ']' in host");
    }
    std::string_view colon_port = host.substr(close + 1);
    if (!ValidOptionalPort(colon_port)) {
      return Error::InvalidArgument("invalid port " + QuoteString(colon_port) + " after host");
    }
    size_t zone = host.substr(0, close).find("%25");
    if (zone != std::string_view::npos) {
      std::string h1 = BERTH_TRY(Unescape(host.substr(0, zone), Encoding::kHost));
      std::string h2 = BERTH_TRY(Unescape(host.substr(zone, close - zone), Encoding::kZone));
      std::string h3 = BERTH_TRY(Unescape(host.substr(close), Encoding::kHost));
      return h1 + h2 + h3;
    }
  } else if (size_t colon = host.rfind(':'); colon != std::string_view::npos) {
    std::string_view colon_port = host.substr(colon);
    if (!ValidOptionalPort(colon_port)) {
      return Error::InvalidArgument("invalid port " + QuoteString(colon_port) + " after host");
    }
  }
  return Unescape(host, Encoding::kHost);
}

Result<> ParseAuthority(std::string_view authority, Url* url) {
  size_t at = authority.rfind('@');
  url->host =
      BERTH_TRY(ParseHost(at == std::string_view::npos ? authority : authority.substr(at + 1)));
  if (at == std::string_view::npos) {
    return {};
  }
  std::string_view userinfo = authority.substr(0, at);
  if (!ValidUserinfo(userinfo)) {
    return Error::InvalidArgument("net/url: invalid userinfo");
  }
  url->has_user = true;
  size_t colon = userinfo.find(':');
  url->username = BERTH_TRY(Unescape(userinfo.substr(0, colon), Encoding::kUserPassword));
  if (colon != std::string_view::npos) {
    url->has_password = true;
    url->password = BERTH_TRY(Unescape(userinfo.substr(colon + 1), Encoding::kUserPassword));
  }
  return {};
}

// Go's getScheme: the scheme before ':' if the text starts with one.
Result<std::pair<std::string_view, std::string_view>> SplitScheme(std::string_view raw) {
  for (size_t i = 0; i < raw.size(); ++i) {
    const auto c = static_cast<unsigned char>(raw[i]);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
      continue;
    }
    if ((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.') {
      if (i == 0) {
        return std::pair{std::string_view(), raw};
      }
      continue;
    }
    if (c == ':') {
      if (i == 0) {
        return Error::InvalidArgument("missing protocol scheme");
      }
      return std::pair{raw.substr(0, i), raw.substr(i + 1)};
    }
    break;
  }
  return std::pair{std::string_view(), raw};
}

}  // namespace

Result<Url> ParseUrl(std::string_view raw) {
  const size_t hash = raw.find('#');
  std::string_view rest = raw.substr(0, hash);
  for (char c : rest) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Error::InvalidArgument("net/url: invalid control character in URL");
    }
  }
  Url url;
  if (hash != std::string_view::npos) {
    url.fragment = BERTH_TRY(Unescape(raw.substr(hash + 1), Encoding::kFragment));
  }
  if (rest == "*") {
    url.path = "*";
    url.raw_path = "*";
    return url;
  }
  auto [scheme, after_scheme] = BERTH_TRY(SplitScheme(rest));
  url.scheme = ToLower(scheme);
  rest = after_scheme;

  if (rest.ends_with('?') && rest.find('?') == rest.size() - 1) {
    url.force_query = true;
    rest.remove_suffix(1);
  } else if (size_t q = rest.find('?'); q != std::string_view::npos) {
    url.raw_query = std::string(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }

  if (!rest.starts_with('/')) {
    if (!url.scheme.empty()) {
      // A rootless path after a scheme is opaque (RFC 3986).
      url.opaque = std::string(rest);
      return url;
    }
    if (rest.substr(0, rest.find('/')).find(':') != std::string_view::npos) {
      return Error::InvalidArgument("first path segment in URL cannot contain colon");
    }
  }

  if ((!url.scheme.empty() || !rest.starts_with("///")) && rest.starts_with("//")) {
    std::string_view authority = rest.substr(2);
    rest = {};
    if (size_t slash = authority.find('/'); slash != std::string_view::npos) {
      rest = authority.substr(slash);
      authority = authority.substr(0, slash);
    }
    BERTH_TRY(ParseAuthority(authority, &url));
  } else if (!url.scheme.empty() && rest.starts_with('/')) {
    url.omit_host = true;
  }

  url.path = BERTH_TRY(Unescape(rest, Encoding::kPath));
  url.raw_path = std::string(rest);
  return url;
}

std::string Url::String() const {
  std::string out;
  if (!scheme.empty()) {
    out += scheme;
    out += ':';
  }
  if (!opaque.empty()) {
    out += opaque;
  } else {
    if (!scheme.empty() || !host.empty() || has_user) {
      if (!(omit_host && host.empty() && !has_user)) {
        if (!host.empty() || !path.empty() || has_user) {
          out += "//";
        }
        if (has_user) {
          out += Escape(username, Encoding::kUserPassword);
          if (has_password) {
            out += ':';
            out += Escape(password, Encoding::kUserPassword);
          }
          out += '@';
        }
        out += Escape(host, Encoding::kHost);
      }
    }
    // URL.EscapedPath: the path as written when that is a valid encoding, else re-escaped.
    std::string escaped_path;
    if (!raw_path.empty() && ValidEncoded(raw_path, Encoding::kPath)) {
      escaped_path = raw_path;
    } else if (path == "*") {
      escaped_path = "*";
    } else {
      escaped_path = Escape(path, Encoding::kPath);
    }
    if (!escaped_path.empty() && escaped_path[0] != '/' && !host.empty()) {
      out += '/';
    }
    if (out.empty()) {
      // A relative path whose first segment has a colon would read as a scheme.
      std::string_view first = std::string_view(escaped_path).substr(0, escaped_path.find('/'));
      if (first.find(':') != std::string_view::npos) {
        out += "./";
      }
    }
    out += escaped_path;
  }
  if (force_query || !raw_query.empty()) {
    out += '?';
    out += raw_query;
  }
  if (!fragment.empty()) {
    out += '#';
    out += Escape(fragment, Encoding::kFragment);
  }
  return out;
}

QueryValues Url::Query() const {
  QueryValues values;
  (void)ParseQuery(raw_query, &values);
  return values;
}

Result<> ParseQuery(std::string_view query, QueryValues* values) {
  Result<> first_error;
  auto note = [&](Error e) {
    if (first_error.ok()) {
      first_error = std::move(e);
    }
  };
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.find(';') != std::string_view::npos) {
      note(Error::InvalidArgument("invalid semicolon separator in query"));
      continue;
    }
    if (pair.empty()) {
      continue;
    }
    size_t eq = pair.find('=');
    Result<std::string> key = Unescape(pair.substr(0, eq), Encoding::kQueryComponent);
    if (!key.ok()) {
      note(std::move(key).error());
      continue;
    }
    Result<std::string> value =
        Unescape(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1),
                 Encoding::kQueryComponent);
    if (!value.ok()) {
      note(std::move(value).error());
      continue;
    }
    (*values)[*key].push_back(std::move(value).value());
  }
  return first_error;
}

}  // namespace berth::gitref::internal
