// `chainsd verify --key KEY [--rekor] [--rekor-url URL] [--rekor-key PEM] RUN_FILE|-`: checks the
// signatures Chains left on runs (`kubectl get taskrun X -o json`, or a List: every run in it).
// Each chains.tekton.dev/signature-<key> annotation is verified with KEY: a DSSE envelope (in-toto
// formats) over PAE(payloadType, payload), anything else as a raw signature over the matching
// chains.tekton.dev/payload-<key> (simplesigning). With --rekor (or --rekor-url / --rekor-key and a
// chains.tekton.dev/transparency annotation) the Rekor v1 entry that annotation names is fetched,
// its SET, inclusion proof and checkpoint checked with the log's key, and its body must record one
// of the run's verified signatures. Keyless (--certificate-identity, --certificate-oidc-issuer,
// --ca-roots instead of --key): each signature's cert-<key> is checked (verify_certificate.hpp)
// and verifies it. One `ok:` line per check; a `FAILED:` line names what failed.
// Exit codes: 0 everything verified, 1 a check failed or there was nothing to verify, 2 bad usage.
#include "app/commands.hpp"
#include "app/flags.hpp"
#include "app/input_documents.hpp"
#include "app/verify_certificate.hpp"
#include "net/http_client.hpp"
#include "runtime/log.hpp"
#include "signing/dsse.hpp"
#include "tlog/client.hpp"
#include "tlog/entry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <simdjson.h>

#include <cstdio>
#include <map>
#include <optional>

namespace chainsd::app {
namespace {

constexpr const char* usage_text =
    "usage: chainsd verify --key KEY [--rekor] [--rekor-url URL] [--rekor-key PEM] RUN_FILE|-\n"
    "       chainsd verify --certificate-identity ID --certificate-oidc-issuer URL --ca-roots PEM [--rekor...] RUN_FILE|-\n"
    "  Verifies the chains.tekton.dev/signature-* annotations of each TaskRun or PipelineRun in\n"
    "  RUN_FILE (`kubectl get taskrun NAME -o json`, or a List) with KEY (a PEM public key such as\n"
    "  cosign.pub): in-toto attestations (DSSE over PAE) and simplesigning image signatures.\n"
    "  --rekor also checks the Rekor v1 entry chains.tekton.dev/transparency names: SET, inclusion\n"
    "  proof and checkpoint with the log's key (--rekor-key, else GET /api/v1/log/publicKey) and\n"
    "  that its body records a signature of the run. --rekor-url or --rekor-key imply --rekor for\n"
    "  runs that have the annotation. Keyless: each signature's certificate (cert-<key>, chain-<key>)\n"
    "  must chain to --ca-roots and name the identity (email or URI SAN) and issuer; with --rekor the\n"
    "  entry must be integrated while the certificate was valid.\n"
    "  Exit 0: all verified; 1: a check failed or nothing to verify;\n"
    "  2: bad usage.\n"
    "flags:\n";

constexpr std::string_view prefix = "chainsd verify: ";
constexpr std::string_view ann_prefix = "chains.tekton.dev/";
constexpr std::string_view transparency_key = "chains.tekton.dev/transparency";

// One signature annotation, decoded, and what it was verified as.
struct signature_check {
  std::string short_key;  // the <key> of signature-<key>
  std::string what;       // "attestation (in-toto, <predicateType>)" / "image signature (simplesigning, <ref>)"
  bool dsse = false;
  std::string envelope;   // dsse: the envelope JSON as stored
  std::string payload;    // simplesigning: the payload; dsse: the envelope's payload
  std::string signature;  // simplesigning: raw signature bytes
  std::string verifier_pem;  // the key, or the keyless signature's certificate
  std::optional<certificate_facts> cert;  // keyless: the certificate's validity
  bool verified = false;
};

// What signatures must verify with: --key, or (keyless) each signature's certificate as policed.
struct verifier {
  std::string key_pem, key_name;
  std::optional<keyless_policy> keyless;
};

struct run_doc {
  std::string kind_lower;  // "taskrun" / "pipelinerun"
  std::string label;       // "taskrun ns/name"
  std::map<std::string, std::string> annotations;
};

struct totals {
  int ok = 0, failed = 0;
};

void ok(totals& t, const std::string& line) {
  ++t.ok;
  std::printf("ok: %s\n", line.c_str());
}

void failed(totals& t, const std::string& line) {
  ++t.failed;
  std::printf("FAILED: %s\n", line.c_str());
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

run_doc read_run(const input_document& d, const std::string& source) {
  simdjson::dom::parser parser;
  simdjson::dom::object root;
  const std::string where = d.where.empty() ? source : source + " " + d.where;
  if (parser.parse(d.json).get(root)) throw std::runtime_error(where + ": not a JSON object");
  run_doc r;
  r.kind_lower = lower(d.kind);
  r.label = r.kind_lower + " " + d.namespace_name + "/" + d.name;
  simdjson::dom::object anns;
  if (root["metadata"]["annotations"].get(anns) == simdjson::SUCCESS)
    for (auto f : anns) {
      std::string_view v;
      if (f.value.get(v) == simdjson::SUCCESS) r.annotations.emplace(std::string(f.key), std::string(v));
    }
  return r;
}

std::string decode_b64(const std::string& text, const std::string& name) {
  try {
    return signing::base64_decode(text);
  } catch (const std::exception&) {
    throw std::runtime_error(name + " is not base64");
  }
}

// A DSSE envelope is a JSON object with payloadType, payload and signatures; anything else is a
// raw signature.
bool parse_envelope(const std::string& text, std::string& type, std::string& payload_b64,
                    std::vector<std::string>& sigs_b64) {
  if (text.empty() || text[0] != '{') return false;
  simdjson::dom::parser parser;
  simdjson::dom::object env;
  if (parser.parse(text).get(env)) return false;
  std::string_view t, p;
  simdjson::dom::array sigs;
  if (env["payloadType"].get(t) || env["payload"].get(p) || env["signatures"].get(sigs)) return false;
  type = t;
  payload_b64 = p;
  for (auto s : sigs) {
    std::string_view sig;
    if (s["sig"].get(sig) == simdjson::SUCCESS) sigs_b64.emplace_back(sig);
  }
  return true;
}

std::string json_string_at(const std::string& json, std::string_view pointer) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::string_view v;
  if (parser.parse(json).get(root) || root.at_pointer(pointer).get(v)) return {};
  return std::string(v);
}

// A run signed keyless carries its Fulcio certificate in cert-<key>.
std::string keyless_hint(const run_doc& run, const std::string& short_key) {
  const std::string name = std::string(ann_prefix) + "cert-" + short_key;
  auto it = run.annotations.find(name);
  if (it == run.annotations.end() || it->second.empty()) return {};
  return "\n  hint: " + name + " holds a certificate (a keyless signature): verify it with --certificate-identity, "
         "--certificate-oidc-issuer and --ca-roots instead of --key";
}

// Verifies one signature-<key> annotation; the line printed names the run, the artifact and KEY.
signature_check check_signature(const run_doc& run, const std::string& short_key, const verifier& v, totals& t) {
  signature_check c;
  c.short_key = short_key;
  const bool of_run = short_key.rfind(run.kind_lower + "-", 0) == 0;
  const std::string sig_name = std::string(ann_prefix) + "signature-" + short_key;
  const std::string payload_name = std::string(ann_prefix) + "payload-" + short_key;
  c.what = std::string(of_run ? "attestation" : "image signature") + " (" + sig_name + ")";
  std::string key_pem = v.key_pem, key_name = v.key_name;
  try {
    if (v.keyless) {
      const std::string cert_name = std::string(ann_prefix) + "cert-" + short_key;
      const std::string chain_name = std::string(ann_prefix) + "chain-" + short_key;
      auto cit = run.annotations.find(cert_name);
      key_pem = cit == run.annotations.end() ? "" : decode_b64(cit->second, cert_name);
      if (key_pem.empty()) throw std::runtime_error("no certificate in " + cert_name + " (signed with a key: use --key)");
      auto chit = run.annotations.find(chain_name);
      const std::string chain = chit == run.annotations.end() ? "" : decode_b64(chit->second, chain_name);
      try {
        c.cert = check_certificate(key_pem, chain, *v.keyless);
      } catch (const std::exception& e) {
        throw std::runtime_error(cert_name + ": " + e.what());
      }
      key_name = "the certificate of " + v.keyless->identity + " (" + v.keyless->issuer + ", chained to " +
                 v.keyless->roots_name + ")";
    }
    c.verifier_pem = key_pem;
    const std::string sig = decode_b64(run.annotations.at(sig_name), sig_name);
    auto pit = run.annotations.find(payload_name);
    std::optional<std::string> stored_payload;
    if (pit != run.annotations.end()) stored_payload = decode_b64(pit->second, payload_name);
    std::string type, payload_b64;
    std::vector<std::string> sigs;
    if (parse_envelope(sig, type, payload_b64, sigs)) {
      c.dsse = true;
      c.envelope = sig;
      c.payload = decode_b64(payload_b64, sig_name + ": the envelope's payload");
      std::string pt = json_string_at(c.payload, "/predicateType");
      c.what = std::string(of_run ? "attestation" : "image attestation") + " (in-toto" + (pt.empty() ? "" : ", " + pt) +
               ")";
      if (stored_payload && *stored_payload != c.payload)
        throw std::runtime_error(payload_name + " differs from the payload inside " + sig_name);
      if (sigs.empty()) throw std::runtime_error(sig_name + ": the DSSE envelope has no signatures");
      const std::string pae = signing::pae(type, c.payload);
      for (const auto& s : sigs)
        c.verified = c.verified || tlog::verify_signature(key_pem, pae, decode_b64(s, sig_name + ": a DSSE sig"));
      if (!c.verified) throw std::runtime_error("the DSSE signature over PAE does not verify with " + key_name);
    } else {
      if (!stored_payload) throw std::runtime_error(sig_name + " has no " + payload_name + " to verify it over");
      c.payload = *stored_payload;
      c.signature = sig;
      std::string ref = json_string_at(c.payload, "/critical/identity/docker-reference");
      std::string digest = json_string_at(c.payload, "/critical/image/docker-manifest-digest");
      c.what = std::string(of_run ? "signature" : "image signature") + " (simplesigning" +
               (ref.empty() ? "" : ", " + ref + (digest.empty() ? "" : "@" + digest)) + ")";
      c.verified = tlog::verify_signature(key_pem, c.payload, sig);
      if (!c.verified) throw std::runtime_error("the signature over " + payload_name + " does not verify with " + key_name);
    }
    ok(t, run.label + " " + c.what + " verified with " + key_name);
  } catch (const std::exception& e) {  // bad base64, bad key (verify_error), no match
    failed(t, run.label + " " + c.what + ": " + e.what() + (v.keyless ? "" : keyless_hint(run, short_key)));
  }
  return c;
}

struct rekor_options {
  bool asked = false;          // --rekor
  std::string url;             // --rekor-url: overrides the annotation's log
  std::string key_pem, key_name;  // --rekor-key
};

// The entry's body must record one of the run's verified signatures (as dsse or hashedrekord).
const signature_check& matching_signature(const tlog::log_entry& e, const std::vector<signature_check>& checks) {
  std::string why;
  for (const auto& c : checks) {
    if (!c.verified) continue;
    auto p = c.dsse ? tlog::dsse_proposal(c.envelope, c.verifier_pem)
                    : tlog::hashedrekord_proposal(c.payload, c.signature, c.verifier_pem);
    try {
      tlog::verify_body_matches(e, p);
      return c;
    } catch (const tlog::verify_error& ex) {
      why += std::string(why.empty() ? "" : "; ") + ex.what();
    }
  }
  throw tlog::verify_error("its body records none of the run's verified signatures" + (why.empty() ? "" : " (" + why + ")"));
}

struct rekor_outcome {
  tlog::log_entry entry;
  std::string key_origin;
};

boost::asio::awaitable<rekor_outcome> fetch_entry(tlog::client& log, std::int64_t index, bool key_given) {
  rekor_outcome out;
  out.entry = co_await log.get_by_index(index);  // SET, inclusion proof and checkpoint checked
  out.key_origin = key_given ? "" : log.url() + "/api/v1/log/publicKey";
  co_return out;
}

void check_rekor(const run_doc& run, const std::vector<signature_check>& checks, const rekor_options& o, totals& t) {
  auto it = run.annotations.find(std::string(transparency_key));
  if (it == run.annotations.end()) {
    if (o.asked) failed(t, run.label + ": --rekor: no " + std::string(transparency_key) + " annotation (not logged)");
    return;
  }
  const std::string& value = it->second;
  const std::string marker = "/api/v1/log/entries?logIndex=";
  const auto at = value.find(marker);
  std::int64_t index = -1;
  try {
    if (at == std::string::npos) throw std::invalid_argument("no logIndex");
    std::size_t used = 0;
    index = std::stoll(value.substr(at + marker.size()), &used);
    if (used != value.size() - at - marker.size() || index < 0) throw std::invalid_argument("trailing text");
  } catch (const std::exception&) {
    failed(t, run.label + ": " + std::string(transparency_key) + " \"" + value +
                  "\" is not a Rekor v1 entry URL (<log>/api/v1/log/entries?logIndex=N)");
    return;
  }
  tlog::client_options co;
  co.url = o.url.empty() ? value.substr(0, at) : o.url;
  co.public_key_pem = o.key_pem;
  co.attempts = 2;
  const std::string what = "transparency log entry " + co.url + marker + std::to_string(index);
  boost::asio::io_context ctx;
  net::http_client http(ctx.get_executor());
  tlog::client log(http, co);
  std::optional<rekor_outcome> res;
  std::exception_ptr error;
  boost::asio::co_spawn(ctx, fetch_entry(log, index, !o.key_pem.empty()),
                        [&res, &error](std::exception_ptr e, rekor_outcome r) {
                          if (e) error = e;
                          else res = std::move(r);
                        });
  ctx.run();
  try {
    if (error) std::rethrow_exception(error);
    if (res->entry.log_index != index)
      throw tlog::verify_error("the log answered entry " + std::to_string(res->entry.log_index));
    const signature_check& matched = matching_signature(res->entry, checks);
    // A keyless signature counts only if the log saw it while its certificate was valid.
    if (matched.cert && (res->entry.integrated_time < matched.cert->not_before ||
                         res->entry.integrated_time > matched.cert->not_after))
      throw tlog::verify_error("integrated at " + std::to_string(res->entry.integrated_time) +
                               ", outside the certificate's validity [" + std::to_string(matched.cert->not_before) + ", " +
                               std::to_string(matched.cert->not_after) + "]");
    const std::string key = o.key_pem.empty() ? "the key from " + res->key_origin : o.key_name;
    ok(t, run.label + " " + what + " (" + res->entry.uuid + ") records the " + matched.what +
              (matched.cert ? " within its certificate's validity" : "") +
              "; SET, inclusion proof and checkpoint verified with " + key);
  } catch (const std::exception& e) {  // tlog_error, verify_error
    failed(t, run.label + " " + what + ": " + e.what());
  }
}

void verify_run(const run_doc& run, const verifier& v, const rekor_options& o, totals& t) {
  const std::string sig_prefix = std::string(ann_prefix) + "signature-";
  std::vector<signature_check> checks;
  for (const auto& [k, value] : run.annotations)
    if (k.rfind(sig_prefix, 0) == 0) checks.push_back(check_signature(run, k.substr(sig_prefix.size()), v, t));
  if (checks.empty()) {
    auto signed_it = run.annotations.find("chains.tekton.dev/signed");
    failed(t, run.label + ": nothing to verify: no " + sig_prefix + "* annotations (" +
                  (signed_it == run.annotations.end() ? std::string("the run is not signed")
                                                      : "chains.tekton.dev/signed is \"" + signed_it->second +
                                                            "\"; signatures stored elsewhere cannot be checked here") +
                  ")");
    return;
  }
  if (o.asked || !o.url.empty() || !o.key_pem.empty()) check_rekor(run, checks, o, t);
}

std::string read_key(const std::string& path, const char* flag) {
  std::string pem;
  try {
    pem = read_input(path);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string(flag) + ": " + e.what());
  }
  try {
    tlog::parse_log_key(pem);  // a usable SubjectPublicKeyInfo
  } catch (const std::exception& e) {
    if (pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
      throw std::runtime_error(std::string(flag) + " " + path + ": not a PEM public key: " + e.what());
  }
  return pem;
}

}  // namespace

int run_verify(const args& a) {
  flags f({{"key", "PEM public key (e.g. cosign.pub) the signatures must verify with", ""},
           {"rekor", "also check the Rekor entry chains.tekton.dev/transparency names", "", true},
           {"rekor-url", "the Rekor v1 log to read (default: the one the annotation names)", ""},
           {"rekor-key", "the log's PEM public key (default: GET <log>/api/v1/log/publicKey)", ""},
           {"certificate-identity", "keyless: the email or URI the signing certificate must name", ""},
           {"certificate-oidc-issuer", "keyless: the OIDC issuer the signing certificate must name", ""},
           {"ca-roots", "keyless: PEM file of the trusted Fulcio root (and intermediates)", ""},
           {"help", "show this help", "", true}});
  try {
    f.parse(a);
  } catch (const flag_error& e) {
    std::fprintf(stderr, "%s%s\n%s%s", prefix.data(), e.what(), usage_text, f.usage().c_str());
    return 2;
  }
  if (f.get_bool("help")) {
    std::printf("%s%s", usage_text, f.usage().c_str());
    return 0;
  }
  const bool keyless = f.was_set("certificate-identity");
  if (keyless == (f.was_set("key") && !f.get("key").empty())) {
    std::fprintf(stderr, "%s%s\n%s", prefix.data(),
                 keyless ? "--key and --certificate-identity exclude each other"
                         : "--key KEY is required (a PEM public key, e.g. cosign.pub), or --certificate-identity",
                 usage_text);
    return 2;
  }
  if (keyless && (f.get("certificate-identity").empty() || f.get("certificate-oidc-issuer").empty() ||
                  f.get("ca-roots").empty())) {
    std::fprintf(stderr, "%skeyless verification needs --certificate-identity, --certificate-oidc-issuer and "
                         "--ca-roots (the Fulcio root PEM)\n%s", prefix.data(), usage_text);
    return 2;
  }
  if (f.positional().size() != 1) {
    std::fprintf(stderr, "%sgive one run file, or - for standard input\n%s", prefix.data(), usage_text);
    return 2;
  }
  log::set_level(log::level::off);  // the lines below are the output
  const std::string file = f.positional()[0];
  const std::string source = file == "-" ? "<stdin>" : file;
  try {
    verifier v;
    if (keyless) {
      keyless_policy p{f.get("certificate-identity"), f.get("certificate-oidc-issuer"), "", f.get("ca-roots")};
      try {
        p.roots_pem = read_input(p.roots_name);
      } catch (const std::exception& e) {
        throw std::runtime_error(std::string("--ca-roots: ") + e.what());
      }
      v.keyless = std::move(p);
    } else {
      v.key_name = f.get("key");
      v.key_pem = read_key(v.key_name, "--key");
    }
    rekor_options o;
    o.asked = f.get_bool("rekor");
    o.url = f.get("rekor-url");
    while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
    if (f.was_set("rekor-key")) {
      o.key_name = f.get("rekor-key");
      o.key_pem = read_key(o.key_name, "--rekor-key");
    }
    totals t;
    int runs = 0;
    for (const auto& d : split_documents(read_input(file), source)) {
      if (d.kind != "TaskRun" && d.kind != "PipelineRun") {
        failed(t, source + (d.where.empty() ? "" : " " + d.where) + ": is " +
                      (d.kind.empty() ? std::string("not a Kubernetes object") : "a " + d.kind) +
                      ", not a TaskRun or PipelineRun");
        continue;
      }
      ++runs;
      verify_run(read_run(d, source), v, o, t);
    }
    if (runs == 0 && t.failed == 0) failed(t, source + ": holds no runs (an empty List)");
    std::printf("%s: %d verified, %d failed\n", source.c_str(), t.ok, t.failed);
    return t.failed || t.ok == 0 ? 1 : 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s%s\n", prefix.data(), e.what());
    return 1;
  }
}

}  // namespace chainsd::app
