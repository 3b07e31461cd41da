#include "tlog/trust_config.hpp"

#include "tlog/json_fields.hpp"
#include "tlog/pkey.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <map>

namespace chainsd::tlog {
namespace json = boost::json;

namespace {

int digits(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  if (pos + n > s.size()) throw trust_config_error("timestamp \"" + std::string(s) + "\" is not RFC 3339");
  auto [end, ec] = std::from_chars(s.data() + pos, s.data() + pos + n, v);
  if (ec != std::errc() || end != s.data() + pos + n) throw trust_config_error("timestamp \"" + std::string(s) + "\" is not RFC 3339");
  return v;
}

// Services must say when they are valid; keys and authorities without a window always are.
validity read_validity(const json::value& v, std::string_view where, bool required = false) {
  validity out;
  const auto* vf = detail::find(v, "validFor");
  if (!vf && !required) return out;
  if (!vf) throw trust_config_error(std::string(where) + ": missing \"validFor\"");
  out.start = parse_rfc3339(detail::str(*vf, "start", std::string(where) + " validFor"));
  if (const auto* e = detail::find(*vf, "end"); e && e->is_string()) out.end = parse_rfc3339(e->get_string());
  return out;
}

std::string optional_str(const json::value& v, std::string_view key) {
  const auto* f = detail::find(v, key);
  return f && f->is_string() ? std::string(f->get_string()) : std::string();
}

std::vector<service> read_services(const json::value& doc, std::string_view key) {
  std::vector<service> out;
  const auto* list = detail::find(doc, key);
  if (!list) return out;
  if (!list->is_array()) throw trust_config_error(std::string(key) + " is not an array");
  for (const auto& s : list->get_array()) {
    std::string where = std::string(key) + "[" + std::to_string(out.size()) + "]";
    service svc;
    svc.url = detail::str(s, "url", where);
    svc.major_api_version = static_cast<unsigned>(detail::num(s, "majorApiVersion", where));
    svc.valid_for = read_validity(s, where, true);
    svc.operator_name = optional_str(s, "operator");
    out.push_back(std::move(svc));
  }
  return out;
}

service_selection read_selection(const json::value& doc, std::string_view key) {
  service_selection sel;
  const auto* c = detail::find(doc, key);
  if (!c) return sel;  // absent: one service, as ANY
  auto name = detail::str(*c, "selector", key);
  if (name == "ANY")
    sel.kind = service_selection::selector::any;
  else if (name == "ALL")
    sel.kind = service_selection::selector::all;
  else if (name == "EXACT")
    sel.kind = service_selection::selector::exact;
  else
    throw trust_config_error(std::string(key) + ".selector \"" + name + "\" is not ANY, ALL or EXACT");
  if (sel.kind == service_selection::selector::exact) {
    const auto* n = detail::find(*c, "count");
    if (!n || !n->is_number() || n->to_number<double>() < 1)
      throw trust_config_error(std::string(key) + ": EXACT needs a count of at least 1");
    sel.count = n->to_number<unsigned>();
  }
  return sel;
}

std::string normalize_url(std::string_view url) {
  std::string u(url);
  while (!u.empty() && u.back() == '/') u.pop_back();
  return u;
}

certificate_authority read_ca(const json::value& v, std::string_view where) {
  certificate_authority ca;
  ca.uri = optional_str(v, "uri");
  ca.operator_name = optional_str(v, "operator");
  const auto& certs = detail::at(detail::at(v, "certChain", where), "certificates", std::string(where) + " certChain");
  if (!certs.is_array() || certs.get_array().empty())
    throw trust_config_error(std::string(where) + ": certChain.certificates is empty");
  for (const auto& c : certs.get_array()) ca.chain_pem += detail::cert_pem_from_der(detail::bytes_field(c, "rawBytes", where));
  ca.valid_for = read_validity(v, where);
  return ca;
}

template <class F>
auto rethrow_as(std::string_view file, F&& f) {
  try {
    return f();
  } catch (const verify_error& e) {
    throw trust_config_error(std::string(file) + ": " + e.what());
  } catch (const trust_config_error& e) {
    throw trust_config_error(std::string(file) + ": " + e.what());
  }
}

}  // namespace

std::time_t parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
    throw trust_config_error("timestamp \"" + std::string(s) + "\" is not RFC 3339");
  struct tm tm {};
  tm.tm_year = digits(s, 0, 4) - 1900;
  tm.tm_mon = digits(s, 5, 2) - 1;
  tm.tm_mday = digits(s, 8, 2);
  tm.tm_hour = digits(s, 11, 2);
  tm.tm_min = digits(s, 14, 2);
  tm.tm_sec = digits(s, 17, 2);
  std::size_t pos = 19;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') ++pos;
  }
  std::time_t t = timegm(&tm);
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z') && pos + 1 == s.size()) return t;
  if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int offset = digits(s, pos + 1, 2) * 3600 + digits(s, pos + 4, 2) * 60;
    return s[pos] == '+' ? t - offset : t + offset;
  }
  throw trust_config_error("timestamp \"" + std::string(s) + "\" is not RFC 3339");
}

signing_config parse_signing_config(std::string_view text) {
  return rethrow_as("signing config", [&] {
    auto doc = detail::parse_json(text, "json");
    auto media = detail::str(doc, "mediaType", "document");
    if (media != "application/vnd.dev.sigstore.signingconfig.v0.2+json")
      throw trust_config_error("mediaType \"" + media +
                               "\" is not application/vnd.dev.sigstore.signingconfig.v0.2+json");
    signing_config c;
    c.ca_urls = read_services(doc, "caUrls");
    c.oidc_urls = read_services(doc, "oidcUrls");
    c.rekor_tlog_urls = read_services(doc, "rekorTlogUrls");
    c.tsa_urls = read_services(doc, "tsaUrls");
    c.rekor_tlog_config = read_selection(doc, "rekorTlogConfig");
    c.tsa_config = read_selection(doc, "tsaConfig");
    return c;
  });
}

std::vector<service> select_services(const std::vector<service>& list, const std::set<unsigned>& supported,
                                     const service_selection& sel, std::time_t now) {
  unsigned best = 0;
  bool any = false;
  for (const auto& s : list)
    if (supported.count(s.major_api_version) && s.valid_for.contains(now) && (!any || s.major_api_version > best)) {
      best = s.major_api_version;
      any = true;
    }
  std::vector<service> candidates;
  if (!any) return candidates;
  for (const auto& s : list)
    if (s.major_api_version == best && s.valid_for.contains(now)) candidates.push_back(s);
  // Newest validity start first; at most one per operator (a stable sort keeps the file's order
  // among equals, which the spec says is newest first).
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const service& a, const service& b) { return a.valid_for.start > b.valid_for.start; });
  std::vector<service> per_operator;
  std::set<std::string> seen;
  for (auto& s : candidates)
    if (seen.insert(s.operator_name).second) per_operator.push_back(std::move(s));
  switch (sel.kind) {
    case service_selection::selector::any:
      per_operator.resize(1);
      break;
    case service_selection::selector::exact:
      if (per_operator.size() < sel.count)
        throw trust_config_error("EXACT asks for " + std::to_string(sel.count) + " services of distinct operators, " +
                                 std::to_string(per_operator.size()) + " are valid now");
      per_operator.resize(sel.count);
      break;
    case service_selection::selector::all:
      break;
  }
  return per_operator;
}

trusted_root parse_trusted_root(std::string_view text) {
  return rethrow_as("trusted root", [&] {
    auto doc = detail::parse_json(text, "json");
    auto media = detail::str(doc, "mediaType", "document");
    if (media.rfind("application/vnd.dev.sigstore.trustedroot", 0) != 0)
      throw trust_config_error("mediaType \"" + media + "\" is not a Sigstore trusted root");
    trusted_root r;
    if (const auto* tl = detail::find(doc, "tlogs"); tl && tl->is_array()) {
      for (const auto& t : tl->get_array()) {
        std::string where = "tlogs[" + std::to_string(r.tlogs.size()) + "]";
        tlog_instance i;
        i.base_url = detail::str(t, "baseUrl", where);
        const auto& pk = detail::at(t, "publicKey", where);
        i.public_key_pem = detail::public_key_pem_from_der(detail::bytes_field(pk, "rawBytes", where + " publicKey"));
        i.key_details = optional_str(pk, "keyDetails");
        i.valid_for = read_validity(pk, where + " publicKey");
        if (const auto* id = detail::find(t, "logId")) i.log_id = detail::bytes_field(*id, "keyId", where + " logId");
        if (const auto* id = detail::find(t, "checkpointKeyId"))
          i.checkpoint_key_id = detail::bytes_field(*id, "keyId", where + " checkpointKeyId");
        i.operator_name = optional_str(t, "operator");
        r.tlogs.push_back(std::move(i));
      }
    }
    auto cas = [&doc](const char* key, std::vector<certificate_authority>& out) {
      const auto* list = detail::find(doc, key);
      if (!list || !list->is_array()) return;
      for (const auto& c : list->get_array()) out.push_back(read_ca(c, std::string(key) + "[" + std::to_string(out.size()) + "]"));
    };
    cas("certificateAuthorities", r.certificate_authorities);
    cas("timestampAuthorities", r.timestamp_authorities);
    return r;
  });
}

const tlog_instance* find_tlog(const trusted_root& root, std::string_view url) {
  auto want = normalize_url(url);
  for (const auto& t : root.tlogs)
    if (normalize_url(t.base_url) == want) return &t;
  return nullptr;
}

}  // namespace chainsd::tlog
