//===- Json.cpp - JSON parsing that rejects duplicate keys ----------------===//

#include "runtime/formats/Json.h"

#include "runtime/support/Error.h"

#include <set>
#include <vector>

namespace awq {

using nlohmann::json;

json parseJsonRejectingDuplicateKeys(std::string_view text,
                                     const std::string &where) {
  std::vector<std::set<std::string>> openObjects;
  auto callback = [&](int depth, json::parse_event_t event,
                      json &parsed) -> bool {
    switch (event) {
    case json::parse_event_t::object_start:
      openObjects.emplace_back();
      break;
    case json::parse_event_t::object_end:
      if (!openObjects.empty())
        openObjects.pop_back();
      break;
    case json::parse_event_t::key: {
      const std::string &key = parsed.get_ref<const std::string &>();
      if (!openObjects.empty() && !openObjects.back().insert(key).second)
        throw Error(where + ": key '" + key + "' appears more than once " +
                    (depth == 1 ? "at the top level" : "in one object"));
      break;
    }
    default:
      break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception &e) {
    throw Error(where + " is not valid JSON: " + e.what());
  }
}

} // namespace awq
