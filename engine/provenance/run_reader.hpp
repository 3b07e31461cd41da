#pragma once
// Internal: typed reading of a run document parsed by simdjson. A member that is absent or null
// reads as absent; a present member of the wrong type fails with input_error
// "<source>: <field path>: must be an object, got a string".

#include <simdjson.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "provenance/go_spec.hpp"
#include "provenance/json_path.hpp"
#include "provenance/run_view.hpp"

namespace chainsd::provenance {

// "an array", "a string", ... for error messages.
const char* type_name(simdjson::dom::element_type t);

struct reader {
  using element = simdjson::dom::element;
  using object = simdjson::dom::object;
  using array = simdjson::dom::array;

  std::string_view source;
  [[noreturn]] void fail(const json_path& path, const std::string& problem) const;
  gospec::fail_fn failer() const;

  // A member that may be absent or null; present members must have the wanted type.
  std::optional<element> member(object obj, std::string_view key) const;
  std::optional<object> object_member(object obj, std::string_view key, const json_path& path) const;
  std::optional<array> array_member(object obj, std::string_view key, const json_path& path) const;
  std::string string_member(object obj, std::string_view key, const json_path& path) const;
  object as_object(element el, const json_path& path) const;
  std::vector<std::string> string_array(array arr, const json_path& path) const;
  std::map<std::string, std::string> string_map(object obj, const json_path& path) const;
  param_value value(element el, const json_path& path) const;
  std::vector<result> results(object parent, std::string_view key, const json_path& path) const;
  std::vector<param> params(object parent, std::string_view key, const json_path& path) const;
  std::vector<param_spec> param_specs(object parent, const json_path& path) const;
  std::optional<ref_source> ref(object parent, const json_path& path) const;
  std::optional<std::string> time(object parent, std::string_view key, const json_path& path) const;

  // Each object of the array member `key` (absent or null: none), read by `one(object, path)`.
  template <class T, class Fn>
  std::vector<T> each_object(object parent, std::string_view key, const json_path& path, Fn one) const {
    std::vector<T> out;
    auto arr = array_member(parent, key, path);
    if (!arr) return out;
    out.reserve(arr->size());
    std::size_t i = 0;
    for (auto el : *arr) {
      const json_path p(path, i++);
      out.push_back(one(as_object(el, p), p));
    }
    return out;
  }
};

}  // namespace chainsd::provenance
