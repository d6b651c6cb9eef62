// The devices table: a device is what holds certificates and what an operator enables,
// disables and groups.
#pragma once

#include "ca/records.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace portcullis::ca {

struct DeviceFilter {
  std::string search;               // substring of name, display name or owner; empty = all
  std::optional<bool> enabled;
  std::optional<std::string> group;   // in this group (exact name)
  // Normalised (aa:bb:cc:dd:ee:ff): the Calling-Station-Id of one of its decision events, or
  // of an accounting session of one of its certificates (in any of the usual spellings).
  std::optional<std::string> mac;
  std::optional<std::string> serial;  // canonical uppercase hex: one of its certificates
  std::size_t limit = 1000;
  std::size_t offset = 0;
};

// Devices by id or name; every change writes its audit row in the same transaction.
class DeviceStore {
 public:
  virtual ~DeviceStore() = default;

  virtual Device create_device(const NewDevice& device, const std::string& actor) = 0;   // LedgerConflict on duplicate name
  virtual std::optional<Device> find_device(std::int64_t id) = 0;
  virtual std::optional<Device> find_device_by_name(const std::string& name) = 0;
  // By id; `limit` and `offset` page the result.
  virtual std::vector<Device> list_devices(const DeviceFilter& filter) = 0;
  // How many devices match `filter` (its limit and offset ignored).
  virtual std::size_t count_devices(const DeviceFilter& filter) = 0;
  // Returns the device after the change; LedgerNotFound for an unknown id.
  virtual Device set_device_enabled(std::int64_t id, bool enabled, const std::string& actor) = 0;
  // Replaces the device's groups with `groups` (duplicates dropped), audited as
  // "device.groups" with the old and new lists; nothing is written when they are the same.
  // LedgerNotFound for an unknown id, LedgerConflict for an invalid group name.
  virtual Device set_device_groups(std::int64_t id, const std::vector<std::string>& groups,
                                   const std::string& actor) = 0;
  // Bulk read for the in-memory index at start-up.
  virtual void for_each_device(const std::function<void(const Device&)>& fn) = 0;
};

}  // namespace portcullis::ca
