#include "provenance/run_reader.hpp"

#include "provenance/encoding.hpp"

namespace chainsd::provenance {

namespace dom = simdjson::dom;

const char* type_name(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY: return "an array";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE: return "a number";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
  }
  return "unknown";
}

void reader::fail(const json_path& path, const std::string& problem) const {
  throw input_error(std::string(source) + ": " + path.str() + ": " + problem);
}

gospec::fail_fn reader::failer() const {
  return [this](const std::string& path, const std::string& problem) { fail(path, problem); };
}

std::optional<dom::element> reader::member(dom::object obj, std::string_view key) const {
  dom::element el;
  if (obj.at_key(key).get(el) != simdjson::SUCCESS) return std::nullopt;
  if (el.type() == dom::element_type::NULL_VALUE) return std::nullopt;
  return el;
}

std::optional<dom::object> reader::object_member(dom::object obj, std::string_view key, const json_path& path) const {
  auto el = member(obj, key);
  if (!el) return std::nullopt;
  if (el->type() != dom::element_type::OBJECT) fail(path, std::string("must be an object, got ") + type_name(el->type()));
  return dom::object(*el);
}

std::optional<dom::array> reader::array_member(dom::object obj, std::string_view key, const json_path& path) const {
  auto el = member(obj, key);
  if (!el) return std::nullopt;
  if (el->type() != dom::element_type::ARRAY) fail(path, std::string("must be an array, got ") + type_name(el->type()));
  return dom::array(*el);
}

std::string reader::string_member(dom::object obj, std::string_view key, const json_path& path) const {
  auto el = member(obj, key);
  if (!el) return {};
  if (el->type() != dom::element_type::STRING) fail(path, std::string("must be a string, got ") + type_name(el->type()));
  return std::string(std::string_view(*el));
}

dom::object reader::as_object(dom::element el, const json_path& path) const {
  if (el.type() != dom::element_type::OBJECT) fail(path, std::string("must be an object, got ") + type_name(el.type()));
  return dom::object(el);
}

std::vector<std::string> reader::string_array(dom::array arr, const json_path& path) const {
  std::vector<std::string> out;
  std::size_t i = 0;
  for (auto el : arr) {
    if (el.type() != dom::element_type::STRING)
      fail(json_path(path, i), std::string("must be a string, got ") + type_name(el.type()));
    out.emplace_back(std::string_view(el));
    ++i;
  }
  return out;
}

std::map<std::string, std::string> reader::string_map(dom::object obj, const json_path& path) const {
  std::map<std::string, std::string> out;
  for (auto [k, v] : obj) {
    if (v.type() == dom::element_type::NULL_VALUE) continue;
    if (v.type() != dom::element_type::STRING)
      fail(json_path(path, k), std::string("must be a string, got ") + type_name(v.type()));
    out[std::string(k)] = std::string(std::string_view(v));
  }
  return out;
}

param_value reader::value(dom::element el, const json_path& path) const {
  param_value v;
  switch (el.type()) {
    case dom::element_type::STRING: v.str = std::string(std::string_view(el)); break;
    case dom::element_type::ARRAY:
      v.type = param_value::kind::array;
      v.array = string_array(dom::array(el), path);
      break;
    case dom::element_type::OBJECT:
      v.type = param_value::kind::object;
      v.object = string_map(dom::object(el), path);
      break;
    default:
      fail(path, std::string("must be a string, an array of strings or an object of strings, got ") +
                     type_name(el.type()));
  }
  return v;
}

std::vector<result> reader::results(dom::object parent, std::string_view key, const json_path& path) const {
  return each_object<result>(parent, key, path, [this](dom::object obj, const json_path& p) {
    result r;
    r.name = string_member(obj, "name", json_path(p, "name"));
    if (r.name.empty()) fail(json_path(p, "name"), "missing");
    r.type = string_member(obj, "type", json_path(p, "type"));
    if (auto v = member(obj, "value")) r.value = value(*v, json_path(p, "value"));
    return r;
  });
}

std::vector<param> reader::params(dom::object parent, std::string_view key, const json_path& path) const {
  return each_object<param>(parent, key, path, [this](dom::object obj, const json_path& p) {
    param pa;
    pa.name = string_member(obj, "name", json_path(p, "name"));
    if (auto v = member(obj, "value")) pa.value = value(*v, json_path(p, "value"));
    return pa;
  });
}

std::vector<param_spec> reader::param_specs(dom::object parent, const json_path& path) const {
  return each_object<param_spec>(parent, "params", path, [this](dom::object obj, const json_path& p) {
    param_spec ps;
    ps.name = string_member(obj, "name", json_path(p, "name"));
    if (auto d = member(obj, "default")) ps.default_value = value(*d, json_path(p, "default"));
    return ps;
  });
}

std::optional<ref_source> reader::ref(dom::object parent, const json_path& path) const {
  auto obj = object_member(parent, "refSource", path);
  if (!obj) return std::nullopt;
  ref_source r;
  r.uri = string_member(*obj, "uri", json_path(path, "uri"));
  if (auto d = object_member(*obj, "digest", json_path(path, "digest"))) r.digest = string_map(*d, json_path(path, "digest"));
  r.entry_point = string_member(*obj, "entryPoint", json_path(path, "entryPoint"));
  return r;
}

std::optional<std::string> reader::time(dom::object parent, std::string_view key, const json_path& path) const {
  auto s = string_member(parent, key, path);
  if (s.empty()) return std::nullopt;
  auto t = normalize_rfc3339(s);
  if (!t) fail(path, "\"" + s + "\" is not an RFC 3339 time");
  return t;
}

}  // namespace chainsd::provenance
