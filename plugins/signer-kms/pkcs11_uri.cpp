#include "pkcs11_uri.hpp"

#include <set>

namespace signer_kms {

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding; false on a truncated or non-hex escape.
bool decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

pkcs11_uri_outcome bad(std::string_view text, const std::string& why) {
  return {std::nullopt, "signers.kms.kmsref: invalid PKCS#11 URI \"" + redact_pkcs11_uri(text) + "\": " + why};
}

}  // namespace

std::string redact_pkcs11_uri(std::string_view text) {
  std::string s(text);
  auto q = s.find('?');
  if (q == std::string::npos) return s;
  std::string out = s.substr(0, q + 1);
  std::string_view query(s);
  query.remove_prefix(q + 1);
  bool first = true;
  while (true) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    out += part.rfind("pin-value=", 0) == 0 ? std::string("pin-value=***") : std::string(part);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

pkcs11_uri_outcome parse_pkcs11_uri(std::string_view text) {
  if (text.rfind("pkcs11:", 0) != 0) return bad(text, "it does not start with pkcs11:");
  std::string_view rest = text.substr(7);
  std::string_view path = rest.substr(0, rest.find('?'));
  std::string_view query = path.size() < rest.size() ? rest.substr(path.size() + 1) : std::string_view();
  pkcs11_uri u;
  std::set<std::string, std::less<>> seen;
  auto each = [&](std::string_view list, char sep, bool in_path) -> std::string {
    while (!list.empty()) {
      auto end = list.find(sep);
      auto part = list.substr(0, end);
      list = end == std::string_view::npos ? std::string_view() : list.substr(end + 1);
      if (part.empty()) continue;
      auto eq = part.find('=');
      if (eq == std::string_view::npos) return "attribute \"" + std::string(part) + "\" has no value";
      std::string name(part.substr(0, eq)), value;
      if (!decode(part.substr(eq + 1), value)) return "attribute " + name + " has a bad percent-encoding";
      if (!seen.insert(name).second) return "attribute " + name + " is repeated";
      if (in_path && name == "token") u.token = value;
      else if (in_path && name == "serial") u.serial = value;
      else if (in_path && name == "object") u.object = value;
      else if (in_path && name == "id") u.id = value;
      else if (in_path && name == "type") {
        if (value != "private") return "type=" + value + " (the signing key is type=private)";
      } else if (!in_path && name == "module-path") u.module_path = value;
      else if (!in_path && name == "pin-value") u.pin_value = value, u.has_pin = true;
      else if (!in_path && name == "pin-source") {
        if (value.rfind("file:", 0) == 0) value.erase(0, 5);
        if (value.empty() || value[0] != '/') return "pin-source must be file:/ABSOLUTE/PATH or /ABSOLUTE/PATH";
        u.pin_source = value, u.has_pin = true;
      } else
        return std::string(in_path ? "path" : "query") + " attribute " + name +
               " is not supported (path: token, serial, object, id, type; query: module-path, pin-value, pin-source)";
    }
    return {};
  };
  if (auto e = each(path, ';', true); !e.empty()) return bad(text, e);
  if (auto e = each(query, '&', false); !e.empty()) return bad(text, e);
  if (!u.pin_value.empty() && !u.pin_source.empty()) return bad(text, "give pin-value or pin-source, not both");
  if (u.object.empty() && u.id.empty()) return bad(text, "it names no key: give object= (the key's label) and/or id=");
  return {u, {}};
}

}  // namespace signer_kms
