#include "engine/attest.h"

#include <algorithm>
#include <cctype>
#include <set>

#include <nlohmann/json.hpp>

#include "base/io.h"
#include "base/strings.h"
#include "engine/exporter.h"
#include "engine/output.h"
#include "images/import.h"
#include "oci/media_types.h"
#include "reference/reference.h"

namespace berth::engine {
namespace {

using json = nlohmann::json;

constexpr std::string_view kInTotoMediaType = "application/vnd.in-toto+json";
constexpr std::string_view kStatementV01 = "https://in-toto.io/Statement/v0.1";
constexpr std::string_view kSlsa02 = "https://slsa.dev/provenance/v0.2";
constexpr std::string_view kSlsa1 = "https://slsa.dev/provenance/v1";
constexpr std::string_view kSpdx = "https://spdx.dev/Document";
// The structure berth's provenance follows: docs/provenance.md.
constexpr std::string_view kBuildType = "https://berth.invalid/docs/provenance.md";

// Percent-encodes what a purl qualifier value may not hold.
std::string PurlEscape(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) != 0 || c == '.' || c == '-' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// pkg:docker/<path>@<tag or digest>?platform=...[&repository_url=<registry>].
std::string ImagePurl(const std::string& name, const std::string& platform) {
  Result<reference::Reference> ref = reference::ParseNormalized(name);
  if (!ref.ok()) {
    return "pkg:docker/" + PurlEscape(name);
  }
  std::string version = !ref->tag.empty() ? ref->tag : ref->digest;
  std::string purl = "pkg:docker/" + ref->path + (version.empty() ? "" : "@" + PurlEscape(version));
  std::vector<std::string> qualifiers;
  if (!platform.empty()) {
    qualifiers.push_back("platform=" + PurlEscape(platform));
  }
  if (ref->domain != "docker.io") {
    qualifiers.push_back("repository_url=" + PurlEscape(ref->domain + "/" + ref->path));
  }
  return qualifiers.empty() ? purl : purl + "?" + StrJoin(qualifiers, "&");
}

json Subjects(const std::vector<std::string>& names, const oci::Descriptor& image,
              const std::string& platform) {
  json subjects = json::array();
  std::vector<std::string> list = names.empty() ? std::vector<std::string>{"_"} : names;
  for (const std::string& name : list) {
    subjects.push_back({{"name", name == "_" ? name : ImagePurl(name, platform)},
                        {"digest", {{"sha256", image.digest.hex()}}}});
  }
  return subjects;
}

json Materials(const std::vector<Material>& materials) {
  json out = json::array();
  for (const Material& m : materials) {
    out.push_back({{"uri", m.uri}, {"digest", m.digest}});
  }
  return out;
}

std::string Rfc3339(int64_t seconds) {
  return images::FormatRfc3339(seconds);
}

}  // namespace

void DescribeGraph(const graph::Graph& graph, graph::Ref target,
                   const std::map<graph::VertexId, std::string>& commits, BuildFacts& facts) {
  if (target.scratch()) {
    return;
  }
  std::set<std::string> seen;
  for (graph::VertexId id : graph.Closure(target)) {
    const graph::Vertex& vertex = graph.vertex(id);
    if (const auto* source = std::get_if<graph::SourceOp>(&vertex.op.op)) {
      const std::string& identifier = source->identifier;
      Material m;
      if (identifier.starts_with("docker-image://")) {
        std::string name = identifier.substr(std::string_view("docker-image://").size());
        size_t at = name.find("@sha256:");
        if (at != std::string::npos) {
          m.digest["sha256"] = name.substr(at + 8);
          name.resize(at);
        }
        m.uri = ImagePurl(name, facts.platform);
      } else if (identifier.starts_with("local://")) {
        continue;  // the context: named by configSource and locals, not a material
      } else {
        m.uri = identifier;
        if (auto it = commits.find(id); it != commits.end()) {
          m.digest["sha1"] = it->second;
        } else if (auto c = source->attrs.find("checksum"); c != source->attrs.end()) {
          size_t colon = c->second.find(':');
          if (colon != std::string::npos) {
            m.digest[c->second.substr(0, colon)] = c->second.substr(colon + 1);
          }
        }
      }
      if (seen.insert(m.uri + json(m.digest).dump()).second) {
        facts.materials.push_back(std::move(m));
      }
      continue;
    }
    if (vertex.metadata.description.empty()) {
      continue;
    }
    ProvenanceStep step{.description = vertex.metadata.description, .location = ""};
    if (!vertex.metadata.locations.empty()) {
      const graph::Location& l = vertex.metadata.locations.front();
      step.location = l.file + ":" + std::to_string(l.start_line);
    }
    facts.steps.push_back(std::move(step));
  }
}

Result<AttestOptions> ParseAttests(const std::vector<std::string>& specs) {
  AttestOptions out;
  for (const std::string& spec : specs) {
    std::string what = "--attest " + spec;
    std::map<std::string, std::string> attrs = BERTH_TRY(ParseCsvFields(what, spec));
    std::string type = attrs["type"];
    attrs.erase("type");
    bool disabled = false;
    if (auto it = attrs.find("disabled"); it != attrs.end()) {
      disabled = BERTH_TRY(ParseBoolField("--attest", "disabled", it->second));
      attrs.erase(it);
    }
    if (type == "provenance") {
      AttestOptions p;
      p.sbom = out.sbom;
      p.provenance = !disabled;
      for (const auto& [key, value] : attrs) {
        if (key == "mode") {
          if (value != "min" && value != "max") {
            return Error::InvalidArgument(what + ": mode=" + value + ": want min or max");
          }
          p.provenance_max = value == "max";
        } else if (key == "version") {
          if (value != "v0.2" && value != "v1") {
            return Error::InvalidArgument(what + ": version=" + value + ": want v0.2 or v1");
          }
          p.provenance_version = value;
        } else if (key == "builder-id") {
          p.builder_id = value;
        } else if (key != "reproducible" && key != "inline-only" && key != "filename") {
          return Error::InvalidArgument(what + ": unknown attribute \"" + key + "\"");
        }
      }
      out = p;
    } else if (type == "sbom") {
      for (const auto& [key, value] : attrs) {
        // berth scans with its own scanner: a generator image cannot run here, and the stage
        // and context scans of BuildKit's scanner are not made.
        if (key != "generator" && key != "scan-context" && key != "scan-stage") {
          return Error::InvalidArgument(what + ": unknown attribute \"" + key + "\"");
        }
      }
      out.sbom = !disabled;
    } else if (type.empty()) {
      return Error::InvalidArgument(what + ": type= is required (provenance or sbom)");
    } else {
      return Error::InvalidArgument(what + ": unknown type \"" + type +
                                    "\": want provenance or sbom");
    }
  }
  return out;
}

namespace {

Result<std::string> Shorthand(std::string_view type, std::string_view flag,
                              std::string_view value) {
  std::string v = ToLower(Trim(value));
  if (v == "true" || v == "1" || v.empty()) {
    return "type=" + std::string(type);
  }
  if (v == "false" || v == "0") {
    return "type=" + std::string(type) + ",disabled=true";
  }
  if (type == "provenance" && (v == "min" || v == "max")) {
    return "type=provenance,mode=" + v;
  }
  if (value.find('=') == std::string_view::npos) {
    return Error::InvalidArgument(std::string(flag) + " " + std::string(value) +
                                  ": want true, false" +
                                  (type == "provenance" ? ", min, max" : "") + " or KEY=VALUE,...");
  }
  return "type=" + std::string(type) + "," + std::string(value);
}

}  // namespace

Result<std::string> ProvenanceAttest(std::string_view value) {
  return Shorthand("provenance", "--provenance", value);
}

Result<std::string> SbomAttest(std::string_view value) {
  return Shorthand("sbom", "--sbom", value);
}

Statement ProvenanceStatement(const AttestOptions& options, const BuildFacts& facts,
                              const oci::Descriptor& image) {
  json args = json::object();
  for (const auto& [k, v] : facts.build_args) {
    args["build-arg:" + k] = v;
  }
  for (const auto& [k, v] : facts.labels) {
    args["label:" + k] = v;
  }
  if (!facts.target.empty()) {
    args["target"] = facts.target;
  }
  json request = {{"frontend", "dockerfile.v0"},
                  {"args", args},
                  {"locals", json::array({{{"name", "context"}}, {{"name", "dockerfile"}}})}};
  json build_config = nullptr;
  if (options.provenance_max) {
    json secrets = json::array();
    for (const std::string& id : facts.secret_ids) {
      secrets.push_back({{"id", id}});
    }
    json ssh = json::array();
    for (const std::string& id : facts.ssh_ids) {
      ssh.push_back({{"id", id}});
    }
    request["secrets"] = secrets;
    request["ssh"] = ssh;
    json steps = json::array();
    for (const ProvenanceStep& step : facts.steps) {
      steps.push_back({{"description", step.description}, {"location", step.location}});
    }
    build_config = {{"steps", steps}, {"dockerfile", facts.dockerfile_text}};
  }
  json predicate;
  std::string predicate_type;
  if (options.provenance_version == "v1") {
    predicate_type = kSlsa1;
    json definition = {
        {"buildType", kBuildType},
        {"externalParameters",
         {{"configSource", {{"path", facts.dockerfile_name}}}, {"request", request}}},
        {"internalParameters", {{"builderPlatform", facts.platform}}},
        {"resolvedDependencies", json::array()}};
    for (const Material& m : facts.materials) {
      definition["resolvedDependencies"].push_back({{"uri", m.uri}, {"digest", m.digest}});
    }
    if (!build_config.is_null()) {
      definition["internalParameters"]["buildConfig"] = build_config;
    }
    json run = {{"builder", {{"id", options.builder_id}}},
                {"metadata",
                 {{"startedOn", Rfc3339(facts.started)}, {"finishedOn", Rfc3339(facts.finished)}}}};
    predicate = {{"buildDefinition", definition}, {"runDetails", run}};
  } else {
    predicate_type = kSlsa02;
    json invocation = {{"configSource", {{"entryPoint", facts.dockerfile_name}}},
                       {"parameters", request},
                       {"environment", {{"platform", facts.platform}}}};
    predicate = {
        {"builder", {{"id", options.builder_id}}},
        {"buildType", kBuildType},
        {"invocation", invocation},
        {"materials", Materials(facts.materials)},
        {"metadata",
         {{"buildStartedOn", Rfc3339(facts.started)},
          {"buildFinishedOn", Rfc3339(facts.finished)},
          {"completeness",
           {{"parameters", options.provenance_max}, {"environment", true}, {"materials", false}}},
          {"reproducible", false}}}};
    if (!build_config.is_null()) {
      predicate["buildConfig"] = build_config;
    }
  }
  json statement = {{"_type", kStatementV01},
                    {"predicateType", predicate_type},
                    {"subject", Subjects(facts.subjects, image, facts.platform)},
                    {"predicate", predicate}};
  return {.predicate_type = predicate_type, .json = statement.dump()};
}

Statement SbomStatement(const std::vector<std::string>& subjects, const std::string& spdx_json,
                        const oci::Descriptor& image) {
  std::string platform = image.platform ? image.platform->ToString() : "";
  json statement = {{"_type", kStatementV01},
                    {"predicateType", kSpdx},
                    {"subject", Subjects(subjects, image, platform)},
                    {"predicate", json::parse(spdx_json, nullptr, false)}};
  return {.predicate_type = std::string(kSpdx), .json = statement.dump()};
}

Result<oci::Descriptor> AttachAttestations(const Context& ctx, content::Store& content,
                                           const std::string& lease, const oci::Descriptor& image,
                                           const std::vector<Statement>& statements) {
  oci::Manifest manifest;
  manifest.media_type = std::string(oci::kMediaTypeImageManifest);
  oci::ImageConfig config;
  config.architecture = "unknown";
  config.os = "unknown";
  config.rootfs.type = "layers";
  for (const Statement& s : statements) {
    oci::Descriptor layer = BERTH_TRY(StoreDocument(ctx, content, kInTotoMediaType, s.json, lease));
    layer.annotations["in-toto.io/predicate-type"] = s.predicate_type;
    manifest.layers.push_back(layer);
    config.rootfs.diff_ids.push_back(layer.digest);
  }
  manifest.config = BERTH_TRY(
      StoreDocument(ctx, content, oci::kMediaTypeImageConfig, oci::Serialize(config), lease));
  oci::Descriptor attestation = BERTH_TRY(
      StoreDocument(ctx, content, oci::kMediaTypeImageManifest, oci::Serialize(manifest), lease));
  oci::Platform unknown;
  unknown.architecture = "unknown";
  unknown.os = "unknown";
  attestation.platform = unknown;
  attestation.annotations["vnd.docker.reference.digest"] = image.digest.ToString();
  attestation.annotations["vnd.docker.reference.type"] = "attestation-manifest";

  oci::Index index;
  index.media_type = std::string(oci::kMediaTypeImageIndex);
  index.manifests = {image, attestation};
  oci::Descriptor desc = BERTH_TRY(
      StoreDocument(ctx, content, oci::kMediaTypeImageIndex, oci::Serialize(index), lease));
  return desc;
}

}  // namespace berth::engine
