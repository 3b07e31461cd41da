#include "tlog/logger.hpp"

#include "chainsd/plugin/encoding.hpp"
#include "net/http_client.hpp"
#include "runtime/log.hpp"
#include "runtime/metrics.hpp"
#include "runtime/sleep.hpp"
#include "signing/dsse.hpp"
#include "tlog/bundle.hpp"
#include "tlog/json_fields.hpp"
#include "tlog/merkle.hpp"
#include "tlog/retry.hpp"
#include "tlog/tiles.hpp"

#include <charconv>

namespace chainsd::tlog {
namespace {

using kind = tlog_error::kind;

std::string strip_slashes(std::string u) {
  while (!u.empty() && u.back() == '/') u.pop_back();
  return u;
}

std::string scheme_less(std::string_view url) {
  auto p = url.find("://");
  return strip_slashes(std::string(p == std::string_view::npos ? url : url.substr(p + 3)));
}

std::string utc(std::time_t t) {
  char buf[32];
  struct tm tm {};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

kind for_status(unsigned status) { return status >= 400 && status < 500 ? kind::permanent : kind::retryable; }

void count(std::string_view name, std::string_view help) { metrics::global().get_counter(name, help).inc(); }

}  // namespace

// The bytes a signature covers, from a request: what Rekor v2 digests and what a TSA stamps.
struct logger::signed_bytes {
  bool dsse = false;
  std::string signature;       // raw
  // SHA-256 of what was signed (dsse: PAE(payloadType, payload); else the payload): only the
  // digest is kept while the upload waits for its checkpoint.
  std::string message_digest;
};

logger::logger(net::http_client& http, logger_options opts) : http_(http), opts_(std::move(opts)) {
  if (opts_.version == 1) v1_ = std::make_unique<client>(http_, opts_.v1);
  if (opts_.version == 2) {
    auto& v2 = opts_.v2;
    v2.url = strip_slashes(v2.url);
    v2.read_url = v2.read_url.empty() ? v2.url + "/api/v2" : strip_slashes(v2.read_url);
    if (v2.origin.empty()) v2.origin = scheme_less(v2.url);
    try {
      v2_key_ = make_note_key(v2.origin, v2.public_key_pem);
    } catch (const verify_error& e) {
      throw std::invalid_argument("transparency.publickey (the Rekor v2 log's key): " + std::string(e.what()));
    }
    if (!v2.expected_log_id.empty() && v2_key_->id.compare(0, v2.expected_log_id.size(), v2.expected_log_id) != 0)
      throw std::invalid_argument("transparency.trusted-root: the log's checkpointKeyId/logId " +
                                  to_hex(v2.expected_log_id) + " is not the ID of its key under origin " + v2.origin +
                                  " (" + to_hex(v2_key_->id) + ")");
  }
  if (opts_.version < 0 || opts_.version > 2) throw std::invalid_argument("transparency.version: not v1 or v2");
  if (opts_.tsa) {
    try {
      tsa_ = std::make_unique<timestamp_verifier>(opts_.tsa->chain_pems);
    } catch (const verify_error& e) {
      throw std::invalid_argument("transparency.timestamp.certchain: " + std::string(e.what()));
    }
  }
}

logger::~logger() = default;

const std::string& logger::log_url() const {
  static const std::string none;
  if (opts_.version == 1) return v1_->url();
  if (opts_.version == 2) return opts_.v2.url;
  return none;
}

std::string logger::unsupported_signer(std::string_view signer_key, std::string_view why) const {
  std::string who = signer_key.empty() ? std::string("the signer") : std::string(signer_key);
  return opts_.version_key + " selects a Rekor v2 log (" + opts_.v2.url + ") but " + who + " signs with " +
         std::string(why) + "; or set transparency.version to v1";
}

std::string logger::signer_problem(std::string_view public_key_pem, std::string_view signer_key) const {
  if (opts_.version != 2) return {};
  try {
    v2_key_details(public_key_pem);
  } catch (const unsupported_key_error& e) {
    return unsupported_signer(signer_key, e.what());
  } catch (const verify_error& e) {
    return std::string(signer_key) + ": " + e.what();
  }
  return {};
}

std::string logger::v2_annotation(std::int64_t index) const {
  auto i = static_cast<std::uint64_t>(index);
  return opts_.v2.url + "/api/v2/" + entry_bundle_path(i / 256, 256) + "?logIndex=" + std::to_string(index);
}

boost::asio::awaitable<std::string> logger::get(std::string url, std::string what) {
  net::request req;
  req.url = std::move(url);
  req.timeout = std::chrono::milliseconds(10'000);
  auto r = co_await detail::send_retrying(http_, req, opts_.v2.attempts, opts_.v2.backoff_initial, opts_.v2.backoff_max);
  if (r.status != 200)
    throw tlog_error("GET " + req.url + " (" + what + "): HTTP " + std::to_string(r.status) + ": " + detail::log_message(r),
                     kind::retryable);
  co_return std::move(r.body);
}

boost::asio::awaitable<std::vector<verified_timestamp>> logger::stamp(const log_request& r, const signed_bytes& s) {
  const auto& tsa = *opts_.tsa;
  auto q = make_timestamp_query(s.signature);
  net::request req;
  req.method = "POST";
  req.url = tsa.url;
  req.headers = {{"Content-Type", "application/timestamp-query"}, {"Accept", "application/timestamp-reply"}};
  req.body = q.der;
  req.timeout = tsa.timeout;
  req.replayable = true;  // a second timestamp for the same signature is as good as the first
  auto resp = co_await detail::send_retrying(http_, req, tsa.attempts, tsa.backoff_initial, tsa.backoff_max);
  if (resp.status != 200 && resp.status != 201)
    throw tlog_error("POST " + tsa.url + " (timestamp): HTTP " + std::to_string(resp.status) + ": " +
                         detail::log_message(resp),
                     for_status(resp.status));
  verified_timestamp vt;
  try {
    vt = tsa_->verify(resp.body, s.signature, q);
  } catch (const verify_error& e) {
    throw tlog_error("timestamp authority " + tsa.url + ": " + e.what(), kind::retryable);
  }
  if (!r.cert_pem.empty()) {
    // Keyless: the signature must have been made while the short-lived certificate was valid,
    // and the timestamp is what proves when it was made.
    std::time_t from = 0, to = 0;
    try {
      auto certs = detail::load_certs(r.cert_pem);
      from = detail::cert_not_before(certs.front().get());
      to = detail::cert_not_after(certs.front().get());
    } catch (const verify_error& e) {
      throw tlog_error("signing certificate: " + std::string(e.what()), kind::permanent);
    }
    if (vt.gen_time < from || vt.gen_time > to)
      throw tlog_error("timestamp from " + tsa.url + " (" + utc(vt.gen_time) +
                           ") is outside the signing certificate's validity (" + utc(from) + " to " + utc(to) + ")",
                       kind::retryable);
  }
  count("chainsd_tlog_timestamps_total", "RFC 3161 timestamps obtained and verified");
  std::vector<verified_timestamp> out;
  out.push_back(std::move(vt));
  co_return out;
}

boost::asio::awaitable<v2_entry> logger::entry_from_tiles(std::int64_t index) {
  const auto& v2 = opts_.v2;
  auto deadline = std::chrono::steady_clock::now() + v2.checkpoint_wait;
  std::string note;
  checkpoint cp;
  const std::string checkpoint_url = v2.read_url + "/checkpoint";
  while (true) {
    note = co_await get(checkpoint_url, "checkpoint");
    try {
      cp = checkpoints_.verify(note, *v2_key_);
    } catch (const verify_error& e) {
      throw tlog_error("transparency log " + v2.url + " checkpoint: " + e.what(), kind::retryable);
    }
    if (static_cast<std::uint64_t>(index) < cp.size) break;
    // The log sequenced the entry but has not published a checkpoint covering it yet.
    if (std::chrono::steady_clock::now() >= deadline)
      throw tlog_error("transparency log " + v2.url + ": its checkpoint (size " + std::to_string(cp.size) +
                           ") does not cover entry " + std::to_string(index) + " it reported as existing",
                       kind::retryable);
    co_await runtime::sleep_for(std::chrono::milliseconds(500));
  }
  // Named values only across co_await (g++ 12 mishandles some temporaries in coroutines).
  tile_map tiles;
  const std::vector<tile_id> needed = tiles_for_inclusion(static_cast<std::uint64_t>(index), cp.size);
  for (const auto& t : needed) {
    std::string url = v2.read_url + "/" + tile_path(t);
    std::string bytes = co_await get(std::move(url), "tile");
    tiles[t] = std::move(bytes);
  }
  auto b = entry_bundle_for(static_cast<std::uint64_t>(index), cp.size);
  std::string bundle_url = v2.read_url + "/" + entry_bundle_path(b.index, b.width);
  std::string bundle = co_await get(std::move(bundle_url), "entry bundle");
  v2_entry e;
  e.log_index = index;
  e.log_id = v2_key_->id;
  e.kind = "hashedrekord";
  e.version = "0.0.2";
  e.checkpoint = note;
  try {
    e.hashes = inclusion_proof_from_tiles(static_cast<std::uint64_t>(index), cp.size, tiles);
    auto entries = parse_entry_bundle(bundle);
    auto at = static_cast<std::size_t>(index % 256);
    if (at >= entries.size())
      throw std::invalid_argument("entry bundle has " + std::to_string(entries.size()) + " entries, not entry " +
                                  std::to_string(index));
    e.body = entries[at];
  } catch (const std::invalid_argument& ex) {
    throw tlog_error("transparency log " + v2.url + " tiles: " + ex.what(), kind::retryable);
  }
  co_return e;
}

boost::asio::awaitable<logger::logged> logger::upload_v2(const log_request& r, const signed_bytes& s) {
  const auto& v2 = opts_.v2;
  const std::string& verifier = r.cert_pem.empty() ? r.public_key_pem : r.cert_pem;
  v2_request req;
  try {
    req = hashedrekord_v2_request(s.message_digest, s.signature, verifier);
  } catch (const unsupported_key_error& e) {
    throw tlog_error(unsupported_signer(r.signer_key, e.what()), kind::bad_config);
  } catch (const verify_error& e) {
    throw tlog_error("the signer's key or certificate: " + std::string(e.what()), kind::permanent);
  }
  net::request http_req;
  http_req.method = "POST";
  http_req.url = v2.url + "/api/v2/log/entries";
  http_req.headers = {{"Content-Type", "application/json"}, {"Accept", "application/json"}};
  http_req.body = req.json;
  http_req.timeout = v2.timeout;
  // A replay after a lost answer gets 409 with the entry's index, which we then prove from tiles.
  http_req.replayable = true;
  auto resp = co_await detail::send_retrying(http_, std::move(http_req), v2.attempts, v2.backoff_initial, v2.backoff_max);
  v2_entry e;
  if (resp.status == 201 || resp.status == 200) {
    try {
      e = parse_v2_entry(resp.body);
    } catch (const verify_error& ex) {
      throw tlog_error("POST " + v2.url + "/api/v2/log/entries: " + ex.what(), kind::retryable);
    }
  } else if (resp.status == 409) {
    // rekor-tiles: the entry exists, its index in x-log-index (no read-by-index API in v2).
    auto h = resp.header("x-log-index");
    std::int64_t dup = -1;
    auto [end, ec] = std::from_chars(h.data(), h.data() + h.size(), dup);
    if (h.empty() || ec != std::errc() || end != h.data() + h.size() || dup < 0)
      throw tlog_error("POST " + v2.url + "/api/v2/log/entries: 409 without a valid x-log-index header: " +
                           detail::log_message(resp),
                       kind::retryable);
    log::info("rekor v2 entry exists already; proving it from the log's tiles",
              {{"url", v2.url}, {"log_index", std::to_string(dup)}});
    e = co_await entry_from_tiles(dup);
  } else {
    throw tlog_error("POST " + v2.url + "/api/v2/log/entries: HTTP " + std::to_string(resp.status) + ": " +
                         detail::log_message(resp),
                     for_status(resp.status));
  }
  checkpoint cp;
  try {
    cp = verify_v2_entry(e, *v2_key_, req, checkpoints_);
  } catch (const verify_error& ex) {
    throw tlog_error("transparency log " + v2.url + " entry " + std::to_string(e.log_index) + ": " + ex.what(),
                     kind::retryable);
  }
  count("chainsd_tlog_v2_uploads_total", "Entries logged in a Rekor v2 log and verified");
  plugin::tlog_entry parsed;
  parsed.version = 2;
  parsed.log_index = e.log_index;
  parsed.log_id = to_hex(e.log_id);
  parsed.body_b64 = plugin::base64_encode(e.body);
  co_return logged{v2_entry_json(e, cp), e.log_index, std::move(parsed)};
}

boost::asio::awaitable<log_result> logger::log(log_request r) {
  signed_bytes s;
  s.dsse = !r.envelope_json.empty();
  if (s.dsse) {
    try {
      auto env = detail::parse_json(r.envelope_json, "dsse envelope");
      auto payload = detail::bytes_field(env, "payload", "dsse envelope");
      auto type = detail::str(env, "payloadType", "dsse envelope");
      const auto& sigs = detail::at(env, "signatures", "dsse envelope");
      if (!sigs.is_array() || sigs.get_array().empty()) throw verify_error("dsse envelope: no signatures");
      s.signature = detail::bytes_field(sigs.get_array()[0], "sig", "dsse envelope signature");
      s.message_digest = sha256(signing::pae(type, payload));
    } catch (const verify_error& e) {
      throw tlog_error(e.what(), kind::retryable);
    }
  } else {
    s.signature = r.signature;
    s.message_digest = sha256(r.payload);
  }

  log_result out;
  std::vector<verified_timestamp> stamps;
  if (timestamps()) stamps = co_await stamp(r, s);
  std::vector<std::string> ders;
  for (auto& t : stamps) ders.push_back(std::move(t.response_der));
  out.timestamps = ders.size();
  if (!stamps.empty()) out.first_timestamp = stamps.front().gen_time;

  const bool log_it = r.upload && opts_.version != 0;
  bundle_signer who{r.cert_pem, r.key_hint};
  if (log_it && opts_.version == 1) {
    const std::string& verifier = r.cert_pem.empty() ? r.public_key_pem : r.cert_pem;
    proposal prop;
    try {
      prop = s.dsse ? dsse_proposal(r.envelope_json, verifier) : hashedrekord_proposal(r.payload, r.signature, verifier);
    } catch (const verify_error& e) {
      throw tlog_error(e.what(), kind::retryable);  // as the reconciler classified it before
    }
    log_entry entry = co_await v1_->upload(std::move(prop));
    out.annotation = v1_->entry_url(entry.log_index);
    out.log_index = entry.log_index;
    out.log_version = 1;
    try {
      // Without timestamps exactly the bundle chainsd always wrote.
      if (ders.empty())
        out.bundle_json = s.dsse ? sigstore_bundle_dsse(entry, r.envelope_json, who)
                                 : sigstore_bundle_message_signature(entry, r.payload, r.signature, who);
      else
        out.bundle_json = sigstore_bundle({r.envelope_json, r.payload, r.signature}, who, {v1_tlog_entry_json(entry)}, ders);
    } catch (const std::exception& e) {
      throw tlog_error(e.what(), kind::retryable);
    }
    out.entry = plugin::tlog_entry{1, entry.log_index, entry.log_id, entry.body_b64, entry.integrated_time,
                                   entry.set_b64, entry.uuid};
    out.entry_json = std::move(entry.json);
    co_return out;
  }
  std::vector<std::string> entries;
  if (log_it) {
    logged l = co_await upload_v2(r, s);
    out.annotation = v2_annotation(l.index);
    out.log_index = l.index;
    out.log_version = 2;
    out.entry_json = l.entry_json;
    out.entry = std::move(l.parsed);
    entries.push_back(std::move(l.entry_json));
  }
  if (!entries.empty() || !ders.empty()) {
    try {
      // Made from the request only now: no copy of the envelope waits with the upload.
      out.bundle_json = sigstore_bundle({std::move(r.envelope_json), std::move(r.payload), std::move(r.signature)},
                                        who, entries, ders);
    } catch (const std::exception& e) {
      throw tlog_error(e.what(), kind::retryable);
    }
  }
  co_return out;
}

}  // namespace chainsd::tlog
