#include "selectors.hpp"

#include <algorithm>

namespace chainsd::testserver {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

// Splits on commas that are not inside parentheses.
std::vector<std::string_view> split_top(std::string_view s) {
  std::vector<std::string_view> out;
  int depth = 0;
  std::size_t start = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '(') ++depth;
    else if (s[i] == ')') --depth;
    else if (s[i] == ',' && depth == 0) {
      out.push_back(trim(s.substr(start, i - start)));
      start = i + 1;
    }
  }
  out.push_back(trim(s.substr(start)));
  return out;
}

const std::string* find_label(const label_map& labels, std::string_view key) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& kv, std::string_view k) { return kv.first < k; });
  if (it == labels.end() || it->first != key) return nullptr;
  return &it->second;
}

std::string scalar_text(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "";
  return json::serialize(v);
}

}  // namespace

label_map labels_of(const json::object& obj) {
  label_map out;
  const json::object* md = object_at(obj, "metadata");
  if (!md) return out;
  const json::object* labels = object_at(*md, "labels");
  if (!labels) return out;
  for (const auto& kv : *labels)
    out.emplace_back(std::string(kv.key()), kv.value().is_string()
                                                ? std::string(kv.value().get_string())
                                                : json::serialize(kv.value()));
  std::sort(out.begin(), out.end());
  return out;
}

bool label_selector::parse(std::string_view text, std::string& error) {
  reqs_.clear();
  text = trim(text);
  if (text.empty()) return true;
  for (std::string_view part : split_top(text)) {
    if (part.empty()) {
      error = "empty requirement in label selector";
      return false;
    }
    requirement r;
    auto set_op = [&](std::string_view word, op o) -> bool {
      auto pos = part.find(word);
      if (pos == std::string_view::npos) return false;
      r.key = std::string(trim(part.substr(0, pos)));
      std::string_view rest = trim(part.substr(pos + word.size()));
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') return false;
      rest = rest.substr(1, rest.size() - 2);
      for (std::string_view v : split_top(rest)) r.values.emplace_back(trim(v));
      r.o = o;
      return true;
    };
    if (set_op(" notin ", op::not_in) || set_op(" in ", op::in)) {
    } else if (auto ne = part.find("!="); ne != std::string_view::npos) {
      r.key = std::string(trim(part.substr(0, ne)));
      r.values.emplace_back(trim(part.substr(ne + 2)));
      r.o = op::ne;
    } else if (auto eq = part.find('='); eq != std::string_view::npos) {
      r.key = std::string(trim(part.substr(0, eq)));
      std::string_view v = part.substr(eq + 1);
      if (!v.empty() && v.front() == '=') v.remove_prefix(1);
      r.values.emplace_back(trim(v));
      r.o = op::eq;
    } else if (part.front() == '!') {
      r.key = std::string(trim(part.substr(1)));
      r.o = op::not_exists;
    } else {
      r.key = std::string(part);
      r.o = op::exists;
    }
    if (r.key.empty() || r.key.find_first_of(" ()!=") != std::string::npos) {
      error = "unable to parse requirement: \"" + std::string(part) + "\"";
      return false;
    }
    reqs_.push_back(std::move(r));
  }
  return true;
}

bool label_selector::matches(const label_map& labels) const {
  for (const auto& r : reqs_) {
    const std::string* v = find_label(labels, r.key);
    switch (r.o) {
      case op::eq:
        if (!v || *v != r.values[0]) return false;
        break;
      case op::ne:
        if (v && *v == r.values[0]) return false;
        break;
      case op::exists:
        if (!v) return false;
        break;
      case op::not_exists:
        if (v) return false;
        break;
      case op::in:
        if (!v || std::find(r.values.begin(), r.values.end(), *v) == r.values.end()) return false;
        break;
      case op::not_in:
        if (v && std::find(r.values.begin(), r.values.end(), *v) != r.values.end()) return false;
        break;
    }
  }
  return true;
}

bool field_selector::parse(std::string_view text, std::string& error) {
  reqs_.clear();
  metadata_only_ = true;
  text = trim(text);
  if (text.empty()) return true;
  for (std::string_view part : split_top(text)) {
    requirement r;
    if (auto ne = part.find("!="); ne != std::string_view::npos) {
      r.path = std::string(trim(part.substr(0, ne)));
      r.value = std::string(trim(part.substr(ne + 2)));
      r.equal = false;
    } else if (auto eq = part.find('='); eq != std::string_view::npos) {
      r.path = std::string(trim(part.substr(0, eq)));
      std::string_view v = part.substr(eq + 1);
      if (!v.empty() && v.front() == '=') v.remove_prefix(1);
      r.value = std::string(trim(v));
      r.equal = true;
    } else {
      error = "invalid selector: '" + std::string(text) + "'; can't understand '" +
              std::string(part) + "'";
      return false;
    }
    if (r.path.empty()) {
      error = "invalid field selector: empty field label";
      return false;
    }
    if (r.path != "metadata.name" && r.path != "metadata.namespace") metadata_only_ = false;
    reqs_.push_back(std::move(r));
  }
  return true;
}

bool field_selector::matches(std::string_view ns, std::string_view name,
                             const std::string& bytes) const {
  json::value parsed;
  bool have_parsed = false;
  for (const auto& r : reqs_) {
    std::string actual;
    if (r.path == "metadata.name") {
      actual = name;
    } else if (r.path == "metadata.namespace") {
      actual = ns;
    } else {
      if (!have_parsed) {
        boost::system::error_code ec;
        parsed = json::parse(bytes, ec);
        have_parsed = true;
      }
      const json::value* cur = &parsed;
      std::string_view path = r.path;
      while (cur && !path.empty()) {
        auto dot = path.find('.');
        std::string_view seg = path.substr(0, dot);
        path = dot == std::string_view::npos ? std::string_view{} : path.substr(dot + 1);
        if (!cur->is_object()) {
          cur = nullptr;
          break;
        }
        auto it = cur->get_object().find(seg);
        cur = it == cur->get_object().end() ? nullptr : &it->value();
      }
      if (cur) actual = scalar_text(*cur);
    }
    if ((actual == r.value) != r.equal) return false;
  }
  return true;
}

}  // namespace chainsd::testserver
