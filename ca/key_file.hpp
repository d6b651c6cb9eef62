// Reading a private key file, refused when anyone but its owner may read or write it
// (the rule OpenSSH applies to identity files): a key others can read may already be
// copied, and one others can write may be replaced by theirs, so starting with it would
// hide the problem instead of reporting it.
#pragma once

#include <string>

namespace portcullis::ca {

// The bytes of the private key file at `path`. Throws std::runtime_error naming the file
// when it cannot be read, is not a regular file, or has any group/other permission bit
// set; that message says how to fix it (chmod 600). The mode is checked on the open file
// itself (fstat), so the file checked is the file read.
std::string read_private_key_file(const std::string& path);

}  // namespace portcullis::ca
