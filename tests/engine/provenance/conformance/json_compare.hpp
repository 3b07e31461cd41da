#pragma once
// Test helpers: RFC 6902 patches, a tiny JSONPath ("$" or "$.a.b"), semantic comparison with
// order-insensitive array paths, and a canonical (sorted-key) rendering for messages.
#include <boost/json.hpp>

#include <algorithm>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace testjson {

namespace bj = boost::json;

inline std::string canonical(const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::object: {
      std::vector<std::pair<std::string, const bj::value*>> m;
      for (const auto& kv : v.get_object()) m.emplace_back(std::string(kv.key()), &kv.value());
      std::sort(m.begin(), m.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
      std::string out = "{";
      for (std::size_t i = 0; i < m.size(); ++i) {
        if (i) out += ",";
        out += bj::serialize(bj::value(m[i].first)) + ":" + canonical(*m[i].second);
      }
      return out + "}";
    }
    case bj::kind::array: {
      std::string out = "[";
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ",";
        first = false;
        out += canonical(e);
      }
      return out + "]";
    }
    case bj::kind::int64:
    case bj::kind::uint64:
    case bj::kind::double_: return bj::serialize(bj::value(bj::value_to<double>(v)));
    default: return bj::serialize(v);
  }
}

inline bool equal(const bj::value& a, const bj::value& b, const std::string& path, const std::set<std::string>& unordered,
                  std::string& diff) {
  auto fail = [&](const std::string& why) {
    if (diff.empty()) diff = path + ": " + why;
    return false;
  };
  if (a.is_number() && b.is_number())
    return bj::value_to<double>(a) == bj::value_to<double>(b) ? true : fail("numbers differ");
  if (a.kind() != b.kind()) return fail("types differ: " + canonical(a) + " vs " + canonical(b));
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    for (const auto& kv : x)
      if (!y.contains(kv.key())) return fail("unexpected key \"" + std::string(kv.key()) + "\"");
    for (const auto& kv : y)
      if (!x.contains(kv.key())) return fail("missing key \"" + std::string(kv.key()) + "\"");
    for (const auto& kv : x)
      if (!equal(kv.value(), y.at(kv.key()), path + "." + std::string(kv.key()), unordered, diff)) return false;
    return true;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size())
      return fail("array lengths differ: " + std::to_string(x.size()) + " vs " + std::to_string(y.size()));
    if (unordered.count(path)) {
      std::vector<std::string> cx, cy;
      for (const auto& e : x) cx.push_back(canonical(e));
      for (const auto& e : y) cy.push_back(canonical(e));
      std::sort(cx.begin(), cx.end());
      std::sort(cy.begin(), cy.end());
      return cx == cy ? true : fail("multisets differ");
    }
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!equal(x[i], y[i], path + "[" + std::to_string(i) + "]", unordered, diff)) return false;
    return true;
  }
  return a == b ? true : fail("values differ: " + canonical(a) + " vs " + canonical(b));
}

inline const bj::value* select(const bj::value& root, const std::string& path) {
  if (path.empty() || path[0] != '$') return nullptr;
  const bj::value* cur = &root;
  std::size_t pos = 1;
  while (pos < path.size()) {
    if (path[pos] != '.') return nullptr;
    auto next = path.find('.', pos + 1);
    auto key = path.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(key);
    if (!cur) return nullptr;
    pos = next == std::string::npos ? path.size() : next;
  }
  return cur;
}

// RFC 6901 pointer → parent container and last token.
inline std::vector<std::string> pointer_tokens(const std::string& ptr) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < ptr.size()) {
    if (ptr[pos] != '/') throw std::runtime_error("bad JSON pointer " + ptr);
    auto next = ptr.find('/', pos + 1);
    auto tok = ptr.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    std::string t;
    for (std::size_t i = 0; i < tok.size(); ++i) {
      if (tok[i] == '~' && i + 1 < tok.size()) {
        t += tok[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        t += tok[i];
      }
    }
    out.push_back(t);
    pos = next == std::string::npos ? ptr.size() : next;
  }
  return out;
}

inline void apply_patch(bj::value& doc, const bj::array& patch) {
  for (const auto& opv : patch) {
    const auto& op = opv.as_object();
    std::string kind(op.at("op").as_string());
    auto tokens = pointer_tokens(std::string(op.at("path").as_string()));
    if (tokens.empty()) {
      if (kind == "replace" || kind == "add") doc = op.at("value");
      continue;
    }
    bj::value* parent = &doc;
    for (std::size_t i = 0; i + 1 < tokens.size(); ++i) {
      if (parent->is_object()) parent = &parent->as_object().at(tokens[i]);
      else parent = &parent->as_array().at(std::stoul(tokens[i]));
    }
    const auto& last = tokens.back();
    if (parent->is_object()) {
      auto& o = parent->as_object();
      if (kind == "remove") o.erase(last);
      else if (kind == "replace" || kind == "add") o[last] = op.at("value");
      else throw std::runtime_error("unsupported patch op " + kind);
    } else {
      auto& a = parent->as_array();
      if (kind == "remove") a.erase(a.begin() + static_cast<std::ptrdiff_t>(std::stoul(last)));
      else if (kind == "replace") a.at(std::stoul(last)) = op.at("value");
      else if (kind == "add") {
        if (last == "-") a.push_back(op.at("value"));
        else a.insert(a.begin() + static_cast<std::ptrdiff_t>(std::stoul(last)), op.at("value"));
      } else throw std::runtime_error("unsupported patch op " + kind);
    }
  }
}

}  // namespace testjson
