#pragma once
// Where AWS credentials come from, in the AWS SDKs' order (the parts a controller uses):
// 1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), read once;
// 2. web identity (IRSA): AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE (+ AWS_ROLE_SESSION_NAME),
//    exchanged with STS AssumeRoleWithWebIdentity (endpoint AWS_ENDPOINT_URL_STS, else
//    AWS_ENDPOINT_URL, else https://sts.<region>.amazonaws.com); the token file is re-read at
//    each exchange, the credentials are renewed 5 minutes before they expire (one exchange in
//    flight however many signatures wait) and dropped when AWS says they are no longer valid;
// 3. the container credentials endpoint (ECS, EKS Pod Identity): AWS_CONTAINER_CREDENTIALS_FULL_URI
//    (http only to loopback or 169.254.170.2/.23, as the SDKs allow) or 169.254.170.2 +
//    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, with Authorization from
//    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read each time) or AWS_CONTAINER_AUTHORIZATION_TOKEN;
//    renewed like web-identity credentials.

#include "flight.hpp"
#include "sigv4.hpp"

#include <chainsd/plugin/host.hpp>

#include <memory>
#include <optional>
#include <string>

namespace signer_kms {

struct web_identity {
  std::string role_arn;
  std::string token_file;
  std::string session_name;
  std::string sts_url;  // scheme://authority, no path
};

struct container_endpoint {
  std::string url;
  std::string token;       // AWS_CONTAINER_AUTHORIZATION_TOKEN
  std::string token_file;  // AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (wins)
};

class credential_source {
 public:
  credential_source(chainsd::plugin::host& h, std::string region, std::optional<aws_credentials> fixed,
                    std::optional<web_identity> web, std::optional<container_endpoint> container = std::nullopt);

  // From the environment; bad_config naming the variables when there are none.
  static chainsd::plugin::result<std::unique_ptr<credential_source>> from_env(chainsd::plugin::host& h,
                                                                              const std::string& region);

  boost::asio::awaitable<chainsd::plugin::result<aws_credentials>> get();
  // AWS rejected the credentials: temporary ones are fetched again next time.
  void invalidate();
  bool temporary() const { return web_.has_value() || container_.has_value(); }
  std::string describe() const;

 private:
  bool fresh() const;
  boost::asio::awaitable<chainsd::plugin::result<void>> renew();
  boost::asio::awaitable<chainsd::plugin::result<aws_credentials>> assume_role();
  boost::asio::awaitable<chainsd::plugin::result<aws_credentials>> from_container();

  chainsd::plugin::host& host_;
  std::string region_;
  std::optional<aws_credentials> current_;
  std::optional<web_identity> web_;
  std::optional<container_endpoint> container_;
  flight flight_;
};

}  // namespace signer_kms
