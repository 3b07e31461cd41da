#pragma once
// The PKCS#11 signer (signers.kms.kmsref pkcs11:…, an RFC 7512 URI): a hardware or software token
// reached through its PKCS#11 module. PKCS#11 calls block, so they run on ONE worker thread owned
// by the signer (the module loaded, the session opened and logged in, the key pair found on the
// first sign; every sign a CKM_ECDSA over the SHA-256 digest, r||s converted to DER and verified
// with the public key there); each result is posted back to the host's executor.

#include "pkcs11_uri.hpp"

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/signer.hpp>

#include <memory>

namespace signer_kms {

// `what` names the key in messages (the URI without its PIN).
std::unique_ptr<chainsd::plugin::signer> make_pkcs11_signer(chainsd::plugin::host& h, pkcs11_uri uri, std::string what);

}  // namespace signer_kms
