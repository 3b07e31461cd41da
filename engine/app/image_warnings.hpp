#pragma once
// Image results a run reports that Chains would skip without a word (upstream logs them at error
// level in the controller, not where the user looks): an IMAGE_DIGEST that is not sha256:<64 hex>,
// an *IMAGE_DIGEST without its *IMAGE_URL, an IMAGES entry that is not repo@sha256:<hex>. One
// message per problem, naming the result; `chainsd payload` prints them as warnings.

#include "provenance/run_view.hpp"

#include <string>
#include <vector>

namespace chainsd::app {

std::vector<std::string> image_result_warnings(const provenance::run_view& run);

}  // namespace chainsd::app
