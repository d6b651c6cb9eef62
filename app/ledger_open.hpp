// Opens the ledger the configuration names: the embedded SQLite file, or the PostgreSQL
// database several nodes share ([ledger] backend, docs/configuration.md).
#pragma once

#include "app/config.hpp"
#include "ca/ledger/change_follower.hpp"
#include "ca/ledger/ledger.hpp"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace portcullis::app {

// The PostgreSQL password comes from `password_file` (its first line) or, when that is
// empty, from libpq's own PGPASSFILE / ~/.pgpass; it never appears in a message.
// The first line of a PostgreSQL password file; throws for a missing or empty one.
std::string read_ledger_password(const std::string& file);

// Where the PostgreSQL ledger of `settings` is, with the password read from its file.
ca::PostgresLedgerOptions postgres_options(const LedgerSettings& settings);

std::unique_ptr<ca::Ledger> open_ledger(const LedgerSettings& settings, ca::CommitObserver* commits = nullptr);

// What the follower reports beyond the index (ca::ChangeFollowerSettings): revocations and
// device changes other nodes committed. Empty: none.
struct FollowedChanges {
  std::function<void(const std::vector<ca::CertificateRecord>&)> revoked;
  std::function<void(const ca::Device&)> device;
};

// Follows the changes other nodes commit to a shared ledger into `index`, logging loudly
// while the ledger cannot be read (RADIUS then decides from the index as it stands).
std::unique_ptr<ca::ChangeFollower> follow_ledger(ca::Ledger& ledger, ca::ChangeFeed& feed, ca::IdentityIndex& index,
                                                  std::int64_t from, FollowedChanges observers = {});

// Where the ledger is, for messages: the file, or the PostgreSQL url (which holds no
// password: the config loader and the ledger refuse one there).
std::string ledger_location(const LedgerSettings& settings);

}  // namespace portcullis::app
