#pragma once
// The reconciler's log step: one call per signature that logs it (Rekor v1 or Rekor v2, as the
// config chose), timestamps it (RFC 3161, when a timestamp authority is configured), verifies
// everything the services answered, and returns what the run and its storage need: the
// transparency annotation, the entry, and the Sigstore bundle v0.3.
//
//   Rekor v1  : POST /api/v1/log/entries (dsse 0.0.1 / hashedrekord 0.0.1), 409 -> the entry;
//               SET, inclusion proof and checkpoint checked (client.hpp). Byte-identical to what
//               chainsd wrote before the logger existed: annotation, entry JSON, bundle.
//   Rekor v2  : POST /api/v2/log/entries (hashedrekord 0.0.2; DSSE as SHA-256 of its PAE). The
//               log answers once a checkpoint covers the entry (about a second), so many uploads
//               are in flight at once; 409 -> the proof is computed from the log's tiles.
//   timestamps: POST <tsa> (application/timestamp-query) over SHA-256 of the signature, verified
//               against the configured TSA chains at genTime (keyless: genTime inside the Fulcio
//               certificate's validity). Taken BEFORE the upload, so a failing TSA leaves no
//               log entry behind. Required with v2 (config), optional with v1, or alone.
//
// Ownership: borrows the http_client (must outlive the logger); one logger per config snapshot,
// shared by the runs that use it. All calls on the client's executor (one thread).
// Cancellation: passes through to the HTTP requests (a cancelled log() throws a retryable
// tlog_error). Memory: a waiting upload holds its request (~2 KB) and one HTTP exchange.
// Errors: tlog_error, classified: retryable (transport, 5xx/429 after retries, a log or TSA answer
// that does not verify), permanent (4xx), bad_config (e.g. a key Rekor v2 refuses: the message
// names transparency.version and the request's signer key).

#include "chainsd/plugin/storage.hpp"
#include "tlog/bundle.hpp"
#include "tlog/client.hpp"
#include "tlog/note.hpp"
#include "tlog/rekor_v2.hpp"
#include "tlog/timestamp.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::net {
class http_client;
}

namespace chainsd::tlog {

struct log_request {
  // In-toto (DSSE): the envelope exactly as stored; its first signature is logged and stamped.
  std::string envelope_json;
  // Simplesigning (when envelope_json is empty): the signed payload and the raw signature.
  std::string payload;
  std::string signature;
  // The signer: its public key PEM, and its Fulcio certificate PEM when keyless (the
  // certificate is then the verifier the log records and the bundle carries).
  std::string public_key_pem;
  std::string cert_pem;
  // The bundle's publicKey.hint when there is no certificate: the DSSE keyid for in-toto,
  // "" for simplesigning (what chainsd's bundles have always carried).
  std::string key_hint;
  // Whether to write to the transparency log (transparency.enabled, and in "manual" mode the
  // run's chains.tekton.dev/transparency-upload annotation). Timestamps are taken either way.
  bool upload = true;
  // The chains-config key that chose the signer ("artifacts.taskrun.signer"), for messages.
  std::string signer_key;
};

struct log_result {
  // chains.tekton.dev/transparency: v1 "<url>/api/v1/log/entries?logIndex=N" (upstream's);
  // v2 "<url>/api/v2/tile/entries/<bundle path>?logIndex=N" (README). Empty when not logged.
  std::string annotation;
  // store_request.rekor_entry_json: v1 {"<uuid>": {...}} as Rekor returned it; v2 the verified
  // TransparencyLogEntry (protobuf JSON). Empty when not logged.
  std::string entry_json;
  // store_request.log_entry: the entry's fields, as verified here. version 0 when not logged.
  plugin::tlog_entry entry;
  // store_request.sigstore_bundle_json: the bundle with what was obtained. Empty when nothing
  // was (neither logged nor timestamped): the reconciler then stores sigstore_bundle_unlogged().
  std::string bundle_json;
  std::int64_t log_index = -1;
  int log_version = 0;            // 1, 2, or 0 when not logged
  std::size_t timestamps = 0;     // RFC 3161 timestamps in the bundle
  std::time_t first_timestamp = 0;  // genTime of the first one
};

struct v2_options {
  std::string url;                // the log (write) URL, e.g. https://log2025-1.rekor.sigstore.dev
  std::string read_url;           // its tiles (C2SP prefix); empty: <url>/api/v2
  std::string origin;             // checkpoint origin = note key name; empty: url without scheme
  std::string public_key_pem;     // the log's checkpoint key
  // From a trusted root (logId / checkpointKeyId, raw bytes): must be the computed key ID or its
  // 4-byte prefix. Empty: not checked.
  std::string expected_log_id;
  std::chrono::milliseconds timeout{30'000};  // per upload (the log holds it until a checkpoint)
  int attempts = 4;
  std::chrono::milliseconds backoff_initial{500};
  std::chrono::milliseconds backoff_max{5'000};
  // A 409 whose index the published checkpoint does not cover yet: how long to wait for it.
  std::chrono::milliseconds checkpoint_wait{10'000};
};

struct tsa_options {
  std::string url;                 // full URL, e.g. https://timestamp.sigstore.dev/api/v1/timestamp
  std::vector<std::string> chain_pems;  // one chain per trusted TSA
  std::chrono::milliseconds timeout{10'000};
  int attempts = 4;
  std::chrono::milliseconds backoff_initial{200};
  std::chrono::milliseconds backoff_max{3'000};
};

struct logger_options {
  int version = 0;                     // 0: no log (timestamps only), 1, 2
  client_options v1;                   // version 1
  v2_options v2;                       // version 2
  std::optional<tsa_options> tsa;      // none: no timestamps
  // Where the settings came from, named in bad_config messages: "transparency.version" or
  // "transparency.signing-config".
  std::string version_key = "transparency.version";
};

// What the reconciler's log step needs of a logger (its tests substitute their own).
class transparency_log {
 public:
  virtual ~transparency_log() = default;
  // True when log(r) would do anything for a request with this `upload` flag.
  virtual bool wants(bool upload) const = 0;
  // The log's URL, for messages ("" when timestamps only).
  virtual const std::string& log_url() const = 0;
  // Throws tlog_error.
  virtual boost::asio::awaitable<log_result> log(log_request r) = 0;
};

class logger final : public transparency_log {
 public:
  // Throws std::invalid_argument naming the key for unusable options (a bad key or chain).
  logger(net::http_client& http, logger_options opts);
  ~logger();
  logger(const logger&) = delete;
  logger& operator=(const logger&) = delete;

  int log_version() const { return opts_.version; }
  bool timestamps() const { return opts_.tsa.has_value(); }
  // True when log(r) would do anything for a request with this `upload` flag.
  bool wants(bool upload) const override { return (upload && opts_.version != 0) || timestamps(); }
  const std::string& log_url() const override;

  // See the file comment. Throws tlog_error.
  boost::asio::awaitable<log_result> log(log_request r) override;

  // Empty when signatures by `public_key_pem` can be logged; else the bad_config message log()
  // would throw (Rekor v2 and a pure Ed25519 or P-384 key), naming `signer_key`. For reporting
  // at config time (plugin set, `chainsd config check`) instead of at the first run.
  std::string signer_problem(std::string_view public_key_pem, std::string_view signer_key) const;

  // The annotation value for a v2 entry at `index` (see log_result::annotation).
  std::string v2_annotation(std::int64_t index) const;

 private:
  struct signed_bytes;
  struct logged {
    std::string entry_json;
    std::int64_t index = -1;
    plugin::tlog_entry parsed;
  };
  // Steps of log(): they borrow its request, which outlives them (log() awaits each in place).
  boost::asio::awaitable<std::vector<verified_timestamp>> stamp(const log_request& r, const signed_bytes& s);
  boost::asio::awaitable<logged> upload_v2(const log_request& r, const signed_bytes& s);
  boost::asio::awaitable<v2_entry> entry_from_tiles(std::int64_t index);
  boost::asio::awaitable<std::string> get(std::string url, std::string what);
  std::string unsupported_signer(std::string_view signer_key, std::string_view why) const;

  net::http_client& http_;
  logger_options opts_;
  std::unique_ptr<client> v1_;
  std::optional<note_key> v2_key_;
  checkpoint_cache checkpoints_;
  std::unique_ptr<timestamp_verifier> tsa_;
};

}  // namespace chainsd::tlog
