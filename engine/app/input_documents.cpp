#include "app/input_documents.hpp"

#include "provenance/run_view.hpp"

#include <boost/json.hpp>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <stdexcept>

namespace chainsd::app {
namespace {

namespace bj = boost::json;

std::string string_at(const bj::object& o, std::string_view key) {
  auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

const char* json_type(const bj::value& v) {
  if (v.is_array()) return "a sequence";
  if (v.is_string()) return "a string";
  if (v.is_null()) return "null";
  if (v.is_bool()) return "a boolean";
  return "a number";
}

input_document make_document(const bj::object& o, std::string where) {
  input_document d;
  d.json = bj::serialize(o);
  d.kind = string_at(o, "kind");
  if (auto* m = o.if_contains("metadata"); m && m->is_object()) {
    d.name = string_at(m->as_object(), "name");
    d.namespace_name = string_at(m->as_object(), "namespace");
  }
  d.where = std::move(where);
  return d;
}

// One parsed object, or a List's items.
void add(std::vector<input_document>& out, const bj::value& v, const std::string& source, const std::string& where) {
  auto in = [&](const std::string& w) { return source + ": " + (w.empty() ? std::string() : w + ": "); };
  if (!v.is_object()) throw std::runtime_error(in(where) + "is " + json_type(v) + ", not an object");
  const auto& o = v.as_object();
  const auto kind = string_at(o, "kind");
  const auto* items = o.if_contains("items");
  if (kind.size() >= 4 && kind.compare(kind.size() - 4, 4, "List") == 0 && items && items->is_array()) {
    const auto& arr = items->as_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      auto w = (where.empty() ? std::string() : where + " ") + "items[" + std::to_string(i) + "]";
      if (!arr[i].is_object()) throw std::runtime_error(in(w) + "is " + json_type(arr[i]) + ", not an object");
      out.push_back(make_document(arr[i].as_object(), w));
    }
    return;
  }
  out.push_back(make_document(o, where));
}

bj::value parse_json(std::string_view json, const std::string& source, const std::string& where) {
  boost::system::error_code ec;
  auto v = bj::parse(json, ec);
  if (ec) throw std::runtime_error(source + ": " + (where.empty() ? "" : where + ": ") + "not valid JSON: " + ec.message());
  return v;
}

bool blank_or_comment(std::string_view chunk) {
  std::size_t i = 0;
  while (i < chunk.size()) {
    auto eol = chunk.find('\n', i);
    auto line = chunk.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    auto first = line.find_first_not_of(" \t\r");
    if (first != std::string_view::npos && line[first] != '#') return false;
    if (eol == std::string_view::npos) break;
    i = eol + 1;
  }
  return true;
}

// A YAML stream's documents: split at `---` lines (a marker alone or followed by a space), as
// kubectl does; `...` ends a document.
std::vector<std::string_view> yaml_chunks(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0, i = 0;
  while (i <= text.size()) {
    auto eol = text.find('\n', i);
    auto line = text.substr(i, eol == std::string_view::npos ? std::string_view::npos : eol - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const bool marker = (line.rfind("---", 0) == 0 && (line.size() == 3 || line[3] == ' ' || line[3] == '\t')) ||
                        line == "...";
    if (marker) {
      out.push_back(text.substr(start, i - start));
      start = eol == std::string_view::npos ? text.size() : eol + 1;
    }
    if (eol == std::string_view::npos) break;
    i = eol + 1;
  }
  out.push_back(text.substr(start));
  return out;
}

}  // namespace

std::string input_document::label() const {
  std::string out = kind.empty() ? "object" : kind;
  if (!name.empty()) out += " " + (namespace_name.empty() ? name : namespace_name + "/" + name);
  if (!where.empty()) out += " (" + where + ")";
  return out;
}

std::string read_input(const std::string& path) {
  if (path == "-") {
    std::ostringstream ss;
    ss << std::cin.rdbuf();
    return ss.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot read: " + std::strerror(errno));
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::vector<input_document> split_documents(std::string_view text, const std::string& source) {
  std::vector<input_document> out;
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) throw std::runtime_error(source + ": empty input");
  if (text[first] == '{' || text[first] == '[') {
    add(out, parse_json(text, source, ""), source, "");
    return out;
  }
  auto chunks = yaml_chunks(text);
  std::vector<std::pair<std::string_view, std::size_t>> docs;  // text, 1-based number
  for (std::size_t i = 0, n = 0; i < chunks.size(); ++i) {
    if (blank_or_comment(chunks[i])) continue;
    docs.emplace_back(chunks[i], ++n);
  }
  if (docs.empty()) throw std::runtime_error(source + ": empty input (only comments or document markers)");
  for (const auto& [chunk, n] : docs) {
    const std::string where = docs.size() > 1 ? "document " + std::to_string(n) : std::string();
    std::string json;
    try {
      json = provenance::yaml_to_json(chunk, where.empty() ? source : source + ": " + where);
    } catch (const provenance::input_error& e) {
      throw std::runtime_error(e.what());
    }
    add(out, parse_json(json, source, where), source, where);
  }
  return out;
}

}  // namespace chainsd::app
