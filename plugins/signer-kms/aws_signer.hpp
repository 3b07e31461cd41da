#pragma once
// The AWS KMS signer (awskms://[ENDPOINT]/ID|ALIAS|ARN). The first sign() calls GetPublicKey (one
// call however many runs wait; a failure is tried again by the next sign()), which gives the
// public key and the signing algorithm (the key's first, as sigstore); every signature is a Sign
// with MessageType DIGEST, SigV4-signed, and verified against that key before it is returned.

#include "aws_credentials.hpp"

#include <chainsd/plugin/host.hpp>
#include <chainsd/plugin/signer.hpp>

#include <memory>
#include <string>

namespace signer_kms {

struct aws_options {
  std::string url;   // scheme://authority of the KMS endpoint
  std::string host;  // authority, as signed
  std::string region;
  std::string key;   // as in the kmsref (id, alias/NAME or ARN): sent as KeyId
  std::unique_ptr<credential_source> credentials;
};

std::unique_ptr<chainsd::plugin::signer> make_aws_signer(chainsd::plugin::host& h, aws_options opt);

}  // namespace signer_kms
