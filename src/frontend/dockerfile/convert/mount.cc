#include "frontend/dockerfile/convert/mount.h"

#include <cctype>
#include <vector>

#include "base/strings.h"

namespace berth::frontend::dockerfile::convert {
namespace {

// Splits a CSV record (commas; double quotes group, "" is a literal quote).
Result<std::vector<std::string>> SplitCsv(std::string_view text) {
  std::vector<std::string> fields;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cur += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      fields.push_back(std::move(cur));
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (quoted) {
    return Error::InvalidArgument("unterminated quote in \"" + std::string(text) + "\"");
  }
  fields.push_back(std::move(cur));
  return fields;
}

Result<bool> ParseBool(const std::string& key, const std::string& value) {
  std::string v = ToLower(value);
  if (v == "true" || v == "1") {
    return true;
  }
  if (v == "false" || v == "0") {
    return false;
  }
  return Error::InvalidArgument("invalid value for " + key + ": \"" + value + "\"");
}

Result<uint32_t> ParseUint(const std::string& key, const std::string& value, int base) {
  if (value.empty() || value.size() > 12) {
    return Error::InvalidArgument("invalid value for " + key + ": \"" + value + "\"");
  }
  uint64_t out = 0;
  for (char c : value) {
    int digit = c - '0';
    if (digit < 0 || digit >= base) {
      return Error::InvalidArgument("invalid value for " + key + ": \"" + value + "\"");
    }
    out = out * static_cast<uint64_t>(base) + static_cast<uint64_t>(digit);
  }
  if (out > 0xFFFFFFFFu) {
    return Error::InvalidArgument("value for " + key + " out of range: \"" + value + "\"");
  }
  return static_cast<uint32_t>(out);
}

std::string BaseName(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') {
    p.pop_back();
  }
  size_t slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

}  // namespace

Result<uint64_t> ParseSize(std::string_view text) {
  std::string t = ToLower(Trim(text));
  if (t.empty()) {
    return Error::InvalidArgument("invalid size \"\"");
  }
  size_t i = 0;
  uint64_t value = 0;
  while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i])) != 0) {
    if (value > (UINT64_MAX - 9) / 10) {
      return Error::InvalidArgument("size too large: \"" + std::string(text) + "\"");
    }
    value = value * 10 + static_cast<uint64_t>(t[i] - '0');
    ++i;
  }
  if (i == 0) {
    return Error::InvalidArgument("invalid size \"" + std::string(text) + "\"");
  }
  std::string unit = t.substr(i);
  if (!unit.empty() && unit.back() == 'b') {
    unit.pop_back();
  }
  if (!unit.empty() && unit.back() == 'i') {
    unit.pop_back();
  }
  uint64_t mult = 1;
  if (unit.empty()) {
    mult = 1;
  } else if (unit == "k") {
    mult = 1ULL << 10;
  } else if (unit == "m") {
    mult = 1ULL << 20;
  } else if (unit == "g") {
    mult = 1ULL << 30;
  } else if (unit == "t") {
    mult = 1ULL << 40;
  } else {
    return Error::InvalidArgument("invalid size unit in \"" + std::string(text) + "\"");
  }
  if (value > UINT64_MAX / mult) {
    return Error::InvalidArgument("size too large: \"" + std::string(text) + "\"");
  }
  return value * mult;
}

Result<MountSpec> ParseMount(std::string_view value) {
  std::vector<std::string> fields = BERTH_TRY(SplitCsv(value));
  MountSpec m;
  bool readonly_set = false;
  // The type decides defaults, so find it first.
  for (const std::string& field : fields) {
    auto [key, val] = SplitOnce(field, '=');
    if (ToLower(Trim(key)) == "type") {
      std::string t = ToLower(val);
      if (t == "bind") {
        m.type = graph::MountType::kBind;
      } else if (t == "cache") {
        m.type = graph::MountType::kCache;
      } else if (t == "tmpfs") {
        m.type = graph::MountType::kTmpfs;
      } else if (t == "secret") {
        m.type = graph::MountType::kSecret;
      } else if (t == "ssh") {
        m.type = graph::MountType::kSsh;
      } else {
        return Error::InvalidArgument("unsupported mount type \"" + val + "\"");
      }
    }
  }
  m.readonly = m.type == graph::MountType::kBind || m.type == graph::MountType::kSecret ||
               m.type == graph::MountType::kSsh;
  for (const std::string& field : fields) {
    if (Trim(field).empty()) {
      continue;
    }
    bool has_value = false;
    auto [raw_key, val] = SplitOnce(field, '=', &has_value);
    std::string key = ToLower(Trim(raw_key));
    if (key == "type") {
      continue;
    }
    if (key == "readonly" || key == "ro") {
      m.readonly = has_value ? BERTH_TRY(ParseBool(key, val)) : true;
      readonly_set = true;
      continue;
    }
    if (key == "readwrite" || key == "rw") {
      m.readonly = has_value ? !BERTH_TRY(ParseBool(key, val)) : false;
      readonly_set = true;
      continue;
    }
    if (key == "required") {
      m.required = has_value ? BERTH_TRY(ParseBool(key, val)) : true;
      continue;
    }
    if (!has_value) {
      return Error::InvalidArgument("invalid field \"" + field + "\": must be a key=value pair");
    }
    if (key == "from") {
      m.from = val;
    } else if (key == "source" || key == "src") {
      m.source = val;
    } else if (key == "target" || key == "dst" || key == "destination" || key == "dest") {
      m.target = val;
    } else if (key == "id") {
      m.id = val;
    } else if (key == "sharing") {
      std::string s = ToLower(val);
      if (s == "shared") {
        m.sharing = graph::CacheSharing::kShared;
      } else if (s == "private") {
        m.sharing = graph::CacheSharing::kPrivate;
      } else if (s == "locked") {
        m.sharing = graph::CacheSharing::kLocked;
      } else {
        return Error::InvalidArgument("unsupported sharing value \"" + val + "\"");
      }
    } else if (key == "mode") {
      m.mode = BERTH_TRY(ParseUint(key, val, 8));
      if (*m.mode > 07777) {
        return Error::InvalidArgument("invalid mode \"" + val + "\"");
      }
    } else if (key == "uid") {
      m.uid = BERTH_TRY(ParseUint(key, val, 10));
    } else if (key == "gid") {
      m.gid = BERTH_TRY(ParseUint(key, val, 10));
    } else if (key == "env") {
      m.env = val;
    } else if (key == "size" || key == "tmpfs-size") {
      m.size = BERTH_TRY(ParseSize(val));
    } else {
      return Error::InvalidArgument("unexpected key '" + key + "' in '" + field + "'");
    }
  }
  (void)readonly_set;
  switch (m.type) {
    case graph::MountType::kSecret:
      if (m.id.empty() && m.target.empty() && m.env.empty()) {
        return Error::InvalidArgument("secret mount needs an id or a target");
      }
      if (m.id.empty()) {
        m.id = m.target.empty() ? m.env : BaseName(m.target);
      }
      if (m.target.empty() && m.env.empty()) {
        m.target = "/run/secrets/" + m.id;
      }
      if (!m.mode) {
        m.mode = 0400;
      }
      break;
    case graph::MountType::kSsh:
      if (m.id.empty()) {
        m.id = "default";
      }
      if (m.target.empty()) {
        m.target = "/run/buildkit/ssh_agent.0";
      }
      if (!m.mode) {
        m.mode = 0600;
      }
      break;
    case graph::MountType::kCache:
      if (m.target.empty()) {
        return Error::InvalidArgument("cache mount needs a target");
      }
      if (m.id.empty()) {
        m.id = m.target;
      }
      break;
    case graph::MountType::kBind:
    case graph::MountType::kTmpfs:
      if (m.target.empty()) {
        return Error::InvalidArgument("mount needs a target");
      }
      break;
  }
  if (m.type != graph::MountType::kSecret && m.type != graph::MountType::kSsh &&
      m.type != graph::MountType::kCache && (m.uid || m.gid || m.mode)) {
    return Error::InvalidArgument("uid, gid and mode apply only to cache, secret and ssh mounts");
  }
  if (!m.env.empty() && m.type != graph::MountType::kSecret) {
    return Error::InvalidArgument("env applies only to secret mounts");
  }
  if (!m.from.empty() && m.type != graph::MountType::kBind && m.type != graph::MountType::kCache) {
    return Error::InvalidArgument("from applies only to bind and cache mounts");
  }
  return m;
}

}  // namespace berth::frontend::dockerfile::convert
