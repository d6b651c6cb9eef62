// [notify] webhook_url: where alerts are POSTed. Checked when the config is loaded, so a
// URL the notifier could not use stops the service at start with the reason.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace portcullis::app {

struct WebhookTarget {
  bool tls = false;
  std::string host;           // a name, an IPv4 address, or an IPv6 address without brackets
  std::uint16_t port = 0;
  std::string path;           // "/" when the URL has none; the query is kept
};

// "http://host[:port][/path]" or "https://…" (RFC 3986 §3). Throws std::invalid_argument,
// its message saying what is wrong and starting with "must" or "has", for anything else:
// another scheme, no host, a bad port, credentials (they would reach logs), spaces or
// control characters, a fragment.
WebhookTarget parse_webhook_url(std::string_view url);

}  // namespace portcullis::app
