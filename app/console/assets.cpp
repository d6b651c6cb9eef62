#include "app/console/assets.hpp"

namespace portcullis::app::console {

const Asset* find_asset(std::string_view name) {
  for (const Asset& asset : embedded_assets())
    if (asset.name == name) return &asset;
  return nullptr;
}

}  // namespace portcullis::app::console
