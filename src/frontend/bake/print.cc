// --print and --list output.
#include <algorithm>

#include <nlohmann/json.hpp>

#include "base/strings.h"
#include "frontend/bake/model.h"

namespace berth::frontend::bake {

namespace {

// buildx's Target.MarshalJSON escapes interpolation so that the printed definition reads back
// as the same values.
std::string EscapeInterpolation(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((s[i] == '$' || s[i] == '%') && i + 1 < s.size() && s[i + 1] == '{') {
      out += s[i];
    }
    out += s[i];
  }
  return out;
}

void PutList(nlohmann::json& j, const char* key, const StringList& list, bool escape = false) {
  if (!list || list->empty()) {
    return;
  }
  nlohmann::json a = nlohmann::json::array();
  for (const std::string& s : *list) {
    a.push_back(escape ? EscapeInterpolation(s) : s);
  }
  j[key] = std::move(a);
}

void PutMap(nlohmann::json& j, const char* key, const NullableMap& map) {
  if (map.empty()) {
    return;
  }
  nlohmann::json o = nlohmann::json::object();
  for (const auto& [k, v] : map) {
    o[k] = v ? nlohmann::json(EscapeInterpolation(*v)) : nlohmann::json(nullptr);
  }
  j[key] = std::move(o);
}

void PutString(nlohmann::json& j, const char* key, const std::optional<std::string>& s,
               bool escape = false) {
  if (s) {
    j[key] = escape ? EscapeInterpolation(*s) : *s;
  }
}

nlohmann::json TargetJson(const Target& t) {
  nlohmann::json j = nlohmann::json::object();
  if (!t.description.empty()) {
    j["description"] = t.description;
  }
  PutList(j, "annotations", t.annotations, true);
  PutList(j, "attest", t.attest);
  PutString(j, "context", t.context);
  if (!t.contexts.empty()) {
    j["contexts"] = t.contexts;
  }
  PutString(j, "dockerfile", t.dockerfile);
  PutString(j, "dockerfile-inline", t.dockerfile_inline, true);
  PutMap(j, "args", t.args);
  PutMap(j, "labels", t.labels);
  PutList(j, "tags", t.tags);
  PutList(j, "cache-from", t.cache_from);
  PutList(j, "cache-to", t.cache_to);
  PutString(j, "target", t.target);
  PutList(j, "secret", t.secret);
  PutList(j, "ssh", t.ssh);
  PutList(j, "platforms", t.platforms);
  PutList(j, "output", t.output);
  if (t.pull) {
    j["pull"] = *t.pull;
  }
  if (t.no_cache) {
    j["no-cache"] = *t.no_cache;
  }
  PutString(j, "network", t.network);
  PutList(j, "no-cache-filter", t.no_cache_filter);
  PutString(j, "shm-size", t.shm_size);
  PutList(j, "ulimits", t.ulimits);
  PutString(j, "call", t.call);
  PutList(j, "entitlements", t.entitlements);
  PutMap(j, "extra-hosts", t.extra_hosts);
  PutString(j, "project_id", t.project_id);
  return j;
}

// Go's encoding/json escapes <, > and & (and U+2028, U+2029) inside strings; outside strings
// these characters cannot occur in JSON text, so a byte-wise pass suffices.
std::string GoHtmlEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '<') {
      out += "\\u003c";
    } else if (c == '>') {
      out += "\\u003e";
    } else if (c == '&') {
      out += "\\u0026";
    } else if (c == '\xe2' && i + 2 < s.size() && s[i + 1] == '\x80' &&
               (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
      out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

// Go's text/tabwriter with minwidth 1, tabwidth 8, padding 1 and '\t' as the pad character:
// every column but the last is padded with tabs to a multiple of 8 wider than its widest cell.
std::string TabWrite(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    for (size_t c = 0; c + 1 < row.size(); ++c) {
      if (widths.size() <= c) {
        widths.resize(c + 1, 0);
      }
      widths[c] = std::max(widths[c], row[c].size() + 1);
    }
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      out += row[c];
      if (c + 1 < row.size()) {
        const size_t cell = (widths[c] + 7) / 8 * 8;
        const size_t pad = cell - row[c].size();
        out.append((pad + 7) / 8, '\t');
      }
    }
    out += '\n';
  }
  return out;
}

}  // namespace

std::string PrintJson(const Selection& selection) {
  nlohmann::json doc = nlohmann::json::object();
  if (!selection.groups.empty()) {
    nlohmann::json groups = nlohmann::json::object();
    for (const auto& [name, g] : selection.groups) {
      nlohmann::json j = nlohmann::json::object();
      if (!g.description.empty()) {
        j["description"] = g.description;
      }
      j["targets"] = g.targets.empty() ? nlohmann::json(nullptr) : nlohmann::json(g.targets);
      groups[name] = std::move(j);
    }
    doc["group"] = std::move(groups);
  }
  nlohmann::json targets = nlohmann::json::object();
  for (const auto& [name, t] : selection.targets) {
    targets[name] = TargetJson(t);
  }
  doc["target"] = std::move(targets);
  return GoHtmlEscape(doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) + "\n";
}

std::string ListTargets(const Config& config) {
  struct Row {
    std::string name;
    std::string description;
  };
  std::vector<Row> rows;
  for (const Target& t : config.targets) {
    rows.push_back({t.name, t.description});
  }
  for (const Group& g : config.groups) {
    std::string d = g.description;
    if (!g.targets.empty()) {
      std::vector<std::string> names = g.targets;
      std::sort(names.begin(), names.end());
      const std::string joined = StrJoin(names, ", ");
      d = d.empty() ? joined : d + " (" + joined + ")";
    }
    rows.push_back({g.name, d});
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.name < b.name; });
  std::vector<std::vector<std::string>> table = {{"TARGET", "DESCRIPTION"}};
  for (Row& r : rows) {
    if (!r.name.starts_with("_")) {
      table.push_back({std::move(r.name), std::move(r.description)});
    }
  }
  return TabWrite(table);
}

std::string ListVariables(const std::vector<VariableInfo>& variables) {
  std::vector<std::vector<std::string>> table = {{"VARIABLE", "TYPE", "VALUE", "DESCRIPTION"}};
  for (const VariableInfo& v : variables) {
    table.push_back({v.name, v.type, v.value.value_or("<null>"), v.description});
  }
  return TabWrite(table);
}

}  // namespace berth::frontend::bake
