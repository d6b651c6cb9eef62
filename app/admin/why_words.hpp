// What one decision event (docs/events.md) means and what to do next, in plain words: the
// sentences `portcullis why` (GET /api/v1/why/{target}) is made of.
#pragma once

#include "ca/event.hpp"
#include "ca/ledger/ledger.hpp"

#include <string>

namespace portcullis::app::why {

// A RADIUS outcome (kind radius). Reads the ledger for who revoked a certificate and why.
std::string radius_words(ca::Ledger& ledger, const ca::Event& e);

// A SCEP PKIOperation outcome (kind scep).
std::string scep_words(const ca::Event& e);

// A refused RadSec connection (kind radsec).
std::string radsec_words(const ca::Event& e);

// An RFC 5176 Disconnect/CoA outcome (kind dynauth).
std::string dynauth_words(const ca::Event& e);

// A datagram dropped before any conversation (kind nas).
std::string nas_words(const ca::Event& e);

// Any event, by its kind: the sentence the events list and the console show beside it.
std::string event_words(ca::Ledger& ledger, const ca::Event& e);

}  // namespace portcullis::app::why
