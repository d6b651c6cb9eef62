// Counters for every outcome and every reason a datagram is dropped (RFC 2865 §3, RFC 3579
// §3.2 and RFC 5080 §2.2.2 all say "silently discard": silent to the peer, never to the
// operator). Lock-free; read by the admin API at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace portcullis::radius {

#define PORTCULLIS_RADIUS_COUNTERS(X)                                                                    \
  X(received)                       /* every datagram handed to the server */                          \
  X(unknown_nas)                    /* source address in no NAS prefix */                              \
  X(malformed_truncated)            /* shorter than the header or its Length */                        \
  X(malformed_bad_length)           /* Length outside 20..4096 */                                      \
  X(malformed_bad_attribute)        /* attribute walk failed */                                        \
  X(unexpected_code)                /* a code this socket does not serve */                            \
  X(missing_message_authenticator)  /* BlastRADIUS: required but absent */                             \
  X(invalid_message_authenticator)                                                                     \
  X(duplicate_in_progress)          /* RFC 5080: retransmission while we work on it */                 \
  X(duplicate_resent)               /* RFC 5080: cached reply sent again */                            \
  X(status_server)                  /* RFC 5997 answered */                                            \
  X(access_challenge)                                                                                  \
  X(access_accept)                                                                                     \
  X(access_reject)                                                                                     \
  X(policy_reject)                  /* EAP-TLS succeeded, a policy rule rejected */                   \
  X(unknown_state)                  /* State we never issued or that expired */                        \
  X(sessions_evicted)                /* table at its bound: longest-idle one dropped   */                 \
  X(eap_evicted_nas_cap)            /* NAS at its cap: its longest-idle conversation dropped */        \
  X(eap_evicted_budget)             /* memory budget spent: longest-idle conversation dropped */       \
  X(eap_refused_nas_cap)            /* new conversation refused: its NAS holds its cap */             \
  X(eap_refused_budget)             /* new conversation refused: memory budget spent */                \
  X(eap_not_consecutive)            /* EAP-Message attributes interleaved (RFC 3579 §3.1) */           \
  X(eap_discard)                    /* EAP layer silently discarded (RFC 3748 §4.1) */                 \
  X(not_eap)                        /* Access-Request without EAP-Message: only EAP-TLS is offered */  \
  X(reply_too_large)                /* would exceed 4096 octets */                                     \
  X(internal_error)                                                                                    \
  X(acct_bad_authenticator)         /* RFC 2866 §3 Request Authenticator wrong */                      \
  X(acct_start)                                                                                        \
  X(acct_interim)                                                                                      \
  X(acct_stop)                                                                                         \
  X(acct_other)                     /* Accounting-On/Off and other status types */                     \
  X(acct_linked)                    /* record tied to a certificate serial */                          \
  X(acct_unlinked)                                                                                     \
  X(acct_store_failed)              /* RFC 2866 §2: not recorded, so not answered */                   \
  X(acct_sessions_expired)          /* live session closed: silent too long, or pushed out by the bound */ \
  X(ledger_queue_full)              /* a ledger write refused: the writer's queue was full */          \
  X(ledger_write_failed)            /* a queued ledger write failed on the writer thread */            \
  X(acct_response)                                                                                     \
  X(send_failed)

struct Counters {
#define PORTCULLIS_DECLARE_COUNTER(name) std::atomic<std::uint64_t> name{0};
  PORTCULLIS_RADIUS_COUNTERS(PORTCULLIS_DECLARE_COUNTER)
#undef PORTCULLIS_DECLARE_COUNTER

  // Every counter by name, in declaration order.
  std::vector<std::pair<std::string_view, std::uint64_t>> snapshot() const {
    std::vector<std::pair<std::string_view, std::uint64_t>> out;
#define PORTCULLIS_READ_COUNTER(name) out.emplace_back(#name, name.load(std::memory_order_relaxed));
    PORTCULLIS_RADIUS_COUNTERS(PORTCULLIS_READ_COUNTER)
#undef PORTCULLIS_READ_COUNTER
    return out;
  }
};

inline void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) {
  if (by != 0) counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace portcullis::radius
