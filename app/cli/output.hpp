// How admin commands print: aligned tables for people, the API's JSON for scripts.
#pragma once

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace portcullis::app {

struct Column {
  std::string title;
  std::string field;   // JSON key of each row
};

// One text cell from a JSON value: strings as is, arrays joined by ",", booleans yes/no.
std::string cell_text(const nlohmann::json& value);
void print_table(std::ostream& out, const nlohmann::json& rows, const std::vector<Column>& columns);
// "key: value" lines for one object (nested objects and arrays of objects skipped).
void print_record(std::ostream& out, const nlohmann::json& object);

// A --help footer: "Examples:" and one command a line, each runnable as printed
// (tests/integration/test_printed_commands.py runs them).
std::string examples(std::initializer_list<const char*> commands);

}  // namespace portcullis::app
