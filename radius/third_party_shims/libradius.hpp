// The one way C++ code in Portcullis includes libfreeradius-radius (Debian 3.2.1).
// Only radius/dictionary.cpp (production) and the differential tests (the oracle)
// include this; the hot wire path never does (docs/architecture.md, "The RADIUS
// dictionary and libfreeradius").
//
// The headers are C, not C++-clean, so:
//  - ATTR_FLAGS has a bit-field named `virtual` and fr_cursor_replace() a parameter
//    named `new`: both keywords are renamed while the headers are read;
//  - libradius.h uses RCSIDH() before including build.h, which defines it: build.h first;
//  - regex.h would pull in <pcre.h> (libpcre3-dev) for types that libradius.h never
//    uses: its include guard is pre-defined so it is skipped;
//  - autoconf.h includes <freeradius/automask.h>, which the package does not ship:
//    an empty stub lives next to this file (third_party_shims/freeradius/automask.h).
// CMake adds the shim folder and /usr/include/freeradius as SYSTEM include dirs so the
// library's own warnings do not count against -Wall -Wextra -Wpedantic.
#pragma once

extern "C" {
#define virtual virtual_
#define new new_
#define REGEX_H
#include <freeradius/build.h>
#include <freeradius/libradius.h>
#undef REGEX_H
#undef new
#undef virtual
}
