//===- Json.cpp - JSON parsing that rejects duplicate keys ----------------===//

#include "runtime/formats/Json.h"

#include "runtime/support/Error.h"

#include <unordered_set>
#include <vector>

namespace awq {

using nlohmann::json;

namespace {

/// The DOM builder with a key set per open object and a depth count.
class CheckingDomParser : public nlohmann::detail::json_sax_dom_parser<json> {
  using Base = nlohmann::detail::json_sax_dom_parser<json>;

public:
  CheckingDomParser(json &result, const std::string &where)
      : Base(result, /*allow_exceptions=*/true), where(where) {}

  bool start_object(std::size_t size) {
    enter();
    openObjects.emplace_back();
    return Base::start_object(size);
  }
  bool end_object() {
    openObjects.pop_back();
    --depth;
    return Base::end_object();
  }
  bool start_array(std::size_t size) {
    enter();
    return Base::start_array(size);
  }
  bool end_array() {
    --depth;
    return Base::end_array();
  }
  bool key(json::string_t &key) {
    if (!openObjects.back().insert(key).second)
      throw Error(
          where + ": key '" + key + "' appears more than once " +
          (openObjects.size() == 1 ? "at the top level" : "in one object"));
    return Base::key(key);
  }

private:
  void enter() {
    if (++depth > kMaxJsonDepth)
      throw Error(where + ": nested more than " +
                  std::to_string(kMaxJsonDepth) + " levels deep");
  }

  std::string where;
  std::vector<std::unordered_set<std::string>> openObjects;
  int depth = 0;
};

} // namespace

json parseJsonRejectingDuplicateKeys(std::string_view text,
                                     const std::string &where) {
  json result;
  CheckingDomParser parser(result, where);
  try {
    json::sax_parse(text.begin(), text.end(), &parser);
  } catch (const json::exception &e) {
    throw Error(where + " is not valid JSON: " + e.what());
  }
  return result;
}

} // namespace awq
