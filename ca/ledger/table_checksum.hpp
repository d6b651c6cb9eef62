// A checksum of a table's rows that means the same on SQLite and PostgreSQL, so that
// `ledger migrate` can show a copy is exact. Each row in primary-key order (text keys by
// bytes, as SQLite's BINARY and PostgreSQL's "C" collation order them) becomes one line of
// canonical text, and the checksum is the SHA-256 of all the lines:
//   fields in the table's column order, separated by a tab, the line ended by "\n";
//   NULL as \N; an integer (a boolean as 0 or 1) in decimal; text with backslash, tab,
//   newline and carriage return written \\, \t, \n, \r; bytes as \x and lowercase hex.
// Private to ca/.
#pragma once

#include "ca/x509.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace portcullis::ca {

class TableChecksum {
 public:
  TableChecksum();
  // One field of the current row, in column order; end_row() after the last.
  void add_null();
  void add_integer(std::int64_t value);
  void add_text(std::string_view value);
  void add_bytes(std::span<const std::uint8_t> value);
  void end_row();

  std::int64_t rows() const noexcept { return rows_; }
  // Lowercase hex SHA-256 of every row added; call once.
  std::string finish();

 private:
  void separate();   // the tab before every field but the first
  void field(std::string_view canonical);
  EvpMdCtxPtr ctx_;
  std::string line_;
  std::size_t fields_ = 0;   // of the current row
  std::int64_t rows_ = 0;
};

}  // namespace portcullis::ca
