// The console's files (index.html, app.js, app.css), built by esbuild at build time and
// compiled into the binary by embed_assets.cmake: nothing is read from disk or fetched at
// run time. Empty when the build was configured with -DPORTCULLIS_CONSOLE=OFF.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace portcullis::app::console {

struct Asset {
  std::string_view name;          // "index.html", "app.js", "app.css"
  std::string_view content_type;  // with charset
  std::span<const std::uint8_t> bytes;
  std::string_view etag;          // quoted strong validator: the file's SHA-256 (RFC 9110 §8.8.3)
};

std::span<const Asset> embedded_assets();  // generated console_assets.cpp
const Asset* find_asset(std::string_view name);

}  // namespace portcullis::app::console
