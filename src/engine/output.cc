#include "engine/output.h"

#include <set>

#include "base/strings.h"

namespace berth::engine {

Result<bool> ParseBoolField(std::string_view flag, std::string_view field, std::string_view value) {
  if (value == "true" || value == "1" || value.empty()) {
    return true;
  }
  if (value == "false" || value == "0") {
    return false;
  }
  return Error::InvalidArgument(std::string(flag) + ": " + std::string(field) + "=" +
                                std::string(value) + ": want true or false");
}

Result<std::map<std::string, std::string>> ParseCsvFields(const std::string& what,
                                                          std::string_view spec) {
  std::vector<std::string> fields = BERTH_TRY_CONTEXT(SplitCsv(spec), what);
  std::map<std::string, std::string> attrs;
  for (const std::string& field : fields) {
    size_t eq = field.find('=');
    if (eq == std::string::npos) {
      return Error::InvalidArgument(what + ": field \"" + field + "\" is not KEY=VALUE");
    }
    attrs[ToLower(Trim(field.substr(0, eq)))] = field.substr(eq + 1);
  }
  return attrs;
}

namespace {

// Image names in name=: comma-separated (inside a quoted field).
void AddNames(std::string_view value, std::vector<std::string>& names) {
  for (const std::string& part : StrSplit(value, ',')) {
    std::string name(Trim(part));
    if (!name.empty()) {
      names.push_back(std::move(name));
    }
  }
}

}  // namespace

std::string_view OutputTypeName(OutputType type) {
  switch (type) {
    case OutputType::kImage:
      return "image";
    case OutputType::kOci:
      return "oci";
    case OutputType::kDocker:
      return "docker";
    case OutputType::kLocal:
      return "local";
    case OutputType::kTar:
      return "tar";
  }
  return "?";
}

Result<std::vector<std::string>> SplitCsv(std::string_view text) {
  std::vector<std::string> fields;
  size_t i = 0;
  while (true) {
    std::string field;
    if (i < text.size() && text[i] == '"') {
      ++i;
      bool closed = false;
      while (i < text.size()) {
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          closed = true;
          break;
        }
        field += text[i++];
      }
      if (!closed) {
        return Error::InvalidArgument("unterminated quote in \"" + std::string(text) + "\"");
      }
      if (i < text.size() && text[i] != ',') {
        return Error::InvalidArgument("text after a closing quote in \"" + std::string(text) +
                                      "\"");
      }
    } else {
      while (i < text.size() && text[i] != ',') {
        field += text[i++];
      }
    }
    fields.push_back(std::move(field));
    if (i >= text.size()) {
      break;
    }
    ++i;  // the comma
  }
  return fields;
}

Result<Output> ParseOutput(std::string_view spec) {
  Output out;
  if (spec.empty()) {
    return Error::InvalidArgument("--output: empty value");
  }
  if (spec.find('=') == std::string_view::npos) {
    out.type = spec == "-" ? OutputType::kTar : OutputType::kLocal;
    out.dest = std::string(spec);
    return out;
  }
  std::vector<std::string> fields =
      BERTH_TRY_CONTEXT(SplitCsv(spec), "--output " + std::string(spec));
  std::string type;
  std::map<std::string, std::string> attrs;
  for (const std::string& field : fields) {
    size_t eq = field.find('=');
    if (eq == std::string::npos) {
      return Error::InvalidArgument("--output " + std::string(spec) + ": field \"" + field +
                                    "\" is not KEY=VALUE");
    }
    std::string key = ToLower(Trim(field.substr(0, eq)));
    std::string value = field.substr(eq + 1);
    if (key == "type") {
      type = value;
    } else if (key == "name") {
      AddNames(value, out.names);
    } else {
      attrs[key] = value;
    }
  }
  if (type.empty()) {
    return Error::InvalidArgument("--output " + std::string(spec) + ": type= is required");
  }
  if (type == "image" || type == "registry") {
    out.type = OutputType::kImage;
    out.push = type == "registry";
  } else if (type == "oci") {
    out.type = OutputType::kOci;
  } else if (type == "docker") {
    out.type = OutputType::kDocker;
  } else if (type == "local") {
    out.type = OutputType::kLocal;
  } else if (type == "tar") {
    out.type = OutputType::kTar;
  } else {
    return Error::InvalidArgument("--output: unknown type \"" + type +
                                  "\": want image, registry, oci, docker, local or tar");
  }
  static const std::set<std::string> kIgnored = {
      "oci-mediatypes",    "unpack",         "store",           "compression-level",
      "force-compression", "name-canonical", "push-by-digest",  "dangling-name-prefix",
      "platform-split",    "buildinfo",      "buildinfo-attrs", "attestation-prefix"};
  for (const auto& [key, value] : attrs) {
    if (key == "dest") {
      out.dest = value;
    } else if (key == "push" && out.type == OutputType::kImage) {
      out.push = out.push || BERTH_TRY(ParseBoolField("--output", key, value));
    } else if (key == "tar" && out.type == OutputType::kOci) {
      out.tar = BERTH_TRY(ParseBoolField("--output", key, value));
    } else if (key == "compression") {
      if (value != "gzip") {
        return Error::Unimplemented("--output: compression=" + value +
                                    ": only gzip layers are written so far");
      }
    } else if (key.starts_with("annotation.") || key.starts_with("annotation-manifest.")) {
      std::string name = key.substr(key.find('.') + 1);
      if (name.empty()) {
        return Error::InvalidArgument("--output: " + key + ": empty annotation key");
      }
      out.annotations[name] = value;
    } else if (kIgnored.count(key) == 0) {
      return Error::InvalidArgument("--output type=" + type + ": unknown attribute \"" + key +
                                    "\"");
    }
  }
  if ((out.type == OutputType::kLocal) && out.dest.empty()) {
    return Error::InvalidArgument("--output type=local: dest= (a directory) is required");
  }
  if (out.type == OutputType::kLocal && out.dest == "-") {
    return Error::InvalidArgument("--output type=local: dest must be a directory, not -");
  }
  if (out.type == OutputType::kOci && !out.tar && (out.dest.empty() || out.dest == "-")) {
    return Error::InvalidArgument("--output type=oci,tar=false: dest= (a directory) is required");
  }
  return out;
}

}  // namespace berth::engine
