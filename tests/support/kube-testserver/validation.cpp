#include "validation.hpp"

#include <algorithm>
#include <cstdio>

namespace chainsd::testserver {
namespace {

// The texts and patterns of k8s.io/apimachinery/pkg/util/validation (1.32).
constexpr std::string_view label_fmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view subdomain_fmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view qname_fmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view qname_msg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

bool is_dns_label(std::string_view s) {
  if (s.empty() || !lower_alnum(s.front()) || !lower_alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '-'; });
}

bool is_dns_subdomain(std::string_view s) {
  for (std::size_t start = 0;;) {
    std::size_t dot = s.find('.', start);
    if (!is_dns_label(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool is_qname_part(std::string_view s) {
  if (s.empty() || !alnum(s.front()) || !alnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// validation.RegexError: "msg (e.g. 'a' or 'b', regex used for validation is 'fmt')", where every
// example but the first is preceded by " or " after its predecessor's ", ".
std::string regex_error(std::string_view msg, std::string_view fmt, std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  out += " (e.g. ";
  bool first = true;
  for (std::string_view e : examples) {
    if (!first) out += " or ";
    first = false;
    out += "'" + std::string(e) + "', ";
  }
  out += "regex used for validation is '" + std::string(fmt) + "')";
  return out;
}

std::string max_len_error(std::size_t n) { return "must be no more than " + std::to_string(n) + " characters"; }

std::vector<std::string> dns_subdomain_errors(std::string_view v) {
  std::vector<std::string> errs;
  if (v.size() > 253) errs.push_back(max_len_error(253));
  if (!is_dns_subdomain(v))
    errs.push_back(regex_error("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
                               "'-' or '.', and must start and end with an alphanumeric character",
                               subdomain_fmt, {"example.com"}));
  return errs;
}

std::vector<std::string> dns_label_errors(std::string_view v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back(max_len_error(63));
  if (!is_dns_label(v))
    errs.push_back(regex_error("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
                               "and must start and end with an alphanumeric character",
                               label_fmt, {"my-name", "123-abc"}));
  return errs;
}

std::vector<std::string> qualified_name_errors(std::string_view v) {
  std::vector<std::string> errs;
  std::string_view name = v;
  if (auto slash = v.find('/'); slash != std::string_view::npos) {
    if (v.find('/', slash + 1) != std::string_view::npos)
      return {"a qualified name " + regex_error(qname_msg, qname_fmt, {"MyName", "my.name", "123-abc"}) +
              " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"};
    std::string_view prefix = v.substr(0, slash);
    name = v.substr(slash + 1);
    if (prefix.empty()) errs.push_back("prefix part must be non-empty");
    else
      for (auto& m : dns_subdomain_errors(prefix)) errs.push_back("prefix part " + m);
  }
  if (name.empty()) errs.push_back("name part must be non-empty");
  else if (name.size() > 63) errs.push_back("name part " + max_len_error(63));
  if (!is_qname_part(name)) errs.push_back("name part " + regex_error(qname_msg, qname_fmt, {"MyName", "my.name", "123-abc"}));
  return errs;
}

std::vector<std::string> label_value_errors(std::string_view v) {
  std::vector<std::string> errs;
  if (v.size() > 63) errs.push_back(max_len_error(63));
  if (!v.empty() && !is_qname_part(v))
    errs.push_back(regex_error("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                               "or '.', and must start and end with an alphanumeric character",
                               "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"}));
  return errs;
}

void invalid(std::vector<field_error>& out, std::string field, std::string_view value, const std::vector<std::string>& msgs) {
  for (const auto& m : msgs) out.push_back({"FieldValueInvalid", field, "Invalid value: " + go_quote(value) + ": " + m});
}

// The entries of md[key] sorted by key (kube iterates a Go map; sorted makes the order stable),
// as views into md: annotations run to hundreds of KB and are only measured.
std::vector<std::pair<std::string_view, std::string_view>> sorted_strings(const json::object& md, std::string_view key) {
  std::vector<std::pair<std::string_view, std::string_view>> out;
  if (const json::object* m = object_at(md, key))
    for (const auto& kv : *m)
      out.emplace_back(kv.key(), kv.value().is_string() ? std::string_view(kv.value().get_string()) : std::string_view());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::vector<field_error> validate_object_meta(const resource_type& t, const json::object& md, bool creating) {
  std::vector<field_error> errs;
  bool is_namespace = t.group.empty() && t.resource == "namespaces";
  auto name_errors = is_namespace ? dns_label_errors : dns_subdomain_errors;
  if (creating) {
    // NameIsDNSSubdomain(prefix=true) masks one trailing '-' before checking.
    if (std::string gen(string_at(md, "generateName")); !gen.empty()) {
      std::string masked = gen;
      if (masked.size() > 1 && masked.back() == '-') masked.back() = 'a';
      invalid(errs, "metadata.generateName", gen, name_errors(masked));
    }
    std::string_view name = string_at(md, "name");
    if (name.empty()) errs.push_back({"FieldValueRequired", "metadata.name", "Required value: name or generateName is required"});
    else invalid(errs, "metadata.name", name, name_errors(name));
    if (t.namespaced) {
      std::string_view ns = string_at(md, "namespace");
      invalid(errs, "metadata.namespace", ns, dns_label_errors(ns));
    }
  }
  for (const auto& [k, v] : sorted_strings(md, "labels")) {
    invalid(errs, "metadata.labels", k, qualified_name_errors(k));
    invalid(errs, "metadata.labels", v, label_value_errors(v));
  }
  std::size_t annotation_bytes = 0;
  for (const auto& [k, v] : sorted_strings(md, "annotations")) {
    std::string lower(k);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    invalid(errs, "metadata.annotations", k, qualified_name_errors(lower));
    annotation_bytes += k.size() + v.size();
  }
  if (annotation_bytes > total_annotation_size_limit)
    errs.push_back({"FieldValueTooLong", "metadata.annotations",
                    "Too long: must have at most " + std::to_string(total_annotation_size_limit) + " bytes"});
  return errs;
}

void throw_invalid(const resource_type& t, std::string_view name, const std::vector<field_error>& errs) {
  // field.ErrorList.ToAggregate drops repeated messages; one error prints bare, several in [a, b].
  std::vector<std::string> msgs;
  json::array causes;
  for (const auto& e : errs) {
    std::string m = e.field + ": " + e.body;
    if (std::find(msgs.begin(), msgs.end(), m) == msgs.end()) msgs.push_back(std::move(m));
    causes.push_back(json::object{{"reason", e.type}, {"message", e.body}, {"field", e.field}});
  }
  std::string agg;
  for (const auto& m : msgs) agg += (agg.empty() ? "" : ", ") + m;
  if (msgs.size() > 1) agg = "[" + agg + "]";
  std::string qualified_kind = t.group.empty() ? t.kind : t.kind + "." + t.group;
  json::object details{{"name", name}};
  if (!t.group.empty()) details["group"] = t.group;
  details["kind"] = t.kind;
  details["causes"] = std::move(causes);
  api_error e(422, "Invalid", qualified_kind + " " + go_quote(name) + " is invalid: " + agg);
  e.details = std::move(details);
  throw e;
}

void check_object_meta(const resource_type& t, const json::object& md, bool creating) {
  auto errs = validate_object_meta(t, md, creating);
  if (!errs.empty()) throw_invalid(t, string_at(md, "name"), errs);
}

}  // namespace chainsd::testserver
