#pragma once
// One page of a list, read as a stream and split item by item (list_splitter.hpp): the page's
// size never has to fit in memory, only one item (max_item_bytes). The adaptive page size lives
// with the caller (watcher.cpp relist): a refused page, a failed read or one past max_page_bytes
// is asked again with the same continue token and half the limit.

#include "kube/client.hpp"
#include "kube/list_splitter.hpp"

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <string>

namespace chainsd::kube {

struct page_limits {
  std::size_t max_page_bytes = 64u << 20;  // stop reading a page past this (the caller halves)
  std::size_t max_item_bytes = 32u << 20;  // an item over this is skipped (on_oversize)
  std::chrono::milliseconds idle_timeout{30'000};  // no byte of the body within this: failure
};

struct list_page {
  enum class end { complete, refused, over_budget };
  end how = end::complete;
  result refused;             // how == refused: the status and (the first 64 KiB of) its body
  std::chrono::milliseconds retry_after{-1};
  list_meta meta;             // how == complete: resourceVersion, continue token, items
  std::size_t bytes = 0;      // body bytes read
  std::size_t items = 0;      // items handed out (or skipped as oversize) before the end
};

// Transport failures throw net::http_error; malformed JSON throws json_error.
boost::asio::awaitable<list_page> read_list_page(client& c, resource r, std::string ns, list_options o,
                                                 page_limits limits, list_splitter::item_fn on_item,
                                                 list_splitter::oversize_fn on_oversize);

// The limit to ask next after a page of `limit` that ended `how` having read `bytes` bytes in
// `items` items: half, and halved again while the observed bytes per item say it would still
// pass max_page_bytes. Never below 1.
unsigned smaller_limit(unsigned limit, const list_page& page, std::size_t max_page_bytes);

}  // namespace chainsd::kube
