#pragma once
// DSSE (Dead Simple Signing Envelope) as Tekton Chains writes it for in-toto payloads:
//   signed bytes = PAE(payloadType, payload) = "DSSEv1 <len(type)> <type> <len(payload)> <payload>"
//   envelope     = {"payloadType":"application/vnd.in-toto+json","payload":"<b64>",
//                   "signatures":[{"keyid":"SHA256:<ssh fingerprint>","sig":"<b64>"}]}
// (go-securesystemslib's Envelope marshalled with encoding/json: that key order, standard base64).

#include <chainsd/plugin/encoding.hpp>

#include <string>
#include <string_view>

namespace chainsd::signing {

inline constexpr std::string_view in_toto_payload_type = "application/vnd.in-toto+json";

std::string pae(std::string_view payload_type, std::string_view payload);

std::string envelope_json(std::string_view payload_type, std::string_view payload, std::string_view key_id,
                          std::string_view signature);

// Upstream's key id: golang.org/x/crypto/ssh FingerprintSHA256 of the public key,
// "SHA256:" + unpadded base64 of SHA-256 over the SSH wire encoding. Supports ECDSA P-256/384/521,
// Ed25519 and RSA. Throws std::invalid_argument for other keys or bad PEM.
std::string ssh_key_id(std::string_view public_key_pem);

using plugin::base64_decode;
using plugin::base64_encode;

}  // namespace chainsd::signing
