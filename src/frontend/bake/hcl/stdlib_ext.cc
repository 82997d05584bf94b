// The bake standard library, part two: hashing and UUIDs (OpenSSL), regular expressions
// (std::regex with RE2 syntax translated; see hcl.h for what is not supported), date and time,
// and IP network arithmetic.
#include <crypt.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <regex>

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "base/strings.h"
#include "frontend/bake/hcl/stdlib_internal.h"

namespace berth::frontend::bake::hcl::internal {

namespace {

Value Str(std::string s) {
  return Value::String(std::move(s));
}

// ---- hashing ----

std::string Hex(const unsigned char* data, size_t n) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kHex[data[i] >> 4]);
    out.push_back(kHex[data[i] & 15]);
  }
  return out;
}

Result<std::string> Digest(const EVP_MD* md, std::string_view data, bool hex) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) {
    return Error::Internal("hashing failed");
  }
  return hex ? Hex(out, len) : std::string(reinterpret_cast<char*>(out), len);
}

std::string FormatUuid(const unsigned char b[16]) {
  std::string h = Hex(b, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

std::optional<std::string> ParseUuidBytes(std::string_view s) {
  std::string hex;
  for (char c : s) {
    if (c != '-') {
      hex.push_back(c);
    }
  }
  if (hex.size() != 32) {
    return std::nullopt;
  }
  std::string out;
  for (size_t i = 0; i < 32; i += 2) {
    auto nib = [](char c) -> int {
      if (c >= '0' && c <= '9') {
        return c - '0';
      }
      if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
      }
      if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
      }
      return -1;
    };
    const int hi = nib(hex[i]);
    const int lo = nib(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

// Base64 via OpenSSL's EVP block codec (for rsadecrypt's input).
Result<std::string> DecodeBase64(std::string_view in) {
  std::string out(in.size() / 4 * 3 + 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0 || in.size() % 4 != 0) {
    return Error::InvalidArgument("failed to decode base64 data");
  }
  auto len = static_cast<size_t>(n);
  for (size_t i = in.size(); i > 0 && in[i - 1] == '='; --i) {
    --len;
  }
  out.resize(len);
  return out;
}

void DefineHashing(Scope* s) {
  struct Algo {
    const char* name;
    const EVP_MD* (*md)();
  };
  for (const Algo& algo : {Algo{"md5", EVP_md5}, Algo{"sha1", EVP_sha1}, Algo{"sha256", EVP_sha256},
                           Algo{"sha512", EVP_sha512}}) {
    auto md = algo.md;
    Define(s, algo.name, 1, 1, [md](CallContext&, Args& a) -> Result<Value> {
      return Str(BERTH_TRY(Digest(md(), BERTH_TRY(StringArg(a, 0, "str")), true)));
    });
  }
  // bcrypt(str[, cost]): Go's bcrypt as terraform/cty has it: "$2a$", cost 10 by default (4 to
  // 31), at most 72 bytes of input. Hashed by libxcrypt with a fresh random salt.
  Define(s, "bcrypt", 1, 2, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string password = BERTH_TRY(StringArg(a, 0, "str"));
    int64_t cost = a.size() > 1 ? BERTH_TRY(IntArg(a, 1, "cost")) : 10;
    if (cost < 4 || cost > 31) {
      return Error::InvalidArgument("bcrypt: cost " + std::to_string(cost) +
                                    " is outside the allowed range (4,31)");
    }
    if (password.size() > 72) {
      return Error::InvalidArgument("bcrypt: password length exceeds 72 bytes");
    }
    // 2^cost rounds of work, counted against the evaluation's budget: the default allows cost
    // 18 (tens of seconds), a fuzzer's small budget stops far earlier.
    BERTH_TRY(ctx.evaluator.Charge((uint64_t{1} << cost) * 100));
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (crypt_gensalt_rn("$2a$", static_cast<unsigned long>(cost), nullptr, 0, setting,
                         sizeof(setting)) == nullptr) {
      return Error::Internal("bcrypt: no salt: " + std::string(std::strerror(errno)));
    }
    auto data = std::make_unique<crypt_data>();
    const char* hash = crypt_rn(password.c_str(), setting, data.get(), sizeof(crypt_data));
    if (hash == nullptr || hash[0] == '*') {
      return Error::Internal("bcrypt: hashing failed");
    }
    return Str(hash);
  });
  Define(s, "uuidv4", 0, 0, [](CallContext&, Args&) -> Result<Value> {
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1) {
      return Error::Internal("no random bytes available");
    }
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    return Str(FormatUuid(b));
  });
  Define(s, "uuidv5", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string ns = BERTH_TRY(StringArg(a, 0, "namespace"));
    std::string name = BERTH_TRY(StringArg(a, 1, "name"));
    // RFC 4122's predefined namespaces.
    static constexpr std::array<std::pair<std::string_view, std::string_view>, 4> kNamespaces = {{
        {"dns", "6ba7b810-9dad-11d1-80b4-00c04fd430c8"},
        {"url", "6ba7b811-9dad-11d1-80b4-00c04fd430c8"},
        {"oid", "6ba7b812-9dad-11d1-80b4-00c04fd430c8"},
        {"x500", "6ba7b814-9dad-11d1-80b4-00c04fd430c8"},
    }};
    std::string_view uuid = ns;
    for (const auto& [short_name, value] : kNamespaces) {
      if (ns == short_name) {
        uuid = value;
      }
    }
    std::optional<std::string> ns_bytes = ParseUuidBytes(uuid);
    if (!ns_bytes) {
      return Error::InvalidArgument("uuidv5() doesn't support namespace " + QuoteString(ns));
    }
    std::string sum = BERTH_TRY(Digest(EVP_sha1(), *ns_bytes + name, false));
    unsigned char b[16];
    std::memcpy(b, sum.data(), 16);
    b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x50);
    b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
    return Str(FormatUuid(b));
  });
  Define(s, "rsadecrypt", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string cipher_b64 = BERTH_TRY(StringArg(a, 0, "ciphertext"));
    std::string pem = BERTH_TRY(StringArg(a, 1, "privatekey"));
    std::string cipher = BERTH_TRY(DecodeBase64(cipher_b64));
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(
        BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
    if (!bio) {
      return Error::Internal("out of memory");
    }
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
        PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr), EVP_PKEY_free);
    if (!key) {
      return Error::InvalidArgument("failed to parse key: not a PEM private key");
    }
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(key.get(), nullptr), EVP_PKEY_CTX_free);
    size_t len = 0;
    if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_decrypt(ctx.get(), nullptr, &len,
                         reinterpret_cast<const unsigned char*>(cipher.data()),
                         cipher.size()) != 1) {
      return Error::InvalidArgument("failed to decrypt: the key is not an RSA key");
    }
    std::string out(len, '\0');
    if (EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len,
                         reinterpret_cast<const unsigned char*>(cipher.data()),
                         cipher.size()) != 1) {
      return Error::InvalidArgument("failed to decrypt: decryption error");
    }
    out.resize(len);
    return Str(out);
  });
}

// ---- regular expressions ----

constexpr size_t kMaxPatternBytes = 1024;
// libstdc++'s polynomial executor restarts at every position of the subject, so a search costs
// up to (subject length)^2 x (automaton size); refuse work beyond this.
constexpr double kMaxRegexCost = 2e8;

struct CompiledRegex {
  std::regex re;
  size_t size = 0;  // pattern length times its counted repetitions: the automaton's size
  size_t groups = 0;
  std::vector<std::string> names;  // per group (1-based at index i-1); "" when unnamed
};

// Translates RE2 syntax to ECMAScript: named groups `(?P<n>...)`/`(?<n>...)` become plain groups
// whose names we remember; leading flags `(?i)`, `(?s)`, `(?m)` become regex options (`s` by
// rewriting `.`); \A and \z become ^ and $. Refuses what ECMAScript would read differently.
Result<CompiledRegex> CompileRegex(std::string_view pattern) {
  if (pattern.size() > kMaxPatternBytes) {
    return Error::InvalidArgument("invalid regular expression: longer than " +
                                  std::to_string(kMaxPatternBytes) + " bytes");
  }
  auto flags = std::regex::ECMAScript | std::regex_constants::__polynomial;
  bool dot_all = false;
  size_t i = 0;
  while (pattern.substr(i, 2) == "(?") {
    size_t j = i + 2;
    std::string f;
    while (j < pattern.size() && std::isalpha(static_cast<unsigned char>(pattern[j]))) {
      f.push_back(pattern[j]);
      ++j;
    }
    if (j >= pattern.size() || pattern[j] != ')' || f.empty()) {
      break;
    }
    for (char c : f) {
      if (c == 'i') {
        flags |= std::regex::icase;
      } else if (c == 's') {
        dot_all = true;
      } else if (c == 'm') {
        flags |= std::regex::multiline;
      } else {
        return Error::InvalidArgument("invalid regular expression: unsupported flag " +
                                      QuoteString(std::string(1, c)));
      }
    }
    i = j + 1;
  }
  CompiledRegex out;
  std::string translated;
  bool in_class = false;
  uint64_t repeat_product = 1;
  for (; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 >= pattern.size()) {
        return Error::InvalidArgument("invalid regular expression: trailing backslash");
      }
      const char n = pattern[i + 1];
      if (n == 'A' && !in_class) {
        translated += '^';
      } else if (n == 'z' && !in_class) {
        translated += '$';
      } else if (n == 'p' || n == 'P' || n == 'Q' || n == 'C' || (n >= '1' && n <= '9')) {
        return Error::InvalidArgument(std::string("invalid regular expression: \\") + n +
                                      " is not supported");
      } else {
        translated += c;
        translated += n;
      }
      ++i;
      continue;
    }
    if (in_class) {
      if (c == '[' && pattern.substr(i, 2) == "[:") {
        const size_t close = pattern.find(":]", i + 2);
        if (close != std::string_view::npos) {
          translated += pattern.substr(i, close + 2 - i);
          i = close + 1;
          continue;
        }
      }
      if (c == ']') {
        in_class = false;
      }
      translated += c;
      continue;
    }
    if (c == '[') {
      in_class = true;
      translated += c;
      if (i + 1 < pattern.size() && pattern[i + 1] == '^') {
        translated += '^';
        ++i;
      }
      if (i + 1 < pattern.size() && pattern[i + 1] == ']') {
        translated += "\\]";
        ++i;
      }
      continue;
    }
    if (c == '(') {
      if (pattern.substr(i, 4) == "(?P<" ||
          (pattern.substr(i, 3) == "(?<" && pattern.substr(i, 4) != "(?<=" &&
           pattern.substr(i, 4) != "(?<!")) {
        const size_t start = pattern[i + 2] == 'P' ? i + 4 : i + 3;
        const size_t close = pattern.find('>', start);
        if (close == std::string_view::npos) {
          return Error::InvalidArgument("invalid regular expression: unterminated group name");
        }
        out.names.emplace_back(pattern.substr(start, close - start));
        ++out.groups;
        translated += '(';
        i = close;
        continue;
      }
      if (pattern.substr(i, 2) == "(?") {
        if (pattern.substr(i, 3) != "(?:") {
          return Error::InvalidArgument("invalid regular expression: unsupported group syntax");
        }
      } else {
        out.names.emplace_back();
        ++out.groups;
      }
      translated += c;
      continue;
    }
    if (c == '{') {
      // Bound counted repetition: the automaton grows with the product of the counts.
      size_t j = i + 1;
      uint64_t n = 0;
      uint64_t m = 0;
      bool digits = false;
      while (j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j])) &&
             n < 100000) {
        n = n * 10 + static_cast<uint64_t>(pattern[j] - '0');
        ++j;
        digits = true;
      }
      if (digits && j < pattern.size() && pattern[j] == ',') {
        ++j;
        while (j < pattern.size() && std::isdigit(static_cast<unsigned char>(pattern[j])) &&
               m < 100000) {
          m = m * 10 + static_cast<uint64_t>(pattern[j] - '0');
          ++j;
        }
      }
      if (digits) {
        repeat_product *= std::max<uint64_t>(1, std::max(n, m));
        if (repeat_product > 1000 || repeat_product * pattern.size() > 8000) {
          return Error::InvalidArgument(
              "invalid regular expression: counted repetition is too "
              "large");
        }
      }
      translated += c;
      continue;
    }
    if (c == '.' && dot_all) {
      translated += "[\\s\\S]";
      continue;
    }
    translated += c;
  }
  out.size = static_cast<size_t>(repeat_product) * (pattern.size() + 1);
  try {
    out.re = std::regex(translated, flags);
  } catch (const std::regex_error& e) {
    return Error::InvalidArgument(std::string("invalid regular expression: ") + e.what());
  }
  return out;
}

Result<> CheckRegexCost(const CompiledRegex& re, const std::string& subject) {
  const double n = static_cast<double>(subject.size()) + 1;
  if (n * n * static_cast<double>(re.size) > kMaxRegexCost) {
    return Error::InvalidArgument("the string (" + std::to_string(subject.size()) +
                                  " bytes) is too long to match with this regular expression");
  }
  return {};
}

Result<Value> MatchResult(const CompiledRegex& re, const std::smatch& m) {
  if (re.groups == 0) {
    return Str(m.str(0));
  }
  bool any_named = false;
  bool any_unnamed = false;
  for (const std::string& n : re.names) {
    (n.empty() ? any_unnamed : any_named) = true;
  }
  if (any_named && any_unnamed) {
    return Error::InvalidArgument(
        "invalid regular expression: can't mix both named and unnamed "
        "capture groups");
  }
  auto group = [&](size_t i) {
    return m[i].matched ? Str(m.str(i)) : Value::Null();
  };
  if (any_named) {
    Value::Attributes out;
    for (size_t i = 1; i <= re.groups && i < m.size(); ++i) {
      out.insert_or_assign(re.names[i - 1], group(i));
    }
    return Value::Object(std::move(out));
  }
  Value::Elements out;
  for (size_t i = 1; i <= re.groups && i < m.size(); ++i) {
    out.push_back(group(i));
  }
  return Value::Tuple(std::move(out));
}

// Go's Regexp.Expand for ReplaceAllString: $1, ${1}, $name, ${name}, $$.
std::string Expand(const CompiledRegex& re, const std::smatch& m, std::string_view tmpl) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '$' || i + 1 >= tmpl.size()) {
      out.push_back(tmpl[i]);
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    if (tmpl[j] == '{') {
      const size_t close = tmpl.find('}', j);
      if (close == std::string_view::npos) {
        out.push_back('$');
        continue;
      }
      name = std::string(tmpl.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      while (j < tmpl.size() &&
             (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) {
        name.push_back(tmpl[j]);
        ++j;
      }
      if (name.empty()) {
        out.push_back('$');
        continue;
      }
    }
    i = j - 1;
    if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos) {
      const size_t g = name.size() > 6 ? m.size() : std::stoul(name);
      if (g < m.size() && m[g].matched) {
        out += m.str(g);
      }
      continue;
    }
    for (size_t g = 0; g < re.names.size(); ++g) {
      if (re.names[g] == name && g + 1 < m.size() && m[g + 1].matched) {
        out += m.str(g + 1);
        break;
      }
    }
  }
  return out;
}

void DefineRegex(Scope* s) {
  Define(s, "regex", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string pattern = BERTH_TRY(StringArg(a, 0, "pattern"));
    std::string str = BERTH_TRY(StringArg(a, 1, "string"));
    CompiledRegex re = BERTH_TRY(CompileRegex(pattern));
    BERTH_TRY(CheckRegexCost(re, str));
    std::smatch m;
    if (!std::regex_search(str, m, re.re)) {
      return Error::InvalidArgument("pattern did not match any part of the given string");
    }
    return MatchResult(re, m);
  });
  Define(s, "regexall", 2, 2, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string pattern = BERTH_TRY(StringArg(a, 0, "pattern"));
    std::string str = BERTH_TRY(StringArg(a, 1, "string"));
    CompiledRegex re = BERTH_TRY(CompileRegex(pattern));
    BERTH_TRY(CheckRegexCost(re, str));
    Value::Elements out;
    for (auto it = std::sregex_iterator(str.begin(), str.end(), re.re);
         it != std::sregex_iterator(); ++it) {
      out.push_back(BERTH_TRY(MatchResult(re, *it)));
      BERTH_TRY(ctx.evaluator.CheckCollectionSize(out.size()));
    }
    return Value::List(std::move(out));
  });
  Define(s, "regex_replace", 3, 3, [](CallContext& ctx, Args& a) -> Result<Value> {
    std::string str = BERTH_TRY(StringArg(a, 0, "str"));
    std::string pattern = BERTH_TRY(StringArg(a, 1, "pattern"));
    std::string replace = BERTH_TRY(StringArg(a, 2, "replace"));
    CompiledRegex re = BERTH_TRY(CompileRegex(pattern));
    BERTH_TRY(CheckRegexCost(re, str));
    std::string out;
    auto last = str.cbegin();
    for (auto it = std::sregex_iterator(str.begin(), str.end(), re.re);
         it != std::sregex_iterator(); ++it) {
      const std::smatch& m = *it;
      out.append(last, m[0].first);
      out += Expand(re, m, replace);
      last = m[0].second;
      BERTH_TRY(ctx.evaluator.CheckStringSize(out.size()));
    }
    out.append(last, str.cend());
    return Str(out);
  });
}

// ---- time ----

constexpr std::array<const char*, 12> kMonths = {"January",   "February", "March",    "April",
                                                 "May",       "June",     "July",     "August",
                                                 "September", "October",  "November", "December"};
constexpr std::array<const char*, 7> kDays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                              "Thursday", "Friday", "Saturday"};

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void CivilFromDays(int64_t z, int64_t* y, int64_t* m, int64_t* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yoe + era * 400 + (*m <= 2);
}

struct Time {
  int64_t unix = 0;   // seconds since the epoch, UTC
  int64_t nanos = 0;  // 0..999999999
  int offset = 0;     // seconds east of UTC
  bool utc = true;    // written with "Z"
};

struct Civil {
  int64_t year, month, day, hour, minute, second, weekday;
};

Civil ToCivil(const Time& t) {
  const int64_t local = t.unix + t.offset;
  int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
  const int64_t secs = local - days * 86400;
  Civil c{};
  CivilFromDays(days, &c.year, &c.month, &c.day);
  c.hour = secs / 3600;
  c.minute = secs / 60 % 60;
  c.second = secs % 60;
  c.weekday = ((days % 7) + 11) % 7;  // 1970-01-01 was a Thursday (4)
  return c;
}

Result<Time> ParseRfc3339(std::string_view s) {
  auto bad = [&]() {
    return Error::InvalidArgument("not a valid RFC3339 timestamp: " + QuoteString(s));
  };
  auto digits = [&](size_t at, size_t n, int64_t* out) {
    if (at + n > s.size()) {
      return false;
    }
    int64_t v = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(s[at + i]))) {
        return false;
      }
      v = v * 10 + (s[at + i] - '0');
    }
    *out = v;
    return true;
  };
  int64_t y, mo, d, h, mi, se;
  if (!digits(0, 4, &y) || s.size() < 20 || s[4] != '-' || !digits(5, 2, &mo) || s[7] != '-' ||
      !digits(8, 2, &d) || s[10] != 'T' || !digits(11, 2, &h) || s[13] != ':' ||
      !digits(14, 2, &mi) || s[16] != ':' || !digits(17, 2, &se)) {
    return bad();
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 59) {
    return bad();
  }
  size_t i = 19;
  Time t;
  if (i < s.size() && s[i] == '.') {
    ++i;
    int64_t scale = 100000000;
    size_t n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
      t.nanos += (s[i] - '0') * scale;
      scale /= 10;
      ++i;
      ++n;
    }
    if (n == 0) {
      return bad();
    }
  }
  if (i < s.size() && s[i] == 'Z' && i + 1 == s.size()) {
    t.utc = true;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int64_t oh, om;
    if (!digits(i + 1, 2, &oh) || !digits(i + 4, 2, &om) || oh > 23 || om > 59) {
      return bad();
    }
    t.offset = static_cast<int>((oh * 3600 + om * 60) * (s[i] == '-' ? -1 : 1));
    t.utc = false;
  } else {
    return bad();
  }
  t.unix = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - t.offset;
  return t;
}

std::string Pad2(int64_t v, size_t width = 2) {
  std::string s = std::to_string(v < 0 ? -v : v);
  if (s.size() < width) {
    s.insert(0, width - s.size(), '0');
  }
  return (v < 0 ? "-" : "") + s;
}

std::string OffsetString(const Time& t, bool colon) {
  const int off = t.offset;
  const int a = off < 0 ? -off : off;
  return std::string(off < 0 ? "-" : "+") + Pad2(a / 3600) + (colon ? ":" : "") + Pad2(a / 60 % 60);
}

std::string FormatRfc3339(const Time& t) {
  Civil c = ToCivil(t);
  return Pad2(c.year, 4) + "-" + Pad2(c.month) + "-" + Pad2(c.day) + "T" + Pad2(c.hour) + ":" +
         Pad2(c.minute) + ":" + Pad2(c.second) + (t.utc ? "Z" : OffsetString(t, true));
}

Result<std::string> FormatDate(std::string_view spec, const Time& t) {
  const Civil c = ToCivil(t);
  std::string out;
  size_t i = 0;
  while (i < spec.size()) {
    const char ch = spec[i];
    if (ch == '\'') {
      // Quoted literal; '' is a literal quote.
      if (i + 1 < spec.size() && spec[i + 1] == '\'') {
        out.push_back('\'');
        i += 2;
        continue;
      }
      size_t j = i + 1;
      while (true) {
        if (j >= spec.size()) {
          return Error::InvalidArgument("unterminated literal '");
        }
        if (spec[j] == '\'') {
          if (j + 1 < spec.size() && spec[j + 1] == '\'') {
            out.push_back('\'');
            j += 2;
            continue;
          }
          break;
        }
        out.push_back(spec[j]);
        ++j;
      }
      i = j + 1;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(ch))) {
      out.push_back(ch);
      ++i;
      continue;
    }
    size_t n = 1;
    while (i + n < spec.size() && spec[i + n] == ch) {
      ++n;
    }
    const std::string tok(spec.substr(i, n));
    i += n;
    const int64_t h12 = c.hour % 12 == 0 ? 12 : c.hour % 12;
    if (tok == "YYYY") {
      out += Pad2(c.year, 4);
    } else if (tok == "YY") {
      out += Pad2(c.year % 100);
    } else if (tok == "MMMM") {
      out += kMonths[c.month - 1];
    } else if (tok == "MMM") {
      out += std::string(kMonths[c.month - 1]).substr(0, 3);
    } else if (tok == "MM") {
      out += Pad2(c.month);
    } else if (tok == "M") {
      out += std::to_string(c.month);
    } else if (tok == "DD") {
      out += Pad2(c.day);
    } else if (tok == "D") {
      out += std::to_string(c.day);
    } else if (tok == "EEEE") {
      out += kDays[c.weekday];
    } else if (tok == "EEE") {
      out += std::string(kDays[c.weekday]).substr(0, 3);
    } else if (tok == "hh") {
      out += Pad2(c.hour);
    } else if (tok == "h") {
      out += std::to_string(c.hour);
    } else if (tok == "HH") {
      out += Pad2(h12);
    } else if (tok == "H") {
      out += std::to_string(h12);
    } else if (tok == "AA") {
      out += c.hour < 12 ? "AM" : "PM";
    } else if (tok == "aa") {
      out += c.hour < 12 ? "am" : "pm";
    } else if (tok == "mm") {
      out += Pad2(c.minute);
    } else if (tok == "m") {
      out += std::to_string(c.minute);
    } else if (tok == "ss") {
      out += Pad2(c.second);
    } else if (tok == "s") {
      out += std::to_string(c.second);
    } else if (tok == "ZZZZZ") {
      out += OffsetString(t, true);
    } else if (tok == "ZZZZ") {
      out += OffsetString(t, false);
    } else if (tok == "ZZZ") {
      out += t.offset == 0 ? "UTC" : OffsetString(t, false);
    } else if (tok == "Z") {
      out += t.offset == 0 ? "Z" : OffsetString(t, true);
    } else {
      return Error::InvalidArgument("invalid date format verb " + QuoteString(tok) +
                                    ": unrecognized format sequence");
    }
  }
  return out;
}

// Go's time.ParseDuration: "1h30m", "-1.5h", "300ms", units ns us µs ms s m h.
Result<double> ParseDurationSeconds(std::string_view s) {
  const std::string orig(s);
  auto bad = [&]() {
    return Error::InvalidArgument("time: invalid duration " + QuoteString(orig));
  };
  double sign = 1;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    sign = s[0] == '-' ? -1 : 1;
    s.remove_prefix(1);
  }
  if (s == "0") {
    return 0.0;
  }
  if (s.empty()) {
    return bad();
  }
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) {
      ++i;
    }
    std::optional<double> n = ParseNumber(s.substr(0, i));
    if (i == 0 || !n) {
      return bad();
    }
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !std::isdigit(static_cast<unsigned char>(s[u])) && s[u] != '.') {
      ++u;
    }
    const std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double scale = 0;
    if (unit == "ns") {
      scale = 1e-9;
    } else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") {
      scale = 1e-6;
    } else if (unit == "ms") {
      scale = 1e-3;
    } else if (unit == "s") {
      scale = 1;
    } else if (unit == "m") {
      scale = 60;
    } else if (unit == "h") {
      scale = 3600;
    } else {
      return Error::InvalidArgument(
          "time: " +
          std::string(unit.empty() ? "missing unit" : "unknown unit " + QuoteString(unit)) +
          " in duration " + QuoteString(orig));
    }
    total += *n * scale;
  }
  if (std::fabs(total) > 9.2e9) {
    return bad();
  }
  return sign * total;
}

void DefineTime(Scope* s) {
  Define(s, "timestamp", 0, 0, [](CallContext&, Args&) -> Result<Value> {
    Time t;
    t.unix = std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
    return Str(FormatRfc3339(t));
  });
  Define(s, "formatdate", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string spec = BERTH_TRY(StringArg(a, 0, "format"));
    std::string ts = BERTH_TRY(StringArg(a, 1, "time"));
    Time t = BERTH_TRY(ParseRfc3339(ts));
    return Str(BERTH_TRY(FormatDate(spec, t)));
  });
  Define(s, "timeadd", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    std::string ts = BERTH_TRY(StringArg(a, 0, "timestamp"));
    std::string dur = BERTH_TRY(StringArg(a, 1, "duration"));
    Time t = BERTH_TRY(ParseRfc3339(ts));
    const double secs = BERTH_TRY(ParseDurationSeconds(dur));
    const double whole = std::floor(secs);
    int64_t nanos = t.nanos + static_cast<int64_t>(std::llround((secs - whole) * 1e9));
    t.unix += static_cast<int64_t>(whole) + nanos / 1000000000;
    t.nanos = nanos % 1000000000;
    return Str(FormatRfc3339(t));
  });
  Define(s, "unixtimestampparse", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    const double n = BERTH_TRY(NumberArg(a, 0, "unix_timestamp"));
    if (std::fabs(n) > 1e13) {
      return Error::InvalidArgument("the timestamp is out of range");
    }
    Time t;
    t.unix = static_cast<int64_t>(std::floor(n));
    Civil c = ToCivil(t);
    const int64_t yday = DaysFromCivil(c.year, c.month, c.day) - DaysFromCivil(c.year, 1, 1) + 1;
    // ISO 8601 week: week 1 holds the year's first Thursday.
    auto weeks_in_year = [](int64_t y) {
      auto p = [](int64_t v) {
        return (v + v / 4 - v / 100 + v / 400) % 7;
      };
      return (p(y) == 4 || p(y - 1) == 3) ? 53 : 52;
    };
    const int64_t wd = c.weekday == 0 ? 7 : c.weekday;
    int64_t iso_year = c.year;
    int64_t week = (yday - wd + 10) / 7;
    if (week < 1) {
      iso_year -= 1;
      week = weeks_in_year(iso_year);
    } else if (week > weeks_in_year(c.year)) {
      iso_year += 1;
      week = 1;
    }
    Value::Attributes out;
    out.emplace("year", Value::Number(static_cast<double>(c.year)));
    out.emplace("month", Value::Number(static_cast<double>(c.month)));
    out.emplace("month_name", Str(kMonths[c.month - 1]));
    out.emplace("day", Value::Number(static_cast<double>(c.day)));
    out.emplace("hour", Value::Number(static_cast<double>(c.hour)));
    out.emplace("minute", Value::Number(static_cast<double>(c.minute)));
    out.emplace("second", Value::Number(static_cast<double>(c.second)));
    out.emplace("weekday", Value::Number(static_cast<double>(c.weekday)));
    out.emplace("weekday_name", Str(kDays[c.weekday]));
    out.emplace("year_day", Value::Number(static_cast<double>(yday)));
    out.emplace("iso_year", Value::Number(static_cast<double>(iso_year)));
    out.emplace("iso_week", Value::Number(static_cast<double>(week)));
    out.emplace("rfc3339", Str(FormatRfc3339(t)));
    return Value::Object(std::move(out));
  });
}

// ---- networks ----

struct Net {
  unsigned __int128 addr = 0;
  int prefix = 0;
  bool v4 = true;
  int bits() const { return v4 ? 32 : 128; }
};

unsigned __int128 HostMask(int host_bits) {
  if (host_bits >= 128) {
    return ~static_cast<unsigned __int128>(0);
  }
  return (static_cast<unsigned __int128>(1) << host_bits) - 1;
}

Result<Net> ParseCidr(std::string_view s) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) {
    return Error::InvalidArgument("invalid CIDR address: " + std::string(s));
  }
  const std::string ip(s.substr(0, slash));
  const std::string len(s.substr(slash + 1));
  Net n;
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) {
    n.v4 = true;
    for (int i = 0; i < 4; ++i) {
      n.addr = (n.addr << 8) | buf[i];
    }
  } else if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) {
    n.v4 = false;
    for (unsigned char b : buf) {
      n.addr = (n.addr << 8) | b;
    }
  } else {
    return Error::InvalidArgument("invalid CIDR address: " + std::string(s));
  }
  if (len.empty() || len.size() > 3 || len.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(len) > n.bits()) {
    return Error::InvalidArgument("invalid CIDR address: " + std::string(s));
  }
  n.prefix = std::stoi(len);
  n.addr &= ~HostMask(n.bits() - n.prefix) & HostMask(n.bits());
  return n;
}

std::string FormatIp(unsigned __int128 addr, bool v4) {
  char out[INET6_ADDRSTRLEN];
  unsigned char buf[16];
  const int n = v4 ? 4 : 16;
  for (int i = n - 1; i >= 0; --i) {
    buf[i] = static_cast<unsigned char>(addr & 0xff);
    addr >>= 8;
  }
  if (inet_ntop(v4 ? AF_INET : AF_INET6, buf, out, sizeof(out)) == nullptr) {
    return "";
  }
  return out;
}

Result<Net> Subnet(const Net& base, int64_t newbits, double netnum) {
  if (newbits < 0 || base.prefix + newbits > base.bits()) {
    return Error::InvalidArgument("insufficient address space to extend prefix of " +
                                  std::to_string(base.prefix) + " by " + std::to_string(newbits));
  }
  const double max = std::ldexp(1.0, static_cast<int>(newbits));
  // netnum is a double: subnet numbers beyond 2^63 cannot be given exactly anyway.
  if (netnum < 0 || netnum >= max || netnum != std::floor(netnum) || netnum >= 9.2e18) {
    return Error::InvalidArgument("prefix extension of " + std::to_string(newbits) +
                                  " does not accommodate a subnet numbered " +
                                  FormatNumber(netnum));
  }
  Net out = base;
  out.prefix = base.prefix + static_cast<int>(newbits);
  if (netnum > 0) {
    out.addr = base.addr | (static_cast<unsigned __int128>(static_cast<uint64_t>(netnum))
                            << (base.bits() - out.prefix));
  }
  return out;
}

void DefineNetwork(Scope* s) {
  Define(s, "cidrhost", 2, 2, [](CallContext&, Args& a) -> Result<Value> {
    Net n = BERTH_TRY(ParseCidr(BERTH_TRY(StringArg(a, 0, "prefix"))));
    const int64_t host = BERTH_TRY(IntArg(a, 1, "hostnum"));
    const int host_bits = n.bits() - n.prefix;
    const unsigned __int128 size = host_bits >= 127
                                       ? ~static_cast<unsigned __int128>(0)
                                       : static_cast<unsigned __int128>(1) << host_bits;
    const unsigned __int128 mag = static_cast<unsigned __int128>(host < 0 ? -host : host);
    if ((host >= 0 && mag >= size) || (host < 0 && mag > size)) {
      return Error::InvalidArgument("prefix of " + std::to_string(n.prefix) +
                                    " bits cannot accommodate a host numbered " +
                                    std::to_string(host));
    }
    const unsigned __int128 offset = host >= 0 ? mag : size - mag;
    return Str(FormatIp(n.addr | offset, n.v4));
  });
  Define(s, "cidrnetmask", 1, 1, [](CallContext&, Args& a) -> Result<Value> {
    Net n = BERTH_TRY(ParseCidr(BERTH_TRY(StringArg(a, 0, "prefix"))));
    if (!n.v4) {
      return Error::InvalidArgument("only IPv4 networks are supported");
    }
    return Str(FormatIp(~HostMask(32 - n.prefix) & HostMask(32), true));
  });
  Define(s, "cidrsubnet", 3, 3, [](CallContext&, Args& a) -> Result<Value> {
    Net n = BERTH_TRY(ParseCidr(BERTH_TRY(StringArg(a, 0, "prefix"))));
    const int64_t newbits = BERTH_TRY(IntArg(a, 1, "newbits"));
    const double netnum = BERTH_TRY(NumberArg(a, 2, "netnum"));
    Net out = BERTH_TRY(Subnet(n, newbits, netnum));
    return Str(FormatIp(out.addr, out.v4) + "/" + std::to_string(out.prefix));
  });
  Define(s, "cidrsubnets", 1, -1, [](CallContext&, Args& a) -> Result<Value> {
    Net base = BERTH_TRY(ParseCidr(BERTH_TRY(StringArg(a, 0, "prefix"))));
    Value::Elements out;
    // Each subnet starts right after the previous one, aligned to its own size.
    unsigned __int128 next = base.addr;
    const unsigned __int128 end = base.addr | HostMask(base.bits() - base.prefix);
    bool exhausted = false;
    for (size_t i = 1; i < a.size(); ++i) {
      const int64_t newbits = BERTH_TRY(IntArg(a, i, "newbits"));
      if (newbits < 1 || base.prefix + newbits > base.bits()) {
        return Error::InvalidArgument(
            "would extend prefix to " + std::to_string(base.prefix + newbits) +
            " bits, which is too long for an IPv" + (base.v4 ? "4" : "6") + " address");
      }
      const int plen = base.prefix + static_cast<int>(newbits);
      const unsigned __int128 size_mask = HostMask(base.bits() - plen);
      unsigned __int128 start = (next + size_mask) & ~size_mask;
      if (exhausted || start < next || start > end || ((start | size_mask) > end)) {
        return Error::InvalidArgument(
            "not enough remaining address space for a subnet with a "
            "prefix of " +
            std::to_string(plen) + " bits");
      }
      out.push_back(Str(FormatIp(start, base.v4) + "/" + std::to_string(plen)));
      const unsigned __int128 last = start | size_mask;
      if (last == end) {
        exhausted = true;
      }
      next = last + 1;
    }
    return Value::List(std::move(out));
  });
}

}  // namespace

void DefineCryptoFunctions(Scope* scope) {
  DefineHashing(scope);
}
void DefineRegexFunctions(Scope* scope) {
  DefineRegex(scope);
}
void DefineTimeFunctions(Scope* scope) {
  DefineTime(scope);
}
void DefineNetworkFunctions(Scope* scope) {
  DefineNetwork(scope);
}

}  // namespace berth::frontend::bake::hcl::internal
