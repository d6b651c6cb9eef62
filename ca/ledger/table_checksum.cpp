#include "ca/ledger/table_checksum.hpp"

#include "ca/hex.hpp"

#include <openssl/evp.h>

namespace portcullis::ca {

TableChecksum::TableChecksum() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr) != 1) throw OpenSslError("EVP_DigestInit_ex");
}

void TableChecksum::separate() {
  if (fields_++ != 0) line_ += '\t';
}

void TableChecksum::field(std::string_view canonical) {
  separate();
  line_ += canonical;
}

void TableChecksum::add_null() {
  // A field that is empty text must differ from NULL; "\N" cannot be text's form, whose
  // backslashes are doubled.
  field("\\N");
}

void TableChecksum::add_integer(std::int64_t value) { field(std::to_string(value)); }

void TableChecksum::add_text(std::string_view value) {
  separate();
  for (char c : value) {
    switch (c) {
      case '\\': line_ += "\\\\"; break;
      case '\t': line_ += "\\t"; break;
      case '\n': line_ += "\\n"; break;
      case '\r': line_ += "\\r"; break;
      default: line_ += c;
    }
  }
}

void TableChecksum::add_bytes(std::span<const std::uint8_t> value) { field("\\x" + to_lower_hex(value)); }

void TableChecksum::end_row() {
  line_ += '\n';
  if (EVP_DigestUpdate(ctx_.get(), line_.data(), line_.size()) != 1) throw OpenSslError("EVP_DigestUpdate");
  line_.clear();
  fields_ = 0;
  ++rows_;
}

std::string TableChecksum::finish() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), digest, &length) != 1) throw OpenSslError("EVP_DigestFinal_ex");
  return to_lower_hex(std::span<const std::uint8_t>(digest, length));
}

}  // namespace portcullis::ca
