#include "api.hpp"

#include "protobuf.hpp"
#include "validation.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <ctime>

namespace chainsd::testserver {
namespace {

std::shared_ptr<const std::string> shared(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

api_response json_response(unsigned status, const json::value& v) {
  api_response r;
  r.status = status;
  r.parts.push_back(shared(to_json(v)));
  return r;
}

api_response object_response(unsigned status, const object_ptr& o) {
  api_response r;
  r.status = status;
  r.parts.push_back(std::shared_ptr<const std::string>(o, &o->bytes));
  return r;
}

std::string_view reason_for(unsigned code) {
  switch (code) {
    case 400: return "BadRequest";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 410: return "Expired";
    case 415: return "UnsupportedMediaType";
    case 422: return "Invalid";
    case 429: return "TooManyRequests";
    case 503: return "ServiceUnavailable";
    case 504: return "Timeout";
    default: return "InternalError";
  }
}

bool param_true(std::string_view v) { return v == "true" || v == "1" || v == "True"; }

// kube's default field manager when none is given: the User-Agent up to its first '/'.
std::string manager_from(std::string_view fm, std::string_view user_agent) {
  if (!fm.empty()) return std::string(fm);
  std::string_view ua = user_agent.substr(0, user_agent.find('/'));
  return ua.empty() ? "unknown" : std::string(ua);
}

std::string media_type(std::string_view ct) {
  std::string s(ct.substr(0, ct.find(';')));
  while (!s.empty() && s.back() == ' ') s.pop_back();
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// kube's duration.HumanDuration, used for the Age column.
std::string human_age(std::string_view created) {
  std::tm tm{};
  std::string c(created);
  if (!strptime(c.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return "<unknown>";
  long long s = static_cast<long long>(std::time(nullptr) - timegm(&tm));
  if (s < -1) return "<invalid>";
  if (s < 0) return "0s";
  if (s < 120) return std::to_string(s) + "s";
  long long m = s / 60;
  if (m < 10) return std::to_string(m) + "m" + (s % 60 ? std::to_string(s % 60) + "s" : "");
  if (m < 180) return std::to_string(m) + "m";
  long long h = m / 60;
  if (h < 8) return std::to_string(h) + "h" + (m % 60 ? std::to_string(m % 60) + "m" : "");
  if (h < 48) return std::to_string(h) + "h";
  if (h < 24 * 8) return std::to_string(h / 24) + "d" + (h % 24 ? std::to_string(h % 24) + "h" : "");
  if (h < 24 * 365 * 2) return std::to_string(h / 24) + "d";
  return std::to_string(h / 24 / 365) + "y";
}

// meta.k8s.io/v1 Table for `kubectl get` without -o: Name and Age, like a CRD without printer
// columns. kubectl adds the NAMESPACE column itself.
api_response table_response(const std::vector<object_ptr>& items, std::uint64_t rv, std::string_view include,
                            const std::string& continue_token) {
  json::array rows;
  for (const auto& o : items) {
    json::value v = json::parse(o->bytes);
    json::object& md = v.get_object()["metadata"].as_object();
    std::string age = md.contains("creationTimestamp") && md.at("creationTimestamp").is_string()
                          ? human_age(md.at("creationTimestamp").get_string())
                          : "<unknown>";
    json::object row{{"cells", json::array{o->name, age}}};
    if (include == "Object") {
      row["object"] = v;
    } else if (include != "None") {
      md.erase("managedFields");
      row["object"] = json::object{{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", md}};
    }
    rows.push_back(std::move(row));
  }
  json::object md{{"resourceVersion", std::to_string(rv)}};
  if (!continue_token.empty()) md["continue"] = continue_token;
  json::object t{
      {"kind", "Table"},
      {"apiVersion", "meta.k8s.io/v1"},
      {"metadata", std::move(md)},
      {"columnDefinitions",
       json::array{json::object{{"name", "Name"}, {"type", "string"}, {"format", "name"}, {"description", "Name must be unique within a namespace."}, {"priority", 0}},
                   json::object{{"name", "Age"}, {"type", "string"}, {"format", ""}, {"description", "CreationTimestamp is a timestamp representing the server time when this object was created."}, {"priority", 0}}}},
      {"rows", std::move(rows)}};
  return json_response(200, t);
}

}  // namespace

std::size_t api_response::size() const {
  std::size_t n = 0;
  for (const auto& p : parts) n += p->size();
  return n;
}

api::api(store& s, token_issuer& issuer, api_options opt)
    : store_(s), issuer_(issuer), opt_(std::move(opt)), rng_(opt_.seed ? opt_.seed : std::random_device{}()) {
  if (auto eq = opt_.latency_annotation.find('='); eq != std::string::npos)
    latency_needle_ = json::serialize(json::string(opt_.latency_annotation.substr(0, eq))) + ":" +
                      json::serialize(json::string(opt_.latency_annotation.substr(eq + 1)));
}

void api::arrived(const object_ptr& o) {
  if (!latency_needle_.empty() && o) awaiting_annotation_[o->ns + "/" + o->name] = std::chrono::steady_clock::now();
}

void api::written(const object_ptr& o) {
  if (awaiting_annotation_.empty() || !o) return;
  auto it = awaiting_annotation_.find(o->ns + "/" + o->name);
  if (it == awaiting_annotation_.end() || o->bytes.find(latency_needle_) == std::string::npos) return;
  annotation_latencies_ms_.push_back(
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - it->second).count());
  awaiting_annotation_.erase(it);
}

api_response api::status_response(unsigned code, std::string_view reason, std::string_view message,
                                  json::object details) {
  json::object o{{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", json::object{}},
                 {"status", code < 400 ? "Success" : "Failure"},
                 {"message", message},
                 {"reason", reason},
                 {"code", code}};
  if (!details.empty()) o["details"] = std::move(details);
  if (reason.empty()) o.erase("reason");  // StatusReasonUnknown is omitted
  if (code < 400) {
    o.erase("message");
    o.erase("reason");
  }
  return json_response(code, o);
}

void api::count(const std::string& resource, const std::string& verb) {
  ++total_;
  ++verbs_[verb];
  ++resources_[resource][verb];
}

json::object api::stats_json() const {
  json::object verbs;
  for (const char* v : {"get", "list", "watch", "create", "update", "patch", "delete"}) verbs[v] = 0;
  for (const auto& [k, v] : verbs_) verbs[k] = v;
  json::object resources;
  for (const auto& [r, m] : resources_) {
    json::object o;
    for (const auto& [k, v] : m) o[k] = v;
    resources[r] = std::move(o);
  }
  return {{"total", total_},
          {"verbs", std::move(verbs)},
          {"resources", std::move(resources)},
          {"faults_injected", faults_injected_},
          {"watch_events_sent", watch_events_sent_},
          {"watchers", store_.watcher_count()},
          {"objects", store_.object_count()},
          {"resourceVersion", std::to_string(store_.current_rv())},
          {"annotation_latency_ms", annotation_latency_json()}};
}

json::value api::annotation_latency_json() const {
  if (latency_needle_.empty()) return nullptr;
  std::vector<double> v = annotation_latencies_ms_;
  std::sort(v.begin(), v.end());
  auto pct = [&v](double p) {
    return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
  };
  return json::object{{"annotation", opt_.latency_annotation}, {"count", v.size()}, {"waiting", awaiting_annotation_.size()},
                      {"p50", pct(0.50)}, {"p90", pct(0.90)}, {"p99", pct(0.99)}, {"max", v.empty() ? 0.0 : v.back()}};
}

void api::reset_stats() {
  total_ = 0;
  faults_injected_ = 0;
  watch_events_sent_ = 0;
  verbs_.clear();
  resources_.clear();
  annotation_latencies_ms_.clear();
}

json::object api::faults_json() const {
  return {{"drop_watch_after_events", faults_.drop_watch_after_events},
          {"fail_nth_request", json::object{{"n", faults_.fail_nth}, {"status", faults_.fail_nth_status}, {"repeat", faults_.fail_nth_repeat}}},
          {"fail_fraction", json::object{{"fraction", faults_.fail_fraction}, {"status", faults_.fail_fraction_status}, {"retry_after_seconds", faults_.retry_after_seconds}}},
          {"latency_ms", faults_.latency_ms},
          {"oldest_watchable_resource_version", std::to_string(store_.oldest_watchable_rv())}};
}

void api::configure_faults(const json::value& doc) {
  if (!doc.is_object()) throw api_error(400, "BadRequest", "fault document must be a JSON object");
  auto number = [](const json::value& v, const char* what) -> double {
    if (v.is_null()) return 0;
    if (!v.is_number()) throw api_error(400, "BadRequest", std::string(what) + " must be a number");
    return v.to_number<double>();
  };
  for (const auto& kv : doc.get_object()) {
    std::string_view k = kv.key();
    const json::value& v = kv.value();
    if (k == "drop_watch_after_events") {
      faults_.drop_watch_after_events = static_cast<std::uint64_t>(number(v, "drop_watch_after_events"));
    } else if (k == "latency_ms") {
      faults_.latency_ms = static_cast<std::uint64_t>(number(v, "latency_ms"));
    } else if (k == "fail_nth_request") {
      faults_.fail_nth = 0;
      fault_counter_ = 0;
      if (v.is_number()) {
        faults_.fail_nth = static_cast<std::uint64_t>(number(v, "fail_nth_request"));
      } else if (v.is_object()) {
        const json::object& o = v.get_object();
        if (auto n = o.if_contains("n")) faults_.fail_nth = static_cast<std::uint64_t>(number(*n, "fail_nth_request.n"));
        if (auto s = o.if_contains("status")) faults_.fail_nth_status = static_cast<unsigned>(number(*s, "fail_nth_request.status"));
        if (auto r = o.if_contains("repeat"); r && r->is_bool()) faults_.fail_nth_repeat = r->get_bool();
      } else if (!v.is_null()) {
        throw api_error(400, "BadRequest", "fail_nth_request must be {\"n\":N,\"status\":S}");
      }
    } else if (k == "fail_fraction") {
      faults_.fail_fraction = 0;
      if (v.is_number()) {
        faults_.fail_fraction = number(v, "fail_fraction");
      } else if (v.is_object()) {
        const json::object& o = v.get_object();
        if (auto f = o.if_contains("fraction")) faults_.fail_fraction = number(*f, "fail_fraction.fraction");
        if (auto s = o.if_contains("status")) faults_.fail_fraction_status = static_cast<unsigned>(number(*s, "fail_fraction.status"));
        if (auto r = o.if_contains("retry_after_seconds")) faults_.retry_after_seconds = static_cast<unsigned>(number(*r, "fail_fraction.retry_after_seconds"));
      } else if (!v.is_null()) {
        throw api_error(400, "BadRequest", "fail_fraction must be {\"fraction\":F,\"status\":S}");
      }
    } else if (k == "compact_history") {
      if (v.is_bool() && v.get_bool()) store_.compact();
    } else if (k == "clear") {
      if (v.is_bool() && v.get_bool()) {
        faults_ = fault_settings{};
        fault_counter_ = 0;
      }
    } else {
      throw api_error(400, "BadRequest", "unknown fault \"" + std::string(k) + "\"");
    }
  }
}

std::uint64_t api::latency_ms(const api_request& req) const {
  if (faults_.latency_ms == 0) return 0;
  if (req.target.rfind("/testserver/", 0) == 0) return 0;
  return faults_.latency_ms;
}

std::optional<api_response> api::inject_fault() {
  unsigned status = 0;
  if (faults_.fail_nth) {
    ++fault_counter_;
    if (fault_counter_ == faults_.fail_nth || (faults_.fail_nth_repeat && fault_counter_ % faults_.fail_nth == 0)) {
      status = faults_.fail_nth_status;
      if (!faults_.fail_nth_repeat) faults_.fail_nth = 0;
    }
  }
  if (!status && faults_.fail_fraction > 0) {
    std::uniform_real_distribution<double> d(0, 1);
    if (d(rng_) < faults_.fail_fraction) status = faults_.fail_fraction_status;
  }
  if (!status) return std::nullopt;
  ++faults_injected_;
  std::string message = status == 429 ? "Too many requests, please try again later." : "injected fault";
  api_response r = status_response(status, reason_for(status), message);
  if (status == 429 || status == 503) {
    r.headers.emplace_back("Retry-After", std::to_string(faults_.retry_after_seconds));
    json::object details{{"retryAfterSeconds", faults_.retry_after_seconds}};
    r = status_response(status, reason_for(status), message, std::move(details));
    r.headers.emplace_back("Retry-After", std::to_string(faults_.retry_after_seconds));
  }
  return r;
}

bool api::authorized(const api_request& req) const {
  if (opt_.token.empty()) return true;
  std::string_view a = req.authorization;
  if (a.size() < 7 || (a.substr(0, 7) != "Bearer " && a.substr(0, 7) != "bearer ")) return false;
  std::string_view t = a.substr(7);
  return t == opt_.token || issued_tokens_.count(std::string(t)) > 0;
}

std::optional<api_response> api::control(const api_request& req, std::string_view path) {
  if (path == "/testserver/faults") {
    if (req.method == "GET") return json_response(200, faults_json());
    if (req.method == "DELETE") {
      faults_ = fault_settings{};
      fault_counter_ = 0;
      return json_response(200, faults_json());
    }
    if (req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
      configure_faults(req.body.empty() ? json::value(json::object{}) : parse_json_or_yaml(req.body));
      return json_response(200, faults_json());
    }
  } else if (path == "/testserver/stats") {
    if (req.method == "GET") return json_response(200, stats_json());
  } else if (path == "/testserver/reset-stats") {
    if (req.method == "POST") {
      reset_stats();
      return json_response(200, stats_json());
    }
  } else if (path == "/testserver/load") {
    if (req.method == "POST") {
      std::size_t n = 0;
      for (auto& doc : parse_documents(req.body)) {
        if (doc.is_object() && string_at(doc.get_object(), "kind").size() > 4 &&
            string_at(doc.get_object(), "kind").substr(string_at(doc.get_object(), "kind").size() - 4) == "List" &&
            doc.get_object().contains("items")) {
          for (auto& item : doc.get_object()["items"].as_array()) {
            arrived(store_.load(std::move(item), true));
            ++n;
          }
        } else {
          arrived(store_.load(std::move(doc), true));
          ++n;
        }
      }
      return json_response(200, json::object{{"loaded", n}, {"resourceVersion", std::to_string(store_.current_rv())}});
    }
  } else {
    return status_response(404, "NotFound", "unknown test server endpoint");
  }
  return status_response(405, "MethodNotAllowed", "method not allowed on " + std::string(path));
}

dispatch_result api::handle(const api_request& req) {
  dispatch_result out;
  try {
    route(req, out);
  } catch (const api_error& e) {
    json::object details = e.details;
    if (details.empty() && !out.plural.empty() && (e.code == 404 || e.code == 409 || e.code == 422)) {
      if (!out.name.empty()) details["name"] = out.name;
      if (!out.group.empty()) details["group"] = out.group;
      details["kind"] = out.plural;
    }
    if (!e.causes.empty() && e.details.empty()) details["causes"] = e.causes;
    out.response = status_response(e.code, e.reason, e.what(), std::move(details));
  } catch (const std::exception& e) {
    out.response = status_response(500, "InternalError", std::string("internal error: ") + e.what());
  }
  return out;
}

api_response api::token_request(const std::string& ns, const std::string& name, const api_request& req) {
  auto sa_res = store_.registry().find("", "v1", "serviceaccounts");
  object_ptr sa = store_.get(*sa_res, ns, name);
  json::value body = req.body.empty() ? json::value(json::object{})
                    : media_type(req.content_type) == "application/vnd.kubernetes.protobuf"
                        ? decode_protobuf_object(req.body)
                        : parse_json_or_yaml(req.body);
  if (!body.is_object()) throw api_error(400, "BadRequest", "TokenRequest must be an object");
  json::object spec;
  if (const json::object* s = object_at(body.get_object(), "spec")) spec = *s;
  json::array audiences;
  if (auto a = spec.if_contains("audiences"); a && a->is_array() && !a->get_array().empty()) audiences = a->get_array();
  else audiences.push_back(json::value(issuer_.issuer()));
  std::int64_t expiration = 3600;
  if (auto e = spec.if_contains("expirationSeconds"); e && e->is_number()) expiration = e->to_number<std::int64_t>();
  if (expiration < 600)
    throw api_error(422, "Invalid", "TokenRequest.authentication.k8s.io \"" + name +
                                        "\" is invalid: spec.expirationSeconds: Invalid value: " + std::to_string(expiration) +
                                        ": may not specify a duration less than 10 minutes");
  auto now = std::chrono::system_clock::now();
  std::int64_t iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json::value sa_obj = json::parse(sa->bytes);
  std::string sa_uid(string_at(sa_obj.get_object()["metadata"].as_object(), "uid"));
  json::object k8s{{"namespace", ns}, {"serviceaccount", json::object{{"name", name}, {"uid", sa_uid}}}};
  if (auto b = spec.if_contains("boundObjectRef"); b && b->is_object()) {
    const json::object& ref = b->get_object();
    std::string kind(string_at(ref, "kind"));
    std::transform(kind.begin(), kind.end(), kind.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!kind.empty()) k8s[kind] = json::object{{"name", string_at(ref, "name")}, {"uid", string_at(ref, "uid")}};
  }
  json::object claims{{"aud", audiences},
                      {"exp", iat + expiration},
                      {"iat", iat},
                      {"iss", issuer_.issuer()},
                      {"jti", random_uuid()},
                      {"kubernetes.io", std::move(k8s)},
                      {"nbf", iat},
                      {"sub", "system:serviceaccount:" + ns + ":" + name}};
  std::string token = issuer_.sign(claims);
  issued_tokens_.insert(token);
  spec["audiences"] = audiences;
  spec["expirationSeconds"] = expiration;
  if (!spec.contains("boundObjectRef")) spec["boundObjectRef"] = nullptr;
  json::object out{{"kind", "TokenRequest"},
                   {"apiVersion", "authentication.k8s.io/v1"},
                   {"metadata", json::object{{"name", name}, {"namespace", ns}, {"creationTimestamp", rfc3339(now)}}},
                   {"spec", std::move(spec)},
                   {"status", json::object{{"token", token}, {"expirationTimestamp", rfc3339(now + std::chrono::seconds(expiration))}}}};
  return json_response(201, out);
}

void api::route(const api_request& req, dispatch_result& out) {
  auto parsed = boost::urls::parse_origin_form(req.target);
  if (!parsed) {
    out.response = status_response(400, "BadRequest", "malformed request target");
    return;
  }
  boost::urls::url_view u = *parsed;
  std::string path = u.path();  // decoded
  std::vector<std::string> seg;
  for (auto s : u.segments())
    if (!s.empty()) seg.push_back(s);
  auto param = [&](std::string_view key) -> std::string {
    auto it = u.params().find(key);
    if (it == u.params().end()) return {};
    return (*it).value;
  };

  if (path.rfind("/testserver/", 0) == 0) {
    out.verb = "control";
    out.response = control(req, path);
    return;
  }
  if (path == "/healthz" || path == "/livez" || path == "/readyz") {
    api_response r;
    r.content_type = "text/plain; charset=utf-8";
    r.parts.push_back(shared("ok"));
    out.response = std::move(r);
    return;
  }
  if (path == "/.well-known/openid-configuration") {
    out.response = json_response(200, json::object{{"issuer", issuer_.issuer()},
                                                   {"jwks_uri", base_url_ + "/openid/v1/jwks"},
                                                   {"response_types_supported", json::array{"id_token"}},
                                                   {"subject_types_supported", json::array{"public"}},
                                                   {"id_token_signing_alg_values_supported", json::array{"ES256"}}});
    return;
  }
  if (path == "/openid/v1/jwks") {
    api_response r = json_response(200, issuer_.jwks());
    r.content_type = "application/jwk-set+json";
    out.response = std::move(r);
    return;
  }
  if (!authorized(req)) {
    out.response = status_response(401, "Unauthorized", "Unauthorized");
    return;
  }

  const resource_registry& reg = store_.registry();
  // Discovery and OpenAPI.
  bool is_api = !seg.empty() && seg[0] == "api";
  bool is_apis = !seg.empty() && seg[0] == "apis";
  std::size_t base = is_api ? 2 : 3;  // index of the first segment after group/version
  if (path == "/version" || path == "/version/" || seg.empty() || (seg[0] == "openapi") ||
      (is_api && seg.size() <= 2) || (is_apis && seg.size() <= 3)) {
    out.verb = "discovery";
    out.resource = "discovery";
    count("discovery", "get");
    if (auto f = inject_fault()) {
      out.response = std::move(f);
      return;
    }
    std::optional<json::object> doc;
    if (path == "/version" || path == "/version/") doc = reg.version_doc();
    else if (is_api && seg.size() == 1) doc = reg.api_versions_doc();
    else if (is_api && seg.size() == 2) doc = reg.resource_list_doc("", seg[1]);
    else if (is_apis && seg.size() == 1) doc = reg.api_group_list_doc();
    else if (is_apis && seg.size() == 2) doc = reg.api_group_doc(seg[1]);
    else if (is_apis && seg.size() == 3) doc = reg.resource_list_doc(seg[1], seg[2]);
    else if (seg.size() == 2 && seg[0] == "openapi" && seg[1] == "v3") doc = reg.openapi_v3_index();
    else if (seg.size() == 4 && seg[0] == "openapi" && seg[1] == "v3" && seg[2] == "api") doc = reg.openapi_v3_doc("", seg[3]);
    else if (seg.size() == 5 && seg[0] == "openapi" && seg[1] == "v3" && seg[2] == "apis") doc = reg.openapi_v3_doc(seg[3], seg[4]);
    if (!doc) {
      out.response = status_response(404, "NotFound", "the server could not find the requested resource");
      return;
    }
    out.response = json_response(200, *doc);
    return;
  }
  if (!is_api && !is_apis) {
    out.response = status_response(404, "NotFound", "the server could not find the requested resource");
    return;
  }

  std::string group = is_api ? "" : seg[1];
  std::string version = is_api ? seg[1] : seg[2];
  std::vector<std::string> rest(seg.begin() + static_cast<std::ptrdiff_t>(base), seg.end());
  std::string ns;
  if (rest.size() >= 3 && rest[0] == "namespaces" && reg.find(group, version, rest[2])) {
    ns = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  auto res = reg.find(group, version, rest[0]);
  if (!res || rest.size() > 3) {
    count("unknown", "unknown");
    out.response = status_response(404, "NotFound", "the server could not find the requested resource");
    return;
  }
  const resource_type& t = reg.at(*res);
  std::string name = rest.size() >= 2 ? rest[1] : "";
  std::string sub = rest.size() == 3 ? rest[2] : "";
  if (t.namespaced && ns.empty() && !name.empty()) {
    out.response = status_response(404, "NotFound", "the server could not find the requested resource");
    return;
  }
  if (!t.namespaced) ns.clear();
  bool token_sub = sub == "token" && t.group.empty() && t.resource == "serviceaccounts";
  if (!sub.empty() && !(sub == "status" && t.status_subresource) && !token_sub) {
    out.response = status_response(404, "NotFound", "the server could not find the requested resource");
    return;
  }

  bool watch = param_true(param("watch"));
  std::string verb;
  if (req.method == "GET") verb = name.empty() ? (watch ? "watch" : "list") : "get";
  else if (req.method == "POST") verb = "create";
  else if (req.method == "PUT") verb = "update";
  else if (req.method == "PATCH") verb = "patch";
  else if (req.method == "DELETE") verb = name.empty() ? "deletecollection" : "delete";
  else verb = "unknown";
  out.name = name;
  out.group = t.group;
  out.plural = t.resource;
  std::string stat_name = t.qualified() + (sub.empty() ? "" : "/" + sub);
  count(stat_name, verb);
  out.verb = verb;
  out.resource = stat_name;
  if (auto f = inject_fault()) {
    out.response = std::move(f);
    return;
  }

  auto not_allowed = [&] {
    return status_response(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");
  };
  write_options wopt;
  wopt.manager = manager_from(param("fieldManager"), req.user_agent);
  wopt.subresource = sub;
  wopt.force = param_true(param("force"));
  wopt.dry_run = param("dryRun") == "All";
  bool wants_table = req.accept.find("as=Table") != std::string::npos;
  std::string include = param("includeObject");
  json::object name_details{{"name", name}, {"group", t.group}, {"kind", t.resource}};

  // apiserver's limitedReadBody: bodies of writes beyond MaxRequestBodyBytes (3 MiB) are refused
  // before they are decoded.
  if (req.body.size() > max_request_body_bytes) {
    out.response = status_response(413, "RequestEntityTooLarge", "Request entity too large: limit is " + std::to_string(max_request_body_bytes));
    return;
  }
  if (token_sub) {
    if (req.method != "POST") {
      out.response = not_allowed();
      return;
    }
    out.response = token_request(ns, name, req);
    return;
  }

  // CBOR bodies, and protobuf ones other than create/update of the kinds protobuf.cpp decodes, are
  // refused the way kube-apiserver refuses unknown media types.
  bool protobuf_body = false;
  if (!req.body.empty()) {
    std::string mt = media_type(req.content_type);
    protobuf_body = mt == "application/vnd.kubernetes.protobuf";
    if (mt == "application/cbor" || (protobuf_body && verb != "create" && verb != "update")) {
      out.response = status_response(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
      return;
    }
  }
  label_selector labels;
  field_selector fields;
  std::string error;
  if (!labels.parse(param("labelSelector"), error) || !fields.parse(param("fieldSelector"), error)) {
    out.response = status_response(400, "BadRequest", error);
    return;
  }

  if (verb == "get") {
    object_ptr o = store_.get(*res, ns, name);
    out.response = wants_table ? table_response({o}, o->rv, include, "") : object_response(200, o);
    return;
  }
  if (verb == "watch") {
    watch_params w;
    w.filter.resource = *res;
    w.filter.ns = ns;
    w.filter.labels = labels;
    w.filter.fields = fields;
    w.resource_version = param("resourceVersion");
    w.bookmarks = param_true(param("allowWatchBookmarks"));
    w.send_initial_events = param_true(param("sendInitialEvents"));
    if (std::string ts = param("timeoutSeconds"); !ts.empty()) {
      std::uint64_t secs;
      if (!parse_uint(ts, secs)) {
        out.response = status_response(400, "BadRequest", "invalid timeoutSeconds: " + ts);
        return;
      }
      w.timeout = std::chrono::seconds(secs);
    }
    out.watch = std::move(w);
    return;
  }
  if (verb == "list") {
    std::uint64_t limit = 0;
    if (std::string l = param("limit"); !l.empty() && !parse_uint(l, limit)) {
      out.response = status_response(400, "BadRequest", "invalid limit: " + l);
      return;
    }
    std::uint64_t rv_param;
    if (std::string rv = param("resourceVersion"); !rv.empty() && !parse_uint(rv, rv_param)) {
      out.response = status_response(400, "BadRequest", "invalid resource version: " + rv);
      return;
    }
    list_result lr = store_.list(*res, ns, labels, fields, static_cast<std::size_t>(limit), param("continue"));
    if (wants_table) {
      out.response = table_response(lr.items, lr.rv, include, lr.continue_token);
      return;
    }
    api_response r;
    std::string head = "{\"kind\":\"" + t.kind + "List\",\"apiVersion\":\"" + t.api_version() +
                       "\",\"metadata\":{\"resourceVersion\":\"" + std::to_string(lr.rv) + "\"";
    if (!lr.continue_token.empty()) head += ",\"continue\":\"" + lr.continue_token + "\"";
    head += "},\"items\":[";
    r.parts.reserve(lr.items.size() * 2 + 2);
    r.parts.push_back(shared(std::move(head)));
    static const auto comma = shared(",");
    for (std::size_t i = 0; i < lr.items.size(); ++i) {
      if (i) r.parts.push_back(comma);
      r.parts.emplace_back(lr.items[i], &lr.items[i]->bytes);
    }
    static const auto tail = shared("]}");
    r.parts.push_back(tail);
    out.response = std::move(r);
    return;
  }
  auto body_json = [&]() -> json::value {
    if (protobuf_body) return decode_protobuf_object(req.body);
    try {
      return parse_json_or_yaml(req.body);
    } catch (const std::exception& e) {
      throw api_error(400, "BadRequest", e.what());
    }
  };
  if (verb == "create") {
    if (!name.empty()) {
      out.response = not_allowed();
      return;
    }
    auto o = store_.create(*res, ns, body_json(), wopt);
    arrived(o);
    out.response = object_response(201, o);
    return;
  }
  if (verb == "update") {
    if (name.empty()) {
      out.response = not_allowed();
      return;
    }
    auto o = store_.update(*res, ns, name, body_json(), wopt);
    written(o);
    out.response = object_response(200, o);
    return;
  }
  if (verb == "patch") {
    if (name.empty()) {
      out.response = not_allowed();
      return;
    }
    std::string mt = media_type(req.content_type);
    patch_kind kind;
    if (mt == "application/merge-patch+json") kind = patch_kind::merge;
    else if (mt == "application/strategic-merge-patch+json") kind = patch_kind::strategic;
    else if (mt == "application/json-patch+json") kind = patch_kind::json;
    else if (mt == "application/apply-patch+yaml" || mt == "application/apply-patch+json") kind = patch_kind::apply;
    else {
      out.response = status_response(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
      return;
    }
    if (kind == patch_kind::strategic && t.custom) {
      out.response = status_response(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
      return;
    }
    if (kind == patch_kind::apply && param("fieldManager").empty()) {
      out.response = status_response(400, "BadRequest", "PATCH " + path + ": fieldManager is required for apply patch");
      return;
    }
    if (kind != patch_kind::apply && !param("force").empty()) {
      out.response = status_response(400, "BadRequest", "force flag must only be set for apply patch requests");
      return;
    }
    bool created = false;
    object_ptr o = store_.patch(*res, ns, name, kind, body_json(), wopt, created);
    written(o);
    out.response = object_response(created ? 201 : 200, o);
    return;
  }
  if (verb == "delete") {
    json::value opts = req.body.empty() ? json::value(nullptr) : body_json();
    delete_result d = store_.remove(*res, ns, name, opts);
    if (!d.deleted || !t.group.empty() || t.resource == "pods") {
      out.response = object_response(200, d.object);
    } else {
      json::value obj = json::parse(d.object->bytes);
      json::object details{{"name", name}, {"kind", t.resource},
                           {"uid", string_at(obj.get_object()["metadata"].as_object(), "uid")}};
      out.response = status_response(200, "", "", std::move(details));
    }
    return;
  }
  if (verb == "deletecollection") {
    store_.remove_collection(*res, ns, labels, fields);
    out.response = status_response(200, "", "");
    return;
  }
  out.response = not_allowed();
  (void)name_details;
  return;
}

}  // namespace chainsd::testserver
