//===- Json.cpp - JSON parsing that rejects duplicate keys ----------------===//

#include "runtime/formats/Json.h"

#include "runtime/support/Error.h"

#include <vector>

namespace awq {

using nlohmann::json;

namespace {

/// A SAX handler that builds the document itself: one map insertion per
/// key both stores the member and detects a duplicate (no second key set),
/// and a depth count bounds the nesting. nlohmann's own DOM builder keeps
/// the last of two equal keys.
class CheckingDomBuilder {
public:
  CheckingDomBuilder(json &root, const std::string &where)
      : root(root), where(where) {}

  bool null() { return add(nullptr); }
  bool boolean(bool value) { return add(value); }
  bool number_integer(json::number_integer_t value) { return add(value); }
  bool number_unsigned(json::number_unsigned_t value) { return add(value); }
  bool number_float(json::number_float_t value, const json::string_t &) {
    return add(value);
  }
  bool string(json::string_t &value) { return add(std::move(value)); }
  bool binary(json::binary_t &value) { return add(std::move(value)); }

  bool start_object(std::size_t) {
    enter(place(json::object()));
    return true;
  }
  bool key(json::string_t &name) {
    auto &members = open.back()->get_ref<json::object_t &>();
    auto [it, inserted] = members.emplace(std::move(name), nullptr);
    if (!inserted)
      throw Error(where + ": key '" + it->first + "' appears more than once " +
                  (open.size() == 1 ? "at the top level" : "in one object"));
    member = &it->second;
    return true;
  }
  bool end_object() {
    open.pop_back();
    return true;
  }
  bool start_array(std::size_t) {
    enter(place(json::array()));
    return true;
  }
  bool end_array() {
    open.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string &,
                   const nlohmann::detail::exception &error) {
    throw error;
  }

private:
  /// Stores `value` where the parser is (the root, the next array element or
  /// the member named by the last key) and returns it.
  template <typename Value> json *place(Value &&value) {
    if (open.empty()) {
      root = json(std::forward<Value>(value));
      return &root;
    }
    json &container = *open.back();
    if (container.is_array()) {
      auto &elements = container.get_ref<json::array_t &>();
      elements.emplace_back(std::forward<Value>(value));
      return &elements.back();
    }
    *member = json(std::forward<Value>(value));
    return member;
  }
  template <typename Value> bool add(Value &&value) {
    place(std::forward<Value>(value));
    return true;
  }
  void enter(json *container) {
    if (static_cast<int>(open.size()) >= kMaxJsonDepth)
      throw Error(where + ": nested more than " +
                  std::to_string(kMaxJsonDepth) + " levels deep");
    open.push_back(container);
  }

  json &root;
  std::string where;
  /// The objects and arrays being filled, innermost last. Pointers stay
  /// valid: a container only grows while it is innermost.
  std::vector<json *> open;
  json *member = nullptr;
};

} // namespace

json parseJsonRejectingDuplicateKeys(std::string_view text,
                                     const std::string &where) {
  json result;
  CheckingDomBuilder parser(result, where);
  try {
    json::sax_parse(text.begin(), text.end(), &parser);
  } catch (const json::exception &e) {
    throw Error(where + " is not valid JSON: " + e.what());
  }
  return result;
}

} // namespace awq
