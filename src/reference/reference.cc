#include "reference/reference.h"

#include <cctype>

#include "base/strings.h"
#include "digest/digest.h"

namespace berth::reference {
namespace {

constexpr std::string_view kDefaultDomain = "docker.io";
constexpr std::string_view kOfficialPrefix = "library/";

bool IsAlnumLower(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

// A path component: [a-z0-9]+ joined by separators "." "_" "__" or one-or-more "-".
bool ValidComponent(std::string_view c) {
  if (c.empty() || !IsAlnumLower(c.front()) || !IsAlnumLower(c.back())) {
    return false;
  }
  for (size_t i = 0; i < c.size(); ++i) {
    char ch = c[i];
    if (IsAlnumLower(ch)) {
      continue;
    }
    if (ch == '.') {
      if (!IsAlnumLower(c[i + 1])) {
        return false;
      }
    } else if (ch == '_') {
      if (c[i + 1] == '_') {
        ++i;
      }
      if (!IsAlnumLower(c[i + 1])) {
        return false;
      }
    } else if (ch == '-') {
      while (c[i + 1] == '-') {
        ++i;
      }
      if (!IsAlnumLower(c[i + 1])) {
        return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

bool ValidTag(std::string_view tag) {
  if (tag.empty() || tag.size() > 128) {
    return false;
  }
  auto word = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_';
  };
  if (!word(tag[0])) {
    return false;
  }
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool ValidDomain(std::string_view domain) {
  if (domain.empty()) {
    return false;
  }
  for (char c : domain) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '.' && c != '-' && c != ':' &&
        c != '[' && c != ']') {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string Reference::String() const {
  std::string out = Name();
  if (!tag.empty()) {
    out += ":" + tag;
  }
  if (!digest.empty()) {
    out += "@" + digest;
  }
  return out;
}

std::string Reference::Familiar() const {
  std::string name = Name();
  if (domain == kDefaultDomain) {
    name = path;
    if (name.rfind(kOfficialPrefix, 0) == 0 &&
        name.find('/', kOfficialPrefix.size()) == std::string::npos) {
      name = name.substr(kOfficialPrefix.size());
    }
  }
  if (!tag.empty()) {
    name += ":" + tag;
  }
  if (!digest.empty()) {
    name += "@" + digest;
  }
  return name;
}

Result<Reference> ParseNormalized(std::string_view text) {
  std::string input(text);
  auto fail = [&](const std::string& why) {
    return Error::InvalidArgument("invalid reference \"" + input + "\": " + why);
  };
  if (text.empty()) {
    return fail("empty");
  }
  if (text.size() > 4096) {
    return fail("too long");
  }
  Reference ref;
  if (size_t at = text.find('@'); at != std::string_view::npos) {
    Result<digest::Digest> d = digest::Digest::Parse(text.substr(at + 1));
    if (!d.ok()) {
      return fail(d.error().message());
    }
    ref.digest = d->ToString();
    text = text.substr(0, at);
  }
  // Domain: the first component if it has a "." or ":" or is "localhost".
  std::string_view remainder = text;
  size_t slash = text.find('/');
  if (slash != std::string_view::npos) {
    std::string_view first = text.substr(0, slash);
    if (first.find('.') != std::string_view::npos || first.find(':') != std::string_view::npos ||
        first == "localhost" || first != ToLower(first)) {
      if (first != ToLower(first) && first.find('.') == std::string_view::npos &&
          first.find(':') == std::string_view::npos && first != "localhost") {
        return fail("repository name must be lowercase");
      }
      ref.domain = std::string(first);
      remainder = text.substr(slash + 1);
    }
  }
  // Tag: after the last ":" in the remainder (the domain's port is already split off).
  if (size_t colon = remainder.rfind(':'); colon != std::string_view::npos) {
    ref.tag = std::string(remainder.substr(colon + 1));
    remainder = remainder.substr(0, colon);
    if (!ValidTag(ref.tag)) {
      return fail("invalid tag \"" + ref.tag + "\"");
    }
  }
  if (ref.domain.empty()) {
    ref.domain = std::string(kDefaultDomain);
  } else if (!ValidDomain(ref.domain)) {
    return fail("invalid domain \"" + ref.domain + "\"");
  }
  if (ref.domain == "index.docker.io") {
    ref.domain = std::string(kDefaultDomain);
  }
  if (remainder.empty()) {
    return fail("empty repository path");
  }
  for (const std::string& component : StrSplit(remainder, '/')) {
    if (!ValidComponent(component)) {
      if (component != ToLower(component)) {
        return fail("repository name must be lowercase");
      }
      return fail("invalid path component \"" + component + "\"");
    }
  }
  ref.path = std::string(remainder);
  if (ref.domain == kDefaultDomain && ref.path.find('/') == std::string::npos) {
    ref.path = std::string(kOfficialPrefix) + ref.path;
  }
  if (ref.tag.empty() && ref.digest.empty()) {
    ref.tag = "latest";
  }
  if (ref.Name().size() > 255) {
    return fail("repository name longer than 255 characters");
  }
  return ref;
}

}  // namespace berth::reference
