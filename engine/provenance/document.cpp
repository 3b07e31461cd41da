// YAML input: `kubectl get taskrun X -o yaml` output is converted to JSON text and then read like
// any JSON run, so there is one parser for the structure and its error messages.
#include <yaml-cpp/yaml.h>

#include <cctype>

#include "provenance/encoding.hpp"
#include "provenance/run_view.hpp"

namespace chainsd::provenance {
namespace {

bool is_int(const std::string& s) {
  std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i >= s.size()) return false;
  if (s[i] == '0' && s.size() > i + 1) return false;  // "0123" is not a JSON number
  for (; i < s.size(); ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}

// JSON's number grammar: YAML floats outside it (".5", "1.", "inf") stay strings.
bool is_float(const std::string& s) {
  std::size_t i = 0, n = s.size();
  auto digits = [&] {
    std::size_t b = i;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    return i > b;
  };
  if (i < n && s[i] == '-') ++i;
  if (!digits()) return false;
  if (i < n && s[i] == '.') {
    ++i;
    if (!digits()) return false;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return false;
  }
  return i == n;
}

void emit(const YAML::Node& n, std::string& out, int depth) {
  if (depth > 512) throw std::runtime_error("nesting deeper than 512 levels");
  switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: out += "null"; return;
    case YAML::NodeType::Sequence: {
      out += '[';
      bool first = true;
      for (const auto& e : n) {
        if (!first) out += ',';
        first = false;
        emit(e, out, depth + 1);
      }
      out += ']';
      return;
    }
    case YAML::NodeType::Map: {
      out += '{';
      bool first = true;
      for (const auto& kv : n) {
        if (!first) out += ',';
        first = false;
        append_json_string(out, kv.first.Scalar());
        out += ':';
        emit(kv.second, out, depth + 1);
      }
      out += '}';
      return;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = n.Scalar();
      if (n.Tag() == "!") {  // quoted: always a string
        append_json_string(out, s);
        return;
      }
      if (s == "~" || s == "null" || s == "Null" || s == "NULL") out += "null";
      else if (s == "true" || s == "True" || s == "TRUE") out += "true";
      else if (s == "false" || s == "False" || s == "FALSE") out += "false";
      else if (!s.empty() && is_int(s)) out += s[0] == '+' ? s.substr(1) : s;
      else if (!s.empty() && is_float(s)) out += s;
      else append_json_string(out, s);
      return;
    }
  }
}

}  // namespace

std::string yaml_to_json(std::string_view yaml, std::string_view source) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    std::string out;
    emit(root, out, 0);
    return out;
  } catch (const std::exception& e) {
    throw input_error(std::string(source) + ": not valid YAML: " + e.what());
  }
}

run_view parse_run_document(std::string_view text, std::string_view source, std::optional<run_kind> kind_hint) {
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) throw input_error(std::string(source) + ": empty document");
  if (text[first] == '{') return parse_run(text, source, kind_hint);
  return parse_run(yaml_to_json(text, source), source, kind_hint);
}

}  // namespace chainsd::provenance
