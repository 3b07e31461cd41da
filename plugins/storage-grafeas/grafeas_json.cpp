#include "grafeas_json.hpp"

#include <chainsd/plugin/ascii.hpp>
#include <chainsd/plugin/encoding.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace storage_grafeas {
namespace plugin = chainsd::plugin;
namespace json = boost::json;

namespace {

constexpr const char* simplesigning_type = "application/vnd.dev.cosign.simplesigning.v1+json";  // cosign's
constexpr const char* intoto_type = "application/vnd.in-toto+json";

const json::value* at(const json::value& v, std::string_view k) {
  return v.is_object() ? v.get_object().if_contains(k) : nullptr;
}

// Copies o[from] to out[to] when present and of the right shape (strings non-empty, objects and
// arrays as they are); proto3 JSON leaves defaults out, so absent stays absent.
void copy(json::object& out, const json::value& o, std::string_view from, std::string_view to = {}) {
  auto* v = at(o, from);
  if (!v || v->is_null()) return;
  if (v->is_string() && v->get_string().empty()) return;
  out[to.empty() ? from : to] = *v;
}

void copy_object(json::object& out, const json::value& o, std::string_view from, std::string_view to = {}) {
  if (auto* v = at(o, from); v && v->is_object()) out[to.empty() ? from : to] = *v;
}

json::object string_map(const json::value* v) {
  json::object m;
  if (v && v->is_object())
    for (const auto& [k, x] : v->get_object())
      if (x.is_string()) m[k] = x;
  return m;
}

json::array subjects(const json::value& stmt) {
  json::array out;
  if (auto* s = at(stmt, "subject"); s && s->is_array())
    for (const auto& e : s->get_array()) {
      json::object o;
      copy(o, e, "name");
      if (auto d = string_map(at(e, "digest")); !d.empty()) o["digest"] = std::move(d);
      out.push_back(std::move(o));
    }
  return out;
}

json::object zero_two(const json::value& p) {
  json::object out;
  if (auto* b = at(p, "builder")) {
    json::object builder;
    copy(builder, *b, "id");
    out["builder"] = std::move(builder);
  }
  copy(out, p, "buildType");
  if (auto* inv = at(p, "invocation")) {
    json::object i;
    if (auto* cs = at(*inv, "configSource")) {
      json::object c;
      copy(c, *cs, "uri");
      if (auto d = string_map(at(*cs, "digest")); !d.empty()) c["digest"] = std::move(d);
      copy(c, *cs, "entryPoint");
      i["configSource"] = std::move(c);
    }
    copy_object(i, *inv, "parameters");
    copy_object(i, *inv, "environment");
    out["invocation"] = std::move(i);
  }
  copy_object(out, p, "buildConfig");
  if (auto* m = at(p, "metadata"); m && m->is_object()) {
    json::object md;
    copy(md, *m, "buildInvocationID", "buildInvocationId");
    copy(md, *m, "buildStartedOn");
    copy(md, *m, "buildFinishedOn");
    json::object c;
    if (auto* comp = at(*m, "completeness"))
      for (const char* f : {"parameters", "environment", "materials"})
        if (auto* b = at(*comp, f); b && b->is_bool() && b->get_bool()) c[f] = true;
    md["completeness"] = std::move(c);
    if (auto* r = at(*m, "reproducible"); r && r->is_bool() && r->get_bool()) md["reproducible"] = true;
    out["metadata"] = std::move(md);
  }
  json::array mats;
  if (auto* ms = at(p, "materials"); ms && ms->is_array())
    for (const auto& e : ms->get_array()) {
      json::object m;
      copy(m, e, "uri");
      if (auto d = string_map(at(e, "digest")); !d.empty()) m["digest"] = std::move(d);
      mats.push_back(std::move(m));
    }
  if (!mats.empty()) out["materials"] = std::move(mats);
  return out;
}

json::array descriptors(const json::value* v) {
  json::array out;
  if (!v || !v->is_array()) return out;
  for (const auto& e : v->get_array()) {
    json::object d;
    for (const char* f : {"name", "uri", "content", "downloadLocation", "mediaType"}) copy(d, e, f);
    if (auto m = string_map(at(e, "digest")); !m.empty()) d["digest"] = std::move(m);
    copy_object(d, e, "annotations");
    out.push_back(std::move(d));
  }
  return out;
}

json::object slsa_v1(const json::value& p) {
  json::object out;
  if (auto* bd = at(p, "buildDefinition")) {
    json::object b;
    copy(b, *bd, "buildType");
    copy_object(b, *bd, "externalParameters");
    copy_object(b, *bd, "internalParameters");
    if (auto r = descriptors(at(*bd, "resolvedDependencies")); !r.empty()) b["resolvedDependencies"] = std::move(r);
    out["buildDefinition"] = std::move(b);
  }
  if (auto* rd = at(p, "runDetails")) {
    json::object r;
    if (auto* b = at(*rd, "builder")) {
      json::object builder;
      copy(builder, *b, "id");
      if (auto v = string_map(at(*b, "version")); !v.empty()) builder["version"] = std::move(v);
      if (auto d = descriptors(at(*b, "builderDependencies")); !d.empty()) builder["builderDependencies"] = std::move(d);
      r["builder"] = std::move(builder);
    }
    if (auto* m = at(*rd, "metadata")) {
      json::object md;
      for (const char* f : {"invocationId", "startedOn", "finishedOn"}) copy(md, *m, f);
      r["metadata"] = std::move(md);
    }
    if (auto b = descriptors(at(*rd, "byproducts")); !b.empty()) r["byproducts"] = std::move(b);
    out["runDetails"] = std::move(r);
  }
  return out;
}

std::string str(const json::value& v, std::string_view k) {
  auto* x = at(v, k);
  return x && x->is_string() ? std::string(x->get_string()) : std::string();
}

json::array envelope_signatures(const std::string& sig, const std::string& key_id, const char* sig_field,
                                const char* key_field) {
  json::object s{{sig_field, plugin::base64_encode(sig)}};
  if (!key_id.empty()) s[key_field] = key_id;
  return json::array{std::move(s)};
}

}  // namespace

bool is_simplesigning(const std::string& f) { return f == "simplesigning"; }
bool is_intoto(const std::string& f) {
  return f == "in-toto" || f == "slsa/v1" || f == "slsa/v2alpha2" || f == "slsa/v2alpha3" || f == "slsa/v2alpha4";
}

std::vector<std::string> subject_uris(const std::string& statement_json) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = json::parse(statement_json, ec);
  if (ec) return out;
  if (auto* s = at(v, "subject"); s && s->is_array())
    for (const auto& e : s->get_array())
      if (auto* d = at(e, "digest"); d && d->is_object())
        for (const auto& [alg, hex] : d->get_object())
          if (hex.is_string()) out.push_back(str(e, "name") + "@" + std::string(alg) + ":" + std::string(hex.get_string()));
  return out;
}

plugin::result<std::string> build_details(const std::string& statement_json) {
  boost::system::error_code ec;
  auto v = json::parse(statement_json, ec);
  if (ec || !v.is_object()) return plugin::fail(plugin::errc::permanent, "the in-toto statement is not a JSON object");
  json::object stmt;
  copy(stmt, v, "_type");
  stmt["subject"] = subjects(v);
  copy(stmt, v, "predicateType");
  const auto* pred = at(v, "predicate");
  static const json::value empty = json::object{};
  if (!pred || !pred->is_object()) pred = &empty;
  // Upstream converts every statement as SLSA v0.2; a v1.0 predicate then arrives empty. Its own
  // proto message (inTotoSlsaProvenanceV1) keeps it.
  if (str(v, "predicateType") == "https://slsa.dev/provenance/v1") {
    stmt["predicate"] = slsa_v1(*pred);
    return json::serialize(json::object{{"inTotoSlsaProvenanceV1", std::move(stmt)}});
  }
  stmt["slsaProvenanceZeroTwo"] = zero_two(*pred);
  return json::serialize(json::object{{"intotoStatement", std::move(stmt)}});
}

plugin::result<plan> make_plan(const options& o, const plugin::store_request& req) {
  const bool simple = is_simplesigning(req.payload_format);
  if (!simple && !is_intoto(req.payload_format))
    return plugin::fail(plugin::errc::permanent, "grafeas storage supports the simplesigning and in-toto payload formats, not \"" +
                                                     req.payload_format + "\"");
  const std::string base = o.note_id.empty() ? "tekton-" + req.run.namespace_name : o.note_id;
  plan p;
  const std::string kind_name = plugin::to_lower_ascii(req.run.kind);
  p.n.id = simple ? base + "-simplesigning" : base + "-" + kind_name + "-intoto";
  p.note_name = "projects/" + o.project + "/notes/" + p.n.id;
  if (simple) {
    p.n.body = json::serialize(json::object{
        {"shortDescription", "OCI Artifact Attestation Note"},
        {"attestation", json::object{{"hint", json::object{{"humanReadableName", o.note_hint}}}}}});
    const std::string uri = req.full_key.empty() ? req.image : req.full_key;
    json::object occ{{"resourceUri", uri}, {"noteName", p.note_name}};
    occ["attestation"] = json::object{{"serializedPayload", plugin::base64_encode(req.payload)},
                                      {"signatures", envelope_signatures(req.signature, o.key_id, "signature", "publicKeyId")}};
    occ["envelope"] = json::object{{"payload", plugin::base64_encode(req.payload)},
                                   {"payloadType", simplesigning_type},
                                   {"signatures", envelope_signatures(req.signature, o.key_id, "sig", "keyid")}};
    p.resource_uris.push_back(uri);
    p.occurrences.push_back(json::serialize(occ));
    return p;
  }
  p.n.body = json::serialize(json::object{{"shortDescription", "Build Provenance Note for TaskRun"},
                                          {"build", json::object{{"builderVersion", req.run.api_version + "/" + req.run.kind}}}});
  auto details = build_details(req.payload);
  if (!details) return details.error();
  auto build = json::parse(*details);
  p.resource_uris = req.subject_images.empty() ? subject_uris(req.payload) : req.subject_images;
  for (const auto& uri : p.resource_uris) {
    json::object occ{{"resourceUri", uri}, {"noteName", p.note_name}, {"build", build}};
    occ["envelope"] = json::object{{"payload", plugin::base64_encode(req.payload)},
                                   {"payloadType", intoto_type},
                                   {"signatures", envelope_signatures(req.signature, o.key_id, "sig", "keyid")}};
    p.occurrences.push_back(json::serialize(occ));
  }
  return p;
}

}  // namespace storage_grafeas
