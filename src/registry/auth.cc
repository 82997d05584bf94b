#include "registry/auth.h"

#include <stdlib.h>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "os/file.h"

namespace berth::registry {

namespace {

bool IsTokenChar(char c) {
  if (c <= 32 || c >= 127) {
    return false;
  }
  static constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={} \t";
  return kSeparators.find(c) == std::string_view::npos;
}

class ChallengeLexer {
 public:
  explicit ChallengeLexer(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) {
      ++pos_;
    }
  }
  void SkipSpaceAndCommas() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == ',')) {
      ++pos_;
    }
  }
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  void Advance() { ++pos_; }
  size_t pos() const { return pos_; }
  void set_pos(size_t pos) { pos_ = pos; }

  std::string Token() {
    size_t start = pos_;
    while (pos_ < text_.size() && IsTokenChar(text_[pos_])) {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  // A quoted string (at the opening quote) with backslash escapes; false if unterminated.
  bool Quoted(std::string* out) {
    ++pos_;  // opening quote
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') {
        return true;
      }
      if (c == '\\' && pos_ < text_.size()) {
        c = text_[pos_++];
      }
      out->push_back(c);
    }
    return false;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Drops "https://", "http://" and any path from a config.json key.
std::string NormalizeConfigKey(std::string_view key) {
  std::string_view k = Trim(key);
  for (std::string_view scheme : {"https://", "http://"}) {
    if (k.size() >= scheme.size() && EqualsIgnoreCase(k.substr(0, scheme.size()), scheme)) {
      k.remove_prefix(scheme.size());
      break;
    }
  }
  size_t slash = k.find('/');
  if (slash != std::string_view::npos) {
    k = k.substr(0, slash);
  }
  return CredentialHost(ToLower(k));
}

}  // namespace

std::string Challenge::Param(const std::string& key) const {
  auto it = params.find(key);
  return it == params.end() ? std::string() : it->second;
}

std::vector<Challenge> ParseWwwAuthenticate(std::string_view header) {
  std::vector<Challenge> challenges;
  ChallengeLexer lex(header);
  lex.SkipSpaceAndCommas();
  while (!lex.AtEnd()) {
    std::string scheme = lex.Token();
    if (scheme.empty()) {
      break;  // garbage: keep what was parsed
    }
    Challenge challenge;
    challenge.scheme = ToLower(scheme);
    // Parameters until a token that is not followed by '=' (the next challenge's scheme).
    while (true) {
      lex.SkipSpaceAndCommas();
      size_t start = lex.pos();
      std::string key = lex.Token();
      if (key.empty()) {
        break;
      }
      lex.SkipSpace();
      if (lex.Peek() != '=') {
        lex.set_pos(start);  // a new challenge begins here
        break;
      }
      lex.Advance();
      lex.SkipSpace();
      std::string value;
      if (lex.Peek() == '"') {
        if (!lex.Quoted(&value)) {
          challenges.push_back(std::move(challenge));
          return challenges;
        }
      } else {
        value = lex.Token();
        // token68 padding ("abc==") belongs to the value.
        while (lex.Peek() == '=') {
          value.push_back('=');
          lex.Advance();
        }
      }
      challenge.params[ToLower(key)] = std::move(value);
    }
    challenges.push_back(std::move(challenge));
    lex.SkipSpaceAndCommas();
    if (!lex.AtEnd() && !IsTokenChar(lex.Peek())) {
      break;
    }
  }
  return challenges;
}

std::string CredentialHost(std::string_view domain) {
  std::string d = ToLower(domain);
  if (d == "docker.io" || d == "index.docker.io" || d == "registry-1.docker.io") {
    return "docker.io";
  }
  return d;
}

Result<DockerConfig> DockerConfig::Parse(std::string_view json) {
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(json);
  } catch (const nlohmann::json::exception& e) {
    return Error::InvalidArgument(std::string("docker config: invalid JSON: ") + e.what());
  }
  DockerConfig config;
  if (!doc.is_object()) {
    return Error::InvalidArgument("docker config: not a JSON object");
  }
  auto store = doc.find("credsStore");
  if (store != doc.end() && !store->is_null()) {
    if (!store->is_string()) {
      return Error::InvalidArgument("docker config: credsStore: not a string");
    }
    config.creds_store_ = store->get<std::string>();
  }
  auto helpers = doc.find("credHelpers");
  if (helpers != doc.end() && !helpers->is_null()) {
    if (!helpers->is_object()) {
      return Error::InvalidArgument("docker config: credHelpers: not an object");
    }
    for (const auto& [key, helper] : helpers->items()) {
      if (!helper.is_string()) {
        return Error::InvalidArgument("docker config: credHelpers[" + QuoteString(key) +
                                      "]: not a string");
      }
      config.helpers_[NormalizeConfigKey(key)] = helper.get<std::string>();
    }
  }
  auto auths = doc.find("auths");
  if (auths == doc.end() || auths->is_null()) {
    return config;
  }
  if (!auths->is_object()) {
    return Error::InvalidArgument("docker config: auths: not an object");
  }
  for (const auto& [key, entry] : auths->items()) {
    if (!entry.is_object()) {
      return Error::InvalidArgument("docker config: auths[" + QuoteString(key) +
                                    "]: not an object");
    }
    Credentials creds;
    auto field = [&](const char* name) -> std::string {
      auto it = entry.find(name);
      return it != entry.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::string auth = field("auth");
    if (!auth.empty()) {
      Result<std::string> decoded = Base64Decode(auth);
      if (!decoded.ok()) {
        return Error::InvalidArgument("docker config: auths[" + QuoteString(key) +
                                      "].auth: " + decoded.error().message());
      }
      bool found = false;
      auto [user, password] = SplitOnce(*decoded, ':', &found);
      if (!found) {
        return Error::InvalidArgument("docker config: auths[" + QuoteString(key) +
                                      "].auth: not base64 of \"user:password\"");
      }
      creds.username = std::move(user);
      creds.password = std::move(password);
    } else {
      creds.username = field("username");
      creds.password = field("password");
    }
    creds.identity_token = field("identitytoken");
    if (creds.username.empty() && creds.password.empty() && creds.identity_token.empty()) {
      continue;  // a placeholder for a helper's entry
    }
    config.auths_[NormalizeConfigKey(key)] = std::move(creds);
  }
  return config;
}

Result<DockerConfig> DockerConfig::LoadFile(const std::string& path) {
  Result<std::string> text = os::ReadFile(path);
  if (!text.ok()) {
    if (text.error().code() == ErrorCode::kNotFound) {
      return DockerConfig();
    }
    return std::move(text).error().AddContext("reading " + path);
  }
  DockerConfig config = BERTH_TRY_CONTEXT(Parse(*text), "reading " + path);
  config.path_ = path;
  return config;
}

Result<DockerConfig> DockerConfig::Load() {
  const char* dir = ::getenv("DOCKER_CONFIG");
  if (dir != nullptr && *dir != '\0') {
    return LoadFile(std::string(dir) + "/config.json");
  }
  const char* home = ::getenv("HOME");
  if (home == nullptr || *home == '\0') {
    return DockerConfig();
  }
  return LoadFile(std::string(home) + "/.docker/config.json");
}

std::string HelperServerUrl(std::string_view domain) {
  if (CredentialHost(domain) == "docker.io") {
    return "https://index.docker.io/v1/";
  }
  return std::string(domain);
}

std::string DockerConfig::HelperFor(std::string_view domain, std::string* source) const {
  auto it = helpers_.find(NormalizeConfigKey(domain));
  if (it != helpers_.end() && !it->second.empty()) {
    if (source != nullptr) {
      *source = "credHelpers[" + QuoteString(it->first) + "]";
    }
    return it->second;
  }
  if (source != nullptr) {
    *source = "credsStore";
  }
  return creds_store_;
}

Result<std::optional<Credentials>> DockerConfig::Lookup(std::string_view domain) const {
  std::string key = NormalizeConfigKey(domain);
  std::string source;
  std::string helper = HelperFor(domain, &source);
  if (!helper.empty()) {
    std::string url = HelperServerUrl(key);
    Result<std::optional<Credentials>> found =
        run_helper_ ? run_helper_(helper, url) : RunCredentialHelper(helper, url);
    if (!found.ok()) {
      return std::move(found).error().AddContext("credentials for registry " + key + " (" + source +
                                                 (path_.empty() ? std::string() : " in " + path_) +
                                                 ")");
    }
    if (found->has_value()) {
      return found;
    }
  }
  auto it = auths_.find(key);
  if (it == auths_.end()) {
    return std::optional<Credentials>();
  }
  return std::optional<Credentials>(it->second);
}

void DockerConfig::Set(std::string_view domain, Credentials credentials) {
  auths_[NormalizeConfigKey(domain)] = std::move(credentials);
}

namespace {
constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string Base64Encode(std::string_view data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < data.size(); i += 3) {
    uint32_t v = (uint32_t{static_cast<unsigned char>(data[i])} << 16) |
                 (uint32_t{static_cast<unsigned char>(data[i + 1])} << 8) |
                 uint32_t{static_cast<unsigned char>(data[i + 2])};
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(kBase64Alphabet[(v >> 6) & 63]);
    out.push_back(kBase64Alphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t{static_cast<unsigned char>(data[i])} << 16;
    if (rest == 2) {
      v |= uint32_t{static_cast<unsigned char>(data[i + 1])} << 8;
    }
    out.push_back(kBase64Alphabet[(v >> 18) & 63]);
    out.push_back(kBase64Alphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kBase64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Result<std::string> Base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') {
    text.remove_suffix(1);
  }
  if (text.size() % 4 == 1) {
    return Error::InvalidArgument("invalid base64: bad length");
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    size_t v = kBase64Alphabet.find(c);
    if (v == std::string_view::npos) {
      return Error::InvalidArgument("invalid base64: unexpected character " +
                                    QuoteString(std::string(1, c)));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return out;
}

}  // namespace berth::registry
