#include "app/cli/output.hpp"

#include <algorithm>
#include <ostream>

namespace portcullis::app {

std::string cell_text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return value.get<std::string>();
  if (value.is_boolean()) return value.get<bool>() ? "yes" : "no";
  if (value.is_array()) {
    std::string joined;
    for (const auto& v : value) joined += (joined.empty() ? "" : ",") + cell_text(v);
    return joined.empty() ? "-" : joined;
  }
  return value.dump();
}

void print_table(std::ostream& out, const nlohmann::json& rows, const std::vector<Column>& columns) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> widths;
  for (const auto& c : columns) widths.push_back(c.title.size());
  for (const auto& row : rows) {
    std::vector<std::string> line;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      line.push_back(row.contains(columns[i].field) ? cell_text(row[columns[i].field]) : "-");
      widths[i] = std::max(widths[i], line.back().size());
    }
    cells.push_back(std::move(line));
  }
  auto print_line = [&](const std::vector<std::string>& line) {
    for (std::size_t i = 0; i < line.size(); ++i) {
      out << line[i];
      if (i + 1 < line.size()) out << std::string(widths[i] - line[i].size() + 2, ' ');
    }
    out << '\n';
  };
  std::vector<std::string> titles;
  for (const auto& c : columns) titles.push_back(c.title);
  print_line(titles);
  for (const auto& line : cells) print_line(line);
  if (cells.empty()) out << "(none)\n";
}

std::string examples(std::initializer_list<const char*> commands) {
  std::string text = "Examples:";
  for (const char* command : commands) text += std::string("\n  ") + command;
  return text;
}

void print_record(std::ostream& out, const nlohmann::json& object) {
  std::size_t width = 0;
  for (const auto& [k, v] : object.items()) width = std::max(width, k.size());
  for (const auto& [k, v] : object.items()) {
    if (v.is_object() || (v.is_array() && !v.empty() && v.front().is_object())) continue;
    if (v.is_string() && v.get<std::string>().find('\n') != std::string::npos) continue;  // PEM blocks
    out << k << ':' << std::string(width - k.size() + 1, ' ') << cell_text(v) << '\n';
  }
}

}  // namespace portcullis::app
