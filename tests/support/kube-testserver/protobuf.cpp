#include "protobuf.hpp"

#include "patch.hpp"

#include <functional>
#include <vector>

namespace chainsd::testserver {
namespace {

// A hand-written reader of the protobuf wire format: varints (0) and length-delimited fields (2)
// are kept, fixed 64/32-bit ones skipped; anything malformed is a 400 as kube would answer.
struct pb_field {
  std::uint32_t number = 0;
  std::uint32_t wire = 0;
  std::uint64_t varint = 0;
  std::string_view bytes;
};

[[noreturn]] void malformed(std::string_view what) {
  throw api_error(400, "BadRequest", "protobuf request body is malformed: " + std::string(what));
}

std::uint64_t read_varint(std::string_view& in) {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    auto b = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  malformed("truncated varint");
}

std::vector<pb_field> fields(std::string_view in) {
  std::vector<pb_field> out;
  while (!in.empty()) {
    std::uint64_t key = read_varint(in);
    pb_field f;
    f.number = static_cast<std::uint32_t>(key >> 3);
    f.wire = static_cast<std::uint32_t>(key & 7);
    if (f.wire == 0) {
      f.varint = read_varint(in);
    } else if (f.wire == 2) {
      std::uint64_t len = read_varint(in);
      if (len > in.size()) malformed("length beyond the end");
      f.bytes = in.substr(0, len);
      in.remove_prefix(len);
    } else if (f.wire == 1 || f.wire == 5) {
      std::size_t n = f.wire == 1 ? 8 : 4;
      if (in.size() < n) malformed("truncated fixed-width field");
      in.remove_prefix(n);
    } else {
      malformed("unsupported wire type " + std::to_string(f.wire));
    }
    out.push_back(f);
  }
  return out;
}

// Setters for one message's fields; fields without one are ignored (as unknown fields are).
using field_handlers = std::vector<std::pair<std::uint32_t, std::function<void(const pb_field&)>>>;

void decode(std::string_view msg, const field_handlers& handlers) {
  for (const auto& f : fields(msg))
    for (const auto& [n, fn] : handlers)
      if (n == f.number) fn(f);
}

void put_string(json::object& o, std::string_view key, const pb_field& f) {
  if (f.wire == 2 && !f.bytes.empty()) o[key] = f.bytes;
}
void put_bool(json::object& o, std::string_view key, const pb_field& f) {
  if (f.wire == 0) o[key] = f.varint != 0;  // *bool: present means set, false included
}
void put_int(json::object& o, std::string_view key, const pb_field& f, bool keep_zero) {
  if (f.wire == 0 && (keep_zero || f.varint != 0)) o[key] = static_cast<std::int64_t>(f.varint);
}

// map<string, string|bytes>: repeated entries {key = 1, value = 2}.
void put_map_entry(json::object& o, std::string_view key, const pb_field& f, bool bytes_value) {
  if (f.wire != 2) return;
  std::string k, v;
  decode(f.bytes, {{1, [&](const pb_field& e) { k = e.bytes; }}, {2, [&](const pb_field& e) { v = e.bytes; }}});
  json::value& m = o[key];
  if (!m.is_object()) m = json::object{};
  m.get_object()[k] = bytes_value ? base64_encode(v) : v;
}

json::array& array_at(json::object& o, std::string_view key) {
  json::value& a = o[key];
  if (!a.is_array()) a = json::array{};
  return a.get_array();
}

// meta.v1.Time {seconds = 1, nanos = 2}, serialized as RFC 3339 seconds; the zero time is unset.
void put_time(json::object& o, std::string_view key, const pb_field& f) {
  if (f.wire != 2) return;
  std::int64_t seconds = 0;
  decode(f.bytes, {{1, [&](const pb_field& e) { seconds = static_cast<std::int64_t>(e.varint); }}});
  if (seconds != 0) o[key] = rfc3339(std::chrono::system_clock::time_point(std::chrono::seconds(seconds)));
}

json::object owner_reference(std::string_view msg) {
  json::object o;
  decode(msg, {{5, [&](const pb_field& f) { put_string(o, "apiVersion", f); }},
               {1, [&](const pb_field& f) { put_string(o, "kind", f); }},
               {3, [&](const pb_field& f) { put_string(o, "name", f); }},
               {4, [&](const pb_field& f) { put_string(o, "uid", f); }},
               {6, [&](const pb_field& f) { put_bool(o, "controller", f); }},
               {7, [&](const pb_field& f) { put_bool(o, "blockOwnerDeletion", f); }}});
  return o;
}

// k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta (managedFields, 17, are dropped: the server
// records its own).
json::object object_meta(std::string_view msg) {
  json::object md;
  decode(msg, {{1, [&](const pb_field& f) { put_string(md, "name", f); }},
               {2, [&](const pb_field& f) { put_string(md, "generateName", f); }},
               {3, [&](const pb_field& f) { put_string(md, "namespace", f); }},
               {4, [&](const pb_field& f) { put_string(md, "selfLink", f); }},
               {5, [&](const pb_field& f) { put_string(md, "uid", f); }},
               {6, [&](const pb_field& f) { put_string(md, "resourceVersion", f); }},
               {7, [&](const pb_field& f) { put_int(md, "generation", f, false); }},
               {8, [&](const pb_field& f) { put_time(md, "creationTimestamp", f); }},
               {9, [&](const pb_field& f) { put_time(md, "deletionTimestamp", f); }},
               {10, [&](const pb_field& f) { put_int(md, "deletionGracePeriodSeconds", f, true); }},
               {11, [&](const pb_field& f) { put_map_entry(md, "labels", f, false); }},
               {12, [&](const pb_field& f) { put_map_entry(md, "annotations", f, false); }},
               {13, [&](const pb_field& f) { array_at(md, "ownerReferences").push_back(owner_reference(f.bytes)); }},
               {14, [&](const pb_field& f) { array_at(md, "finalizers").emplace_back(f.bytes); }}});
  return md;
}

// k8s.io.api.core.v1.ConfigMap, Secret, Namespace, ServiceAccount and authentication.v1.TokenRequest.
void config_map(std::string_view raw, json::object& o) {
  decode(raw, {{1, [&](const pb_field& f) { o["metadata"] = object_meta(f.bytes); }},
               {2, [&](const pb_field& f) { put_map_entry(o, "data", f, false); }},
               {3, [&](const pb_field& f) { put_map_entry(o, "binaryData", f, true); }},
               {4, [&](const pb_field& f) { put_bool(o, "immutable", f); }}});
}

void secret(std::string_view raw, json::object& o) {
  decode(raw, {{1, [&](const pb_field& f) { o["metadata"] = object_meta(f.bytes); }},
               {2, [&](const pb_field& f) { put_map_entry(o, "data", f, true); }},
               {3, [&](const pb_field& f) { put_string(o, "type", f); }},
               {4, [&](const pb_field& f) { put_map_entry(o, "stringData", f, false); }},
               {5, [&](const pb_field& f) { put_bool(o, "immutable", f); }}});
}

// Namespace {metadata = 1, spec = 2 {finalizers = 1}, status = 3 (the server sets it)}.
void name_space(std::string_view raw, json::object& o) {
  decode(raw, {{1, [&](const pb_field& f) { o["metadata"] = object_meta(f.bytes); }},
               {2, [&](const pb_field& f) {
                  json::object spec;
                  decode(f.bytes, {{1, [&](const pb_field& n) { array_at(spec, "finalizers").emplace_back(n.bytes); }}});
                  if (!spec.empty()) o["spec"] = std::move(spec);
                }}});
}

json::object object_reference(std::string_view msg) {
  json::object r;
  decode(msg, {{1, [&](const pb_field& f) { put_string(r, "kind", f); }},
               {2, [&](const pb_field& f) { put_string(r, "namespace", f); }},
               {3, [&](const pb_field& f) { put_string(r, "name", f); }},
               {4, [&](const pb_field& f) { put_string(r, "uid", f); }},
               {5, [&](const pb_field& f) { put_string(r, "apiVersion", f); }},
               {6, [&](const pb_field& f) { put_string(r, "resourceVersion", f); }},
               {7, [&](const pb_field& f) { put_string(r, "fieldPath", f); }}});
  return r;
}

void service_account(std::string_view raw, json::object& o) {
  decode(raw, {{1, [&](const pb_field& f) { o["metadata"] = object_meta(f.bytes); }},
               {2, [&](const pb_field& f) { array_at(o, "secrets").push_back(object_reference(f.bytes)); }},
               {3, [&](const pb_field& f) {
                  json::object r;
                  decode(f.bytes, {{1, [&](const pb_field& n) { put_string(r, "name", n); }}});
                  array_at(o, "imagePullSecrets").push_back(std::move(r));
                }},
               {4, [&](const pb_field& f) { put_bool(o, "automountServiceAccountToken", f); }}});
}

// TokenRequest {metadata = 1, spec = 2}; TokenRequestSpec {audiences = 1, boundObjectRef = 3,
// expirationSeconds = 4}; BoundObjectReference {kind = 1, apiVersion = 2, name = 3, uid = 4}.
void token_request(std::string_view raw, json::object& o) {
  decode(raw, {{1, [&](const pb_field& f) { o["metadata"] = object_meta(f.bytes); }},
               {2, [&](const pb_field& f) {
                  json::object spec;
                  decode(f.bytes, {{1, [&](const pb_field& a) { array_at(spec, "audiences").emplace_back(a.bytes); }},
                                   {4, [&](const pb_field& e) { put_int(spec, "expirationSeconds", e, true); }},
                                   {3, [&](const pb_field& b) {
                                      json::object ref;
                                      decode(b.bytes, {{1, [&](const pb_field& x) { put_string(ref, "kind", x); }},
                                                       {2, [&](const pb_field& x) { put_string(ref, "apiVersion", x); }},
                                                       {3, [&](const pb_field& x) { put_string(ref, "name", x); }},
                                                       {4, [&](const pb_field& x) { put_string(ref, "uid", x); }}});
                                      spec["boundObjectRef"] = std::move(ref);
                                    }}});
                  o["spec"] = std::move(spec);
                }}});
}

struct decoder {
  std::string_view api_version;
  std::string_view kind;
  void (*fn)(std::string_view, json::object&);
};
constexpr decoder decoders[] = {{"v1", "ConfigMap", config_map},
                                {"v1", "Secret", secret},
                                {"v1", "Namespace", name_space},
                                {"v1", "ServiceAccount", service_account},
                                {"authentication.k8s.io/v1", "TokenRequest", token_request}};

}  // namespace

json::value decode_protobuf_object(std::string_view body) {
  if (body.size() < 4 || body.substr(0, 4) != std::string_view("k8s\0", 4))
    throw api_error(400, "BadRequest", "protobuf request body does not start with the k8s\\0 envelope");
  std::string api_version, kind, encoding;
  std::string_view raw;
  decode(body.substr(4), {{1, [&](const pb_field& f) {
                             decode(f.bytes, {{1, [&](const pb_field& t) { api_version = t.bytes; }},
                                              {2, [&](const pb_field& t) { kind = t.bytes; }}});
                           }},
                          {2, [&](const pb_field& f) { raw = f.bytes; }},
                          {3, [&](const pb_field& f) { encoding = f.bytes; }}});
  if (!encoding.empty())
    throw api_error(415, "UnsupportedMediaType", "protobuf request body with contentEncoding \"" + encoding + "\" is not supported");
  for (const auto& d : decoders) {
    if (d.api_version != api_version || d.kind != kind) continue;
    json::object o{{"apiVersion", api_version}, {"kind", kind}};
    d.fn(raw, o);
    return o;
  }
  throw api_error(415, "UnsupportedMediaType",
                  "the body of the request was in an unknown format - accepted media types include: application/json, "
                  "application/yaml (kube-testserver decodes application/vnd.kubernetes.protobuf only for v1 ConfigMap, "
                  "Secret, Namespace, ServiceAccount and authentication.k8s.io/v1 TokenRequest, not " +
                  (api_version.empty() ? std::string("an envelope without apiVersion") : api_version + " " + kind) + ")");
}

}  // namespace chainsd::testserver
