#include "kube/resource.hpp"

namespace chainsd::kube {

std::string resource_path(const resource& r, std::string_view ns, std::string_view name,
                          std::string_view subresource) {
  std::string p;
  p.reserve(64);
  if (r.group.empty()) {
    p += "/api/";
  } else {
    p += "/apis/";
    p += r.group;
    p += '/';
  }
  p += r.version;
  if (r.namespaced && !ns.empty()) {
    p += "/namespaces/";
    p += ns;
  }
  p += '/';
  p += r.plural;
  if (!name.empty()) {
    p += '/';
    p += name;
    if (!subresource.empty()) {
      p += '/';
      p += subresource;
    }
  }
  return p;
}

void append_query(std::string& url, std::string_view key, std::string_view value) {
  static constexpr char hex[] = "0123456789ABCDEF";
  url += url.find('?') == std::string::npos ? '?' : '&';
  url += key;
  url += '=';
  for (unsigned char c : value) {
    bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved) {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += hex[c >> 4];
      url += hex[c & 15];
    }
  }
}

}  // namespace chainsd::kube
