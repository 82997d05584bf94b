// The JSON plumbing of berthd's API handlers: answers, request bodies, fields. Internal to the
// handlers' .cc files (service/, registryserver/): it brings nlohmann/json with it, so no public
// header includes it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "base/result.h"
#include "base/strings.h"
#include "httpserver/server.h"

namespace berth::service {

// `j` as the answer, with `status`.
inline httpserver::Response JsonOk(const nlohmann::json& j, int status = 200) {
  return httpserver::Response::Json(
      status, j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// The request body as a JSON object ({} when empty); InvalidArgument naming the problem.
inline Result<nlohmann::json> JsonBody(const httpserver::Request& r) {
  if (Trim(r.body).empty()) {
    return nlohmann::json::object();
  }
  nlohmann::json j = nlohmann::json::parse(r.body, nullptr, false);
  if (j.is_discarded()) {
    return Error::InvalidArgument("request body: not JSON");
  }
  if (!j.is_object()) {
    return Error::InvalidArgument("request body: want a JSON object");
  }
  return j;
}

// A string field (optional unless `required`: "" when absent or null); InvalidArgument names
// the field.
inline Result<std::string> StringField(const nlohmann::json& j, const char* name, bool required) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) {
    if (required) {
      return Error::InvalidArgument(std::string("field \"") + name + "\" is required");
    }
    return std::string();
  }
  if (!it->is_string()) {
    return Error::InvalidArgument(std::string("field \"") + name + "\": want a string");
  }
  return it->get<std::string>();
}

}  // namespace berth::service
