// CRL publishing (RFC 5280 §5): one CRL signed by the issuing CA, with a CRL number from
// the ledger, regenerated on each revocation and before nextUpdate.
#pragma once

#include "ca/authority.hpp"
#include "ca/ledger/certificates.hpp"

#include <memory>
#include <mutex>
#include <string>

namespace portcullis::ca {

struct CrlSettings {
  int validity_hours = 24;          // nextUpdate = thisUpdate + this
  int refresh_before_hours = 12;    // regenerate when nextUpdate is nearer than this
};

struct PublishedCrl {
  Bytes der;
  std::string pem;
  std::int64_t number = 0;
  UnixTime this_update = 0;
  UnixTime next_update = 0;
};

class CrlPublisher {
 public:
  CrlPublisher(const Authority& authority, CertificateStore& ledger, CrlSettings settings);

  // Builds and signs a new CRL from the ledger's revocations. Thread-safe. Throws
  // OpenSslError or LedgerError and keeps the previous CRL when that fails.
  void regenerate(UnixTime now);
  // Regenerates when none exists yet or nextUpdate is within refresh_before_hours.
  void refresh_if_due(UnixTime now);
  // Never blocks on signing: a published CRL is immutable, only the pointer is swapped.
  std::shared_ptr<const PublishedCrl> current() const;

 private:
  // Both: the caller holds generate_mutex_.
  PublishedCrl build(UnixTime now);
  void publish_locked(UnixTime now);

  const Authority& authority_;
  CertificateStore& ledger_;
  CrlSettings settings_;
  std::mutex generate_mutex_;          // one CRL built at a time: numbers are published in order
  mutable std::mutex mutex_;           // guards current_ only
  std::shared_ptr<const PublishedCrl> current_;
};

}  // namespace portcullis::ca
