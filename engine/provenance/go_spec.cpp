#include "provenance/go_spec.hpp"

#include <boost/json.hpp>

#include <cctype>
#include <stdexcept>
#include <vector>

#include "provenance/encoding.hpp"
#include "provenance/go_spec_model.hpp"
#include "provenance/run_reader.hpp"

namespace chainsd::provenance::gospec {
namespace dom = simdjson::dom;
namespace bj = boost::json;

namespace {

bj::value copy(dom::element el) {
  switch (el.type()) {
    case dom::element_type::ARRAY: {
      bj::array a;
      for (auto e : dom::array(el)) a.push_back(copy(e));
      return a;
    }
    case dom::element_type::OBJECT: {
      bj::object o;
      for (auto [k, v] : dom::object(el))
        if (v.type() != dom::element_type::NULL_VALUE) o[k] = copy(v);
      return o;
    }
    case dom::element_type::INT64: return bj::value(int64_t(el));
    case dom::element_type::UINT64: return bj::value(uint64_t(el));
    case dom::element_type::DOUBLE: return bj::value(double(el));
    case dom::element_type::STRING: return bj::value(std::string_view(el));
    case dom::element_type::BOOL: return bj::value(bool(el));
    case dom::element_type::NULL_VALUE: return nullptr;
  }
  return nullptr;
}

struct encoder {
  const fail_fn& report;

  // `report` throws; the fallback keeps this function honest about never returning.
  [[noreturn]] void fail(const json_path& at, const std::string& problem) const {
    auto path = at.str();
    report(path, problem);
    throw std::runtime_error(path + ": " + problem);
  }

  void expect(dom::element el, dom::element_type t, const json_path& path, const char* what) const {
    if (el.type() != t) fail(path, std::string("must be ") + what + ", got " + type_name(el.type()));
  }

  bj::value param_value(dom::element el, const json_path& path) const {
    switch (el.type()) {
      case dom::element_type::STRING: return bj::value(std::string_view(el));
      case dom::element_type::ARRAY: {
        bj::array a;
        std::size_t i = 0;
        for (auto e : dom::array(el)) {
          expect(e, dom::element_type::STRING, json_path(path, i++), "a string");
          a.emplace_back(std::string_view(e));
        }
        return a;
      }
      case dom::element_type::OBJECT: {
        bj::object o;
        for (auto [k, v] : dom::object(el)) {
          if (v.type() == dom::element_type::NULL_VALUE) continue;
          expect(v, dom::element_type::STRING, json_path(path, k), "a string");
          o[k] = std::string_view(v);
        }
        return o;
      }
      default:
        fail(path, std::string("must be a string, an array of strings or an object of strings, got ") +
                       type_name(el.type()));
    }
    return nullptr;
  }

  bj::array params(dom::array arr, const json_path& path) const {
    bj::array out;
    std::size_t i = 0;
    for (auto el : arr) {
      const json_path p(path, i++);
      expect(el, dom::element_type::OBJECT, p, "an object");
      bj::object o;
      dom::element name, value;
      o["name"] = "";
      if (dom::object(el).at_key("name").get(name) == simdjson::SUCCESS && name.type() != dom::element_type::NULL_VALUE) {
        expect(name, dom::element_type::STRING, json_path(p, "name"), "a string");
        o["name"] = std::string_view(name);
      }
      o["value"] = "";
      if (dom::object(el).at_key("value").get(value) == simdjson::SUCCESS && value.type() != dom::element_type::NULL_VALUE)
        o["value"] = param_value(value, json_path(p, "value"));
      out.push_back(std::move(o));
    }
    return out;
  }

  // Go matches an exact tag first, then case-insensitively.
  static std::optional<dom::element> lookup(dom::object obj, std::string_view key) {
    dom::element el;
    if (obj.at_key(key).get(el) == simdjson::SUCCESS) return el;
    for (auto [k, v] : obj) {
      if (k.size() != key.size()) continue;
      bool eq = true;
      for (std::size_t i = 0; i < k.size() && eq; ++i)
        eq = std::tolower(static_cast<unsigned char>(k[i])) == std::tolower(static_cast<unsigned char>(key[i]));
      if (eq) return v;
    }
    return std::nullopt;
  }

  bj::object encode(const type& t, dom::object obj, const json_path& path) const {
    bj::object out;
    for (const auto& f : t.fields) {
      const json_path p(path, f.key);
      auto found = lookup(obj, f.key);
      bool present = found && found->type() != dom::element_type::NULL_VALUE;
      if (!present) {
        switch (f.k) {
          case kind::string_always: out[f.key] = ""; break;
          case kind::value_always: out[f.key] = ""; break;
          case kind::generic_struct:
          case kind::object_always: out[f.key] = bj::object{}; break;
          case kind::raw_extension: out[f.key] = nullptr; break;
          default: break;
        }
        continue;
      }
      dom::element el = *found;
      switch (f.k) {
        case kind::string:
        case kind::string_always:
          expect(el, dom::element_type::STRING, p, "a string");
          if (f.k == kind::string_always || !std::string_view(el).empty()) out[f.key] = std::string_view(el);
          break;
        case kind::boolean:
          expect(el, dom::element_type::BOOL, p, "a boolean");
          if (bool(el)) out[f.key] = true;
          break;
        case kind::integer:
          if (el.type() != dom::element_type::INT64 && el.type() != dom::element_type::UINT64)
            fail(p, std::string("must be an integer, got ") + type_name(el.type()));
          if (el.type() == dom::element_type::INT64 ? int64_t(el) != 0 : uint64_t(el) != 0) out[f.key] = copy(el);
          break;
        case kind::duration: {
          expect(el, dom::element_type::STRING, p, "a duration string");
          auto d = normalize_go_duration(std::string_view(el));
          if (!d) fail(p, "\"" + std::string(std::string_view(el)) + "\" is not a duration");
          out[f.key] = *d;
          break;
        }
        case kind::strings: {
          expect(el, dom::element_type::ARRAY, p, "an array");
          bj::array a;
          std::size_t i = 0;
          for (auto e : dom::array(el)) {
            expect(e, dom::element_type::STRING, json_path(p, i++), "a string");
            a.emplace_back(std::string_view(e));
          }
          if (!a.empty()) out[f.key] = std::move(a);
          break;
        }
        case kind::params: {
          expect(el, dom::element_type::ARRAY, p, "an array");
          auto a = params(dom::array(el), p);
          if (!a.empty()) out[f.key] = std::move(a);
          break;
        }
        case kind::value_ptr:
        case kind::value_always: out[f.key] = param_value(el, p); break;
        case kind::generic_ptr:
        case kind::generic_struct:
        case kind::raw_extension: out[f.key] = copy(el); break;
        case kind::generic_list:
          expect(el, dom::element_type::ARRAY, p, "an array");
          if (dom::array(el).size() > 0) out[f.key] = copy(el);
          break;
        case kind::generic_map:
          expect(el, dom::element_type::OBJECT, p, "an object");
          if (dom::object(el).size() > 0) out[f.key] = copy(el);
          break;
        case kind::object:
        case kind::object_always:
          expect(el, dom::element_type::OBJECT, p, "an object");
          out[f.key] = encode(*f.t, dom::object(el), p);
          break;
        case kind::list: {
          expect(el, dom::element_type::ARRAY, p, "an array");
          bj::array a;
          std::size_t i = 0;
          for (auto e : dom::array(el)) {
            const json_path ep(p, i++);
            expect(e, dom::element_type::OBJECT, ep, "an object");
            a.push_back(encode(*f.t, dom::object(e), ep));
          }
          if (!a.empty()) out[f.key] = std::move(a);
          break;
        }
      }
    }
    return out;
  }
};

}  // namespace

bj::object task_run_spec(dom::object spec, const fail_fn& fail) {
  return encoder{fail}.encode(model::task_run_spec, spec, "spec");
}

bj::object pipeline_run_spec(dom::object spec, const fail_fn& fail) {
  return encoder{fail}.encode(model::pipeline_run_spec, spec, "spec");
}

bj::object task_ref(dom::object ref, const json_path& path, const fail_fn& fail) {
  return encoder{fail}.encode(model::task_ref, ref, path);
}

}  // namespace chainsd::provenance::gospec
