#pragma once
// RFC 3161 timestamps over signatures (what a Sigstore bundle's
// timestampVerificationData.rfc3161Timestamps carries): the TimeStampReq we POST to a timestamp
// authority (sigstore/timestamp-authority: POST /api/v1/timestamp, application/timestamp-query)
// and the verification of its TimeStampResp with OpenSSL's TS API before anyone trusts it.
// Pure: the logger does the HTTP.

#include "tlog/entry.hpp"
#include "tlog/pkey.hpp"

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

namespace chainsd::tlog {

struct timestamp_query {
  // TimeStampReq: v1, SHA-256 imprint of the data, random 64-bit nonce. certReq stays false (as
  // sigstore-go asks): the answer then carries no certificate, which is smaller in every bundle
  // and ~5x cheaper to parse; the signing certificate comes from the configured chain, as
  // verifiers take it from the trusted root.
  std::string der;
  std::string nonce;  // the nonce's big-endian bytes
};

// A query over SHA-256(`data`): for Sigstore, `data` is the raw signature bytes.
timestamp_query make_timestamp_query(std::string_view data);

struct verified_timestamp {
  std::time_t gen_time = 0;  // the TSA's genTime (seconds)
  std::string response_der;  // the TimeStampResp as received (what bundles store)
};

// The TSAs we trust: one certificate chain each (PEM, leaf first as /api/v1/timestamp/certchain
// serves it and trusted_root.json lists it, the last certificate the trust anchor). The chain
// must hold the signing certificate unless the answers carry it.
class timestamp_verifier {
 public:
  // Throws verify_error when a chain has no readable certificate.
  explicit timestamp_verifier(const std::vector<std::string>& chain_pems);

  // Verifies `response_der` as the answer to `q` over `data`: status granted, a TSTInfo whose
  // imprint is SHA-256(data) and whose nonce is q's, signed (CMS, with the ESS signing-certificate
  // attribute) by a certificate for time stamping that chains to one of the trusted roots AT
  // genTime (so genTime lies inside every certificate's validity). Throws verify_error naming
  // what failed.
  verified_timestamp verify(std::string_view response_der, std::string_view data, const timestamp_query& q) const;

  std::size_t authorities() const { return chains_.size(); }
  // Tokens verified through the cache of already-verified signing certificates (tests, metrics).
  std::size_t fast_verifications() const { return fast_; }

 private:
  struct chain {
    detail::x509_ptr root;
    std::vector<detail::x509_ptr> untrusted;  // leaf and intermediates
  };
  // A signing certificate whose chain to a trusted root OpenSSL verified (at some genTime): its
  // later tokens need only the checks that depend on the token (data, ESS binding, CMS
  // signature), as long as their genTime lies where the whole chain is valid. The chain walk
  // and its two signature checks are most of a verification's cost (~0.5 ms).
  struct known_signer {
    std::string der;
    detail::x509_ptr cert;  // kept: its decoded key serves every later token
    std::time_t valid_from = 0, valid_to = 0;  // every certificate of the verified path is valid
  };
  bool verify_known(void* resp, void* req, const known_signer& k, std::time_t gen_time) const;

  std::vector<chain> chains_;
  mutable std::vector<known_signer> known_;  // a few: one per TSA certificate in use
  mutable std::size_t fast_ = 0;
};

// The genTime of a TimeStampResp without verifying it (tests, messages). Throws verify_error.
std::time_t timestamp_gen_time(std::string_view response_der);

}  // namespace chainsd::tlog
