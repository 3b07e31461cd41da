#pragma once
// One signature into the transparency log, and its offline-verifiable form: in-toto statements go
// in as their DSSE envelope (a dsse entry), simplesigning payloads as a signed hash (hashedrekord).
// The entry is verified by the client (body, SET, inclusion proof, checkpoint) before it is used.
//
// Ownership: the client is borrowed for the call. Errors: tlog_error (client.hpp).

#include "tlog/client.hpp"

#include <boost/asio/awaitable.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace chainsd::tlog {

struct log_request {
  std::string payload;        // the signed payload (simplesigning) / the statement (dsse)
  bool dsse = false;
  std::string envelope_json;  // dsse
  std::string signature_der;  // raw signature
  std::string verifier_pem;   // the public key, or the Fulcio certificate when keyless
  std::string cert_pem;       // Fulcio leaf (bundle verification material), else empty
  std::string key_id;         // DSSE key id (bundle public-key hint), else empty
};

struct log_result {
  std::string annotation;   // chains.tekton.dev/transparency: the entry's URL, as upstream writes it
  std::int64_t log_index = 0;
  std::string entry_json;   // the log's entry (what storage backends receive)
  std::string bundle_json;  // Sigstore bundle v0.3 holding the signature and this entry
  std::size_t bytes() const { return annotation.size() + entry_json.size() + bundle_json.size(); }
};

// A transparency log as the reconciler's log step sees it. Implementations verify what the log
// returns before they return it, and throw tlog_error (permanent() when asking again cannot help).
class transparency_log {
 public:
  virtual ~transparency_log() = default;
  virtual boost::asio::awaitable<log_result> log(log_request r) = 0;
};

// Rekor v1 (upstream's): dsse / hashedrekord entries through `client`.
class rekor_v1_log final : public transparency_log {
 public:
  explicit rekor_v1_log(std::unique_ptr<client> c) : client_(std::move(c)) {}
  boost::asio::awaitable<log_result> log(log_request r) override;
  client& rekor() { return *client_; }

 private:
  std::unique_ptr<client> client_;
};

}  // namespace chainsd::tlog
