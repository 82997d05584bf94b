#include "cache/export_format.h"

#include <cstdint>
#include <set>

#include <nlohmann/json.hpp>

namespace berth::cache {
namespace {

using nlohmann::json;

Result<const json*> Field(const json& object, const std::string& where, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) {
    return Error::InvalidArgument(where + ": no \"" + name + "\"");
  }
  return &*it;
}

Result<std::string> StringField(const json& object, const std::string& where, const char* name,
                                bool required = true) {
  if (!required && !object.contains(name)) {
    return std::string();
  }
  const json* v = BERTH_TRY(Field(object, where, name));
  if (!v->is_string()) {
    return Error::InvalidArgument(where + "." + name + ": not a string");
  }
  return v->get<std::string>();
}

Result<digest::Digest> DigestField(const json& object, const std::string& where, const char* name) {
  std::string text = BERTH_TRY(StringField(object, where, name));
  return BERTH_TRY_CONTEXT(digest::Digest::Parse(text), where + "." + name);
}

}  // namespace

std::string SerializeCacheConfig(const CacheConfig& config) {
  json layers = json::array();
  for (const Layer& layer : config.layers) {
    json l = json::object();
    l["mediaType"] = layer.media_type;
    l["digest"] = layer.digest.ToString();
    l["size"] = layer.size;
    l["diffID"] = layer.diff_id.ToString();
    layers.push_back(std::move(l));
  }
  json records = json::array();
  for (const ExportedRecord& record : config.records) {
    json r = json::object();
    r["key"] = record.key;
    r["layers"] = record.chain;
    if (!record.description.empty()) {
      r["description"] = record.description;
    }
    records.push_back(std::move(r));
  }
  json doc = json::object();
  doc["layers"] = std::move(layers);
  doc["records"] = std::move(records);
  return doc.dump();
}

Result<CacheConfig> ParseCacheConfig(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return Error::InvalidArgument("cache config: not valid JSON");
  }
  if (!doc.is_object()) {
    return Error::InvalidArgument("cache config: not a JSON object");
  }
  CacheConfig config;
  const json* layers = BERTH_TRY(Field(doc, "cache config", "layers"));
  if (!layers->is_array()) {
    return Error::InvalidArgument("layers: not an array");
  }
  if (layers->size() > kMaxCacheLayers) {
    return Error::InvalidArgument("layers: more than " + std::to_string(kMaxCacheLayers));
  }
  for (size_t i = 0; i < layers->size(); ++i) {
    const json& l = (*layers)[i];
    std::string where = "layers[" + std::to_string(i) + "]";
    if (!l.is_object()) {
      return Error::InvalidArgument(where + ": not an object");
    }
    Layer layer;
    layer.media_type = BERTH_TRY(StringField(l, where, "mediaType"));
    layer.digest = BERTH_TRY(DigestField(l, where, "digest"));
    layer.diff_id = BERTH_TRY(DigestField(l, where, "diffID"));
    const json* size = BERTH_TRY(Field(l, where, "size"));
    if (!size->is_number_integer() || size->get<int64_t>() < 0) {
      return Error::InvalidArgument(where + ".size: not a size in bytes");
    }
    layer.size = size->get<int64_t>();
    config.layers.push_back(std::move(layer));
  }
  const json* records = BERTH_TRY(Field(doc, "cache config", "records"));
  if (!records->is_array()) {
    return Error::InvalidArgument("records: not an array");
  }
  if (records->size() > kMaxCacheRecords) {
    return Error::InvalidArgument("records: more than " + std::to_string(kMaxCacheRecords));
  }
  std::set<std::string> keys;
  for (size_t i = 0; i < records->size(); ++i) {
    const json& r = (*records)[i];
    std::string where = "records[" + std::to_string(i) + "]";
    if (!r.is_object()) {
      return Error::InvalidArgument(where + ": not an object");
    }
    ExportedRecord record;
    record.key = BERTH_TRY(StringField(r, where, "key"));
    if (record.key.empty() || record.key.size() > kMaxCacheKeyLength) {
      return Error::InvalidArgument(where + ".key: empty or longer than " +
                                    std::to_string(kMaxCacheKeyLength) + " bytes");
    }
    if (!keys.insert(record.key).second) {
      return Error::InvalidArgument(where + ".key: " + record.key + " appears twice");
    }
    record.description = BERTH_TRY(StringField(r, where, "description", /*required=*/false));
    const json* chain = BERTH_TRY(Field(r, where, "layers"));
    if (!chain->is_array() || chain->empty()) {
      return Error::InvalidArgument(where + ".layers: not a non-empty array");
    }
    if (chain->size() > config.layers.size()) {
      return Error::InvalidArgument(where + ".layers: longer than the layer list");
    }
    for (size_t j = 0; j < chain->size(); ++j) {
      const json& index = (*chain)[j];
      if (!index.is_number_unsigned() || index.get<uint64_t>() >= config.layers.size()) {
        return Error::InvalidArgument(where + ".layers[" + std::to_string(j) +
                                      "]: not the index of a layer");
      }
      record.chain.push_back(static_cast<size_t>(index.get<uint64_t>()));
    }
    config.records.push_back(std::move(record));
  }
  return config;
}

}  // namespace berth::cache
